//! Every access decision: what a principal may read or change in an
//! organization, decided from its standing there (its membership, read from
//! the database on every request) and the one permission table.

use super::live_events::MembershipEvent;
use super::members::{self, Membership};
use super::principal::Principal;
use super::{DomainError, Permission, Role};
use crate::db::Conn;

/// What can be read of an organization, and what each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    /// The organization itself: its name, slug, owner.
    Organization,
    Members,
    /// The pool, the seat inventory, and other members' credits and seats.
    Billing,
    AuditLog,
    Invitations,
    ServiceKeys,
    WebhookEndpoints,
    /// Members' requests for credits, which the readers decide on.
    CreditRequests,
}

impl Readable {
    /// The permission that reading needs; None: any member may.
    fn permission(self) -> Option<Permission> {
        match self {
            Readable::Organization => None,
            Readable::Members => Some(Permission::ViewMembers),
            Readable::Billing => Some(Permission::ViewBilling),
            Readable::CreditRequests => Some(Permission::UpdateMembers),
            Readable::AuditLog | Readable::Invitations => Some(Permission::ManageMembers),
            Readable::ServiceKeys | Readable::WebhookEndpoints => {
                Some(Permission::ManageOrganization)
            }
        }
    }
}

/// What a service key may do in its organization: read it, its members
/// and their billing, and so check its users' permissions.
pub const SERVICE_KEY_PERMISSIONS: &[Permission] =
    &[Permission::ViewBilling, Permission::ViewMembers];

/// A principal's standing in one organization.
#[derive(Debug, Clone)]
pub enum Standing {
    /// Not a member: the organization does not exist for them.
    Outsider,
    Member(Membership),
    /// A service key of this organization.
    Service,
}

impl Standing {
    pub fn of(membership: Option<Membership>) -> Standing {
        membership.map_or(Standing::Outsider, Standing::Member)
    }

    /// The standing of `principal` in `organization_id`, given its
    /// membership there (a user's; a key has none).
    pub fn of_principal(
        principal: &Principal,
        organization_id: i64,
        membership: Option<Membership>,
    ) -> Standing {
        match principal {
            Principal::User { .. } => Standing::of(membership),
            Principal::ServiceKey {
                organization_id: own,
                ..
            } if *own == organization_id => Standing::Service,
            Principal::ServiceKey { .. } => Standing::Outsider,
        }
    }

    pub fn membership(&self) -> Option<&Membership> {
        match self {
            Standing::Member(membership) => Some(membership),
            Standing::Outsider | Standing::Service => None,
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.membership().map(|m| m.role)
    }

    /// The permissions held here, in the table's order.
    pub fn permissions(&self) -> Vec<Permission> {
        match self {
            Standing::Member(membership) => membership.role.permissions(),
            Standing::Service => SERVICE_KEY_PERMISSIONS.to_vec(),
            Standing::Outsider => Vec::new(),
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Standing::Member(membership) => membership.role.can(permission),
            Standing::Service => SERVICE_KEY_PERMISSIONS.contains(&permission),
            Standing::Outsider => false,
        }
    }

    /// Whether the organization exists for this principal at all.
    pub fn sees_organization(&self) -> bool {
        !matches!(self, Standing::Outsider)
    }

    /// Succeeds if `permission` is held. Someone who is not a member learns
    /// nothing, not even that the organization exists.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        match self {
            Standing::Outsider => Err(DomainError::NotFound("organization")),
            _ if self.can(permission) => Ok(()),
            _ => Err(DomainError::MissingPermission(permission)),
        }
    }

    /// Succeeds if `what` may be read.
    pub fn may_read(&self, what: Readable) -> Result<(), DomainError> {
        match what.permission() {
            Some(permission) => self.require(permission),
            None if self.sees_organization() => Ok(()),
            None => Err(DomainError::NotFound("organization")),
        }
    }

    /// A credit request is the asker's own business and its deciders'.
    pub fn sees_request_of(&self, user_id: i64) -> bool {
        self.membership()
            .is_some_and(|mine| mine.user_id == user_id)
            || self.may_read(Readable::CreditRequests).is_ok()
    }

    /// Credits and seat are the member's own business and billing's.
    pub fn sees_billing_of(&self, member: &Membership) -> bool {
        self.membership().is_some_and(|mine| mine.id == member.id)
            || self.can(Permission::ViewBilling)
    }
}

/// Whether a principal's subscription to an organization's live events goes
/// on after `event`: it ends with the event that ends the principal's access.
pub fn keeps_watching(principal: &Principal, event: &MembershipEvent) -> bool {
    // A key watches until it is revoked, which closes its connections.
    principal.user_id() != Some(event.user_id)
        || event
            .role()
            .is_some_and(|role| role.can(Permission::ViewMembers))
}

/// The actor's membership of the organization, if it grants `permission`.
pub async fn authorize(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor_id: i64,
    permission: Permission,
) -> Result<Membership, DomainError> {
    let mine = members::of_user_in(tx, actor_id, &[organization_id])
        .await?
        .pop();
    Standing::of(mine.clone()).require(permission)?;
    mine.ok_or(DomainError::NotFound("organization"))
}

/// [`authorize`] for an action on `what` of the organization: to someone
/// outside it, `what` does not exist.
pub async fn authorize_on(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor_id: i64,
    permission: Permission,
    what: &'static str,
) -> Result<Membership, DomainError> {
    match authorize(tx, organization_id, actor_id, permission).await {
        Err(DomainError::NotFound(_)) => Err(DomainError::NotFound(what)),
        other => other,
    }
}

/// Locks the member `member_id` and checks that the actor may act on it with
/// `permission`.
pub async fn lock_member_for(
    tx: &mut Conn<'_>,
    member_id: i64,
    actor_id: i64,
    permission: Permission,
) -> Result<Membership, DomainError> {
    let target = members::lock(tx, member_id).await?;
    authorize_on(tx, target.organization_id, actor_id, permission, "member").await?;
    Ok(target)
}

/// Whether the principal may see the user `user_id`: themselves, someone
/// they share an organization with, or for a key, a member of its own.
pub async fn sees_user(
    conn: &mut Conn<'_>,
    principal: &Principal,
    user_id: i64,
) -> Result<bool, DomainError> {
    match *principal {
        Principal::User { user_id: own, .. } if own == user_id => Ok(true),
        Principal::User { user_id: own, .. } => {
            members::share_an_organization(conn, own, user_id).await
        }
        Principal::ServiceKey {
            organization_id, ..
        } => Ok(!members::of_user_in(conn, user_id, &[organization_id])
            .await?
            .is_empty()),
    }
}
