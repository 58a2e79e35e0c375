//! The business rules: plain async functions over a database connection that
//! return typed errors, and every access decision. Nothing here knows about
//! GraphQL or HTTP.

pub mod access;
mod account_mail;
mod account_settings;
mod account_tokens;
pub mod accounts;
pub mod addresses;
pub mod attempts;
pub mod audit;
pub mod bulk_invitations;
mod changes;
pub mod credits;
mod error;
pub mod identities;
pub mod invitations;
pub mod lease_queue;
pub mod live_events;
mod mail_text;
pub mod members;
pub mod organizations;
pub mod outbox;
pub mod pagination;
pub mod password_changes;
mod passwords;
pub mod permission_checks;
pub mod principal;
pub mod recorder;
pub mod removal;
pub mod role_changes;
mod roles;
pub mod seats;
pub mod service_keys;
pub mod sessions;
pub mod stored_addresses;
mod text;
mod text_enum;
pub mod tokens;
pub mod users;
pub mod webhooks;

pub use error::DomainError;
pub use passwords::hash as hash_password;
pub use roles::{PERMISSION_TABLE, Permission, Role, SeatTier, permission_table_markdown};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored: UTC, truncated to the microseconds that
/// PostgreSQL keeps, so both backends store and compare the same value.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
