//! Membership events: what a change did to one member, produced by the
//! transaction that made the change and published once it commits.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::members::Membership;
use super::{Permission, Role};

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
