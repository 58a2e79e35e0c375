//! Live events: what a change did to one member, or the end of a session,
//! staged by the transaction that made it and published once it commits.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::members::Membership;
use super::{DomainError, Permission, Role};
use crate::db::{self, Conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipEventKind {
    Joined,
    RoleChanged,
    Removed,
    CreditsChanged,
    SeatChanged,
    OwnershipTransferred,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipEvent {
    pub kind: MembershipEventKind,
    pub organization_id: i64,
    pub user_id: i64,
    /// The membership after the change; None after removal.
    pub member: Option<Membership>,
    pub previous_role: Option<Role>,
    pub actor_id: Option<i64>,
    pub at: NaiveDateTime,
}

impl MembershipEvent {
    /// An event about `member` as it is after the change.
    pub fn about(kind: MembershipEventKind, member: &Membership, actor_id: i64) -> Self {
        MembershipEvent {
            kind,
            organization_id: member.organization_id,
            user_id: member.user_id,
            member: Some(member.clone()),
            previous_role: None,
            actor_id: Some(actor_id),
            at: super::now(),
        }
    }

    pub fn with_previous_role(mut self, role: Role) -> Self {
        self.previous_role = Some(role);
        self
    }

    /// The member's removal: no membership, no permissions.
    pub fn removed(member: &Membership, actor_id: i64) -> Self {
        MembershipEvent {
            member: None,
            previous_role: Some(member.role),
            ..Self::about(MembershipEventKind::Removed, member, actor_id)
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.member.as_ref().map(|m| m.role)
    }

    /// The member's permissions after the change; none after removal.
    pub fn permissions(&self) -> Vec<Permission> {
        self.role().map(Role::permissions).unwrap_or_default()
    }
}

/// What the event bus carries between transactions and subscriptions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LiveEvent {
    /// Shared, not copied, by every subscription that sends it.
    Membership(Arc<MembershipEvent>),
    /// A session ended (log-out): its live connections close.
    SessionEnded { session_id: i64 },
}

impl From<MembershipEvent> for LiveEvent {
    fn from(event: MembershipEvent) -> Self {
        LiveEvent::Membership(Arc::new(event))
    }
}

impl LiveEvent {
    /// The event as a notification's text.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("live events serialize")
    }

    pub fn from_payload(payload: &str) -> Result<LiveEvent, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

/// Stages an event in the caller's write transaction: it is published if,
/// and when, the transaction commits.
pub async fn stage(tx: &mut Conn<'_>, event: impl Into<LiveEvent>) -> Result<(), DomainError> {
    Ok(db::notify(tx, event.into().to_payload()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SeatTier, now};

    fn member() -> Membership {
        Membership {
            id: i64::MAX,
            organization_id: i64::MAX,
            user_id: i64::MAX,
            role: Role::Manager,
            credits: i32::MAX,
            seat: SeatTier::Standard,
            joined_at: now(),
        }
    }

    /// NOTIFY payloads are limited to 8000 bytes; an event has no free text,
    /// so even the largest stays far below (no overflow path is needed).
    #[test]
    fn the_largest_event_fits_a_notify_payload() {
        let event = MembershipEvent::about(
            MembershipEventKind::OwnershipTransferred,
            &member(),
            i64::MAX,
        )
        .with_previous_role(Role::Admin);
        let payload = LiveEvent::from(event).to_payload();
        assert!(payload.len() < 1000, "{} bytes: {payload}", payload.len());
    }

    #[test]
    fn payloads_round_trip() {
        let event = LiveEvent::from(MembershipEvent::removed(&member(), 9));
        let LiveEvent::Membership(back) = LiveEvent::from_payload(&event.to_payload()).unwrap()
        else {
            panic!("a membership event");
        };
        assert_eq!(back.kind, MembershipEventKind::Removed);
        assert_eq!(back.actor_id, Some(9));
        assert!(back.permissions().is_empty());
    }
}
