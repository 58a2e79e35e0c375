//! What a change is, in the words the audit log and webhooks share: its
//! action names and who it was about.

use chrono::NaiveDateTime;
use serde_json::Value;

use super::Role;
use super::members::Membership;

/// Every action the audit log records: the event types of webhooks too.
pub const ACTIONS: &[&str] = &[
    "organization.created",
    "organization.updated",
    "credits.added",
    "credits.distributed",
    "credits.reclaimed",
    "seats.limits_set",
    "seat.assigned",
    "member.invited",
    "member.reinvited",
    "member.invitation_resent",
    "member.invitation_revoked",
    "member.bulk_invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "member.left",
    "ownership.transferred",
    "service_key.created",
    "service_key.revoked",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.deleted",
];

/// Who a change was about: a member, or just an address.
pub enum Target<'a> {
    Nobody,
    /// A member as the change left them (a removed one: as they were).
    Member {
        member: &'a Membership,
        /// Their user's address, when the caller has it at hand.
        email: Option<&'a str>,
        /// The role the change moved them from.
        previous_role: Option<Role>,
    },
    Email(&'a str),
}

impl<'a> Target<'a> {
    pub fn member(member: &'a Membership) -> Target<'a> {
        Target::Member {
            member,
            email: None,
            previous_role: None,
        }
    }

    pub fn with_previous_role(self, role: Role) -> Target<'a> {
        match self {
            Target::Member { member, email, .. } => Target::Member {
                member,
                email,
                previous_role: Some(role),
            },
            other => other,
        }
    }

    pub fn with_email(self, address: &'a str) -> Target<'a> {
        match self {
            Target::Member {
                member,
                previous_role,
                ..
            } => Target::Member {
                member,
                email: Some(address),
                previous_role,
            },
            other => other,
        }
    }
}

/// A recorded change, as webhooks describe it.
pub struct Change<'a> {
    pub organization_id: i64,
    pub actor_id: i64,
    pub action: &'static str,
    pub target: &'a Target<'a>,
    pub target_email: Option<&'a str>,
    pub details: &'a Value,
    pub at: NaiveDateTime,
}
