//! What a change is, in the words the audit log and webhooks share: its
//! action and who it was about (`recorder` records it).

use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use serde_json::Value;

use super::Role;
use super::members::Membership;
use super::text_enum::text_enum;

/// Every action the audit log records: the event types of webhooks too.
/// Their names are the wire's (audit log, webhooks), kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum Action {
    OrganizationCreated,
    OrganizationUpdated,
    CreditsAdded,
    CreditsDistributed,
    CreditsReclaimed,
    SeatLimitsSet,
    SeatAssigned,
    MemberInvited,
    MemberReinvited,
    InvitationResent,
    InvitationRevoked,
    MembersBulkInvited,
    MemberJoined,
    MemberRoleChanged,
    MemberRemoved,
    MemberLeft,
    OwnershipTransferred,
    ServiceKeyCreated,
    ServiceKeyRevoked,
    WebhookEndpointCreated,
    WebhookEndpointUpdated,
    WebhookEndpointDeleted,
    CreditsSpent,
    CreditsHeld,
    CreditsSettled,
    CreditsReleased,
    CreditsExpired,
    CreditRequestCreated,
    CreditRequestApproved,
    CreditRequestDeclined,
    CreditRequestCancelled,
}

text_enum!(Action {
    OrganizationCreated = "organization.created",
    OrganizationUpdated = "organization.updated",
    CreditsAdded = "credits.added",
    CreditsDistributed = "credits.distributed",
    CreditsReclaimed = "credits.reclaimed",
    SeatLimitsSet = "seats.limits_set",
    SeatAssigned = "seat.assigned",
    MemberInvited = "member.invited",
    MemberReinvited = "member.reinvited",
    InvitationResent = "member.invitation_resent",
    InvitationRevoked = "member.invitation_revoked",
    MembersBulkInvited = "member.bulk_invited",
    MemberJoined = "member.joined",
    MemberRoleChanged = "member.role_changed",
    MemberRemoved = "member.removed",
    MemberLeft = "member.left",
    OwnershipTransferred = "ownership.transferred",
    ServiceKeyCreated = "service_key.created",
    ServiceKeyRevoked = "service_key.revoked",
    WebhookEndpointCreated = "webhook_endpoint.created",
    WebhookEndpointUpdated = "webhook_endpoint.updated",
    WebhookEndpointDeleted = "webhook_endpoint.deleted",
    CreditsSpent = "credits.spent",
    CreditsHeld = "credits.held",
    CreditsSettled = "credits.settled",
    CreditsReleased = "credits.released",
    CreditsExpired = "credits.expired",
    CreditRequestCreated = "credit_request.created",
    CreditRequestApproved = "credit_request.approved",
    CreditRequestDeclined = "credit_request.declined",
    CreditRequestCancelled = "credit_request.cancelled",
});

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(i64),
    /// One of the product's services, by its key.
    ServiceKey(i64),
    /// orgql itself: a hold that expired.
    Orgql,
}

impl From<i64> for Actor {
    fn from(user_id: i64) -> Actor {
        Actor::User(user_id)
    }
}

impl Actor {
    pub fn user_id(self) -> Option<i64> {
        match self {
            Actor::User(id) => Some(id),
            Actor::ServiceKey(_) | Actor::Orgql => None,
        }
    }

    pub fn service_key_id(self) -> Option<i64> {
        match self {
            Actor::ServiceKey(id) => Some(id),
            Actor::User(_) | Actor::Orgql => None,
        }
    }
}

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

/// A change as it was recorded (its target's address found, its time
/// set), as webhooks describe it.
pub struct Recorded<'a> {
    pub organization_id: i64,
    pub actor: Actor,
    pub action: Action,
    pub target: &'a Target<'a>,
    pub target_email: Option<&'a str>,
    pub details: &'a Value,
    pub at: NaiveDateTime,
}
