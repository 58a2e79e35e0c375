//! The schema's object types, one file per family: thin wrappers over
//! domain values whose related objects come from the request's DataLoaders,
//! and whose access is decided by the domain.

mod audit;
mod billing;
mod connection;
mod credits;
mod enums;
mod invitation;
mod member;
mod membership_event;
mod node;
mod organization;
mod permission_check;
mod service_key;
mod user;
mod viewer;
mod webhook;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use audit::AuditEvent;
pub use billing::{CreditPool, SeatInventory};
pub use connection::Connection;
pub use credits::{
    CreditHold, CreditHoldStatus, CreditLedgerEntry, CreditRequest, CreditRequestStatus,
};
pub use enums::{
    AssignableRole, InvitationStatus, MemberOrder, MembershipEventKind, Permission, Role, SeatTier,
};
pub use invitation::{Invitation, InvitationPreview};
pub use member::Member;
pub use membership_event::MembershipEvent;
pub use node::Node;
pub use organization::Organization;
pub use permission_check::{PermissionCheckInput, PermissionCheckResult};
pub use service_key::ServiceKey;
pub use user::User;
pub use viewer::Viewer;
pub use webhook::{WebhookDelivery, WebhookEndpoint};

pub type MemberConnection = Connection<Member>;
pub type AuditEventConnection = Connection<AuditEvent>;
pub type InvitationConnection = Connection<Invitation>;
pub type ServiceKeyConnection = Connection<ServiceKey>;
pub type WebhookEndpointConnection = Connection<WebhookEndpoint>;
pub type WebhookDeliveryConnection = Connection<WebhookDelivery>;
pub type CreditLedgerEntryConnection = Connection<CreditLedgerEntry>;
pub type CreditHoldConnection = Connection<CreditHold>;
pub type CreditRequestConnection = Connection<CreditRequest>;

/// A stored timestamp as the API's DateTime (stored times are UTC).
pub fn timestamp(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}
