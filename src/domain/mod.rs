//! The business rules: plain async functions over a database connection that
//! return typed errors. Nothing here knows about GraphQL or HTTP.

pub mod audit;
pub mod bulk_invitations;
pub mod credits;
mod error;
pub mod events;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod outbox;
pub mod pagination;
pub mod removal;
pub mod role_changes;
mod roles;
pub mod seats;
pub mod users;

pub use error::DomainError;
pub use roles::{PERMISSION_TABLE, Permission, Role, SeatTier, permission_table_markdown};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time as stored: UTC, truncated to the microseconds that
/// PostgreSQL keeps, so both backends store and compare the same value.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
