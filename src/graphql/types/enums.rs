//! The schema's enums and the one input object of orders, each mirroring
//! the domain's own type.

use async_graphql::{Enum, InputObject};

use crate::domain;
use crate::domain::members;

/// Owner is held by exactly one member (the creator, until ownership is transferred) and is never assignable.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Role")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Member,
}

/// What a role allows. The table role -> permissions is fixed in the server and printed in the README.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Permission")]
pub enum Permission {
    /// Rename the organization, change its settings. OWNER, ADMIN.
    ManageOrganization,
    /// Top up the credit pool, set seat limits. OWNER, ADMIN.
    ManageBilling,
    /// See the pool balance, the seat inventory, and others' credits and seats. OWNER, ADMIN, MANAGER.
    ViewBilling,
    /// Invite, bulk invite, revoke and resend invitations, edit roles, remove members. OWNER, ADMIN.
    ManageMembers,
    /// Per-member overrides: distribute and reclaim credits, assign seats. OWNER, ADMIN, MANAGER.
    UpdateMembers,
    /// See the member directory. Every role.
    ViewMembers,
    /// Devices, jobs, projects. OWNER, ADMIN, MANAGER.
    ManageResources,
    /// Hand the organization to another member. OWNER.
    TransferOwnership,
}

/// The client's form of a list of the domain's permissions.
pub fn permissions(permissions: Vec<domain::Permission>) -> Vec<Permission> {
    permissions.into_iter().map(Into::into).collect()
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::SeatTier")]
pub enum SeatTier {
    None,
    Standard,
    Pro,
}

/// The roles an admin may give.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AssignableRole {
    Admin,
    Manager,
    Member,
}

impl From<AssignableRole> for domain::Role {
    fn from(role: AssignableRole) -> Self {
        match role {
            AssignableRole::Admin => domain::Role::Admin,
            AssignableRole::Manager => domain::Role::Manager,
            AssignableRole::Member => domain::Role::Member,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::members::MemberOrderField")]
pub enum MemberOrderField {
    JoinedAt,
    Email,
    Name,
    Role,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OrderDirection {
    Asc,
    Desc,
}

#[derive(InputObject, Clone, Copy)]
pub struct MemberOrder {
    pub field: MemberOrderField,
    pub direction: OrderDirection,
}

impl From<MemberOrder> for members::MemberOrder {
    fn from(order: MemberOrder) -> Self {
        members::MemberOrder {
            field: order.field.into(),
            descending: order.direction == OrderDirection::Desc,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::invitations::InvitationStatus")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    /// A pending invitation past its expiry.
    Expired,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::live_events::MembershipEventKind")]
pub enum MembershipEventKind {
    Joined,
    RoleChanged,
    Removed,
    CreditsChanged,
    SeatChanged,
    OwnershipTransferred,
}
