//! The schema's object types: thin wrappers over domain values whose
//! related objects come from the request's DataLoaders.

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, Interface, Object, OutputType, Result,
    SimpleObject,
};
use chrono::{DateTime, Utc};

use super::context;
use super::ids::{self, Kind};
use crate::db::{BoxedWork, boxed_work};
use crate::domain::members::{
    self, MemberFilter, MemberOrderField as DomainOrderField, Membership,
};
use crate::domain::pagination::{Page, PageArgs};
use crate::domain::{
    self, DomainError, Permission as DomainPermission, audit, credits, invitations, seats,
};

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

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::SeatTier")]
pub enum SeatTier {
    None,
    Standard,
    Pro,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
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
        let field = match order.field {
            MemberOrderField::JoinedAt => DomainOrderField::JoinedAt,
            MemberOrderField::Email => DomainOrderField::Email,
            MemberOrderField::Name => DomainOrderField::Name,
            MemberOrderField::Role => DomainOrderField::Role,
        };
        members::MemberOrder {
            field,
            descending: order.direction == OrderDirection::Desc,
        }
    }
}

/// Reads one page of a connection and, only if the client selected
/// totalCount (which may cost a count), its total, on one connection.
async fn page_and_total<T: Send + 'static>(
    ctx: &Context<'_>,
    page: BoxedWork<Page<T>>,
    total: BoxedWork<i64>,
) -> Result<(Page<T>, i64)> {
    let wants_total = ctx.look_ahead().field("totalCount").exists();
    let read = context(ctx).db.read(move |c| {
        Box::pin(async move {
            let page = page(c).await?;
            let total = if wants_total { total(c).await? } else { 0 };
            Ok((page, total))
        })
    });
    Ok(read.await?)
}

pub fn timestamp(at: chrono::NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

fn permissions_of(role: domain::Role) -> Vec<Permission> {
    role.permissions().into_iter().map(Into::into).collect()
}

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    Organization(Organization),
    Member(Member),
    AuditEvent(AuditEvent),
    Invitation(Invitation),
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

/// An invitation to join an organization, as its managers see it.
#[derive(Clone)]
pub struct Invitation(pub invitations::Invitation);

#[Object]
impl Invitation {
    async fn id(&self) -> ID {
        ids::encode(Kind::Invitation, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let organization = Organization::visible(ctx, self.0.organization_id).await?;
        Ok(organization.ok_or(DomainError::NotFound("organization"))?)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn status(&self) -> InvitationStatus {
        self.0.status().into()
    }
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(inviter) = self.0.invited_by else {
            return Ok(None);
        };
        Ok(context(ctx)
            .loaders
            .users
            .load_one(inviter)
            .await?
            .map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.0.expires_at)
    }
}

/// What the holder of an invitation token may see before accepting.
pub struct InvitationPreview(pub invitations::Preview);

#[Object]
impl InvitationPreview {
    async fn organization_name(&self) -> &str {
        &self.0.organization_name
    }
    async fn email(&self) -> &str {
        &self.0.invitation.email
    }
    async fn role(&self) -> Role {
        self.0.invitation.role.into()
    }
    async fn invited_by_name(&self) -> Option<&str> {
        self.0.invited_by_name.as_deref()
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.0.invitation.expires_at)
    }
    async fn status(&self) -> InvitationStatus {
        self.0.invitation.status().into()
    }
    /// Whether an account exists for this email: the client shows log in, or sign up first.
    async fn account_exists(&self) -> bool {
        self.0.account_exists
    }
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

/// total = available + distributed, always.
pub struct CreditPool(pub credits::CreditPool);

#[Object]
impl CreditPool {
    /// Credits in the pool, not given to any member.
    async fn available(&self) -> i32 {
        self.0.available
    }
    /// Credits held by members.
    async fn distributed(&self) -> i32 {
        self.0.distributed
    }
    async fn total(&self) -> i32 {
        i32::try_from(self.0.total()).unwrap_or(i32::MAX)
    }
}

#[derive(SimpleObject)]
pub struct SeatCount {
    pub limit: i32,
    pub assigned: i32,
}

pub struct SeatInventory(pub seats::SeatInventory);

#[Object]
impl SeatInventory {
    async fn standard(&self) -> SeatCount {
        SeatCount {
            limit: self.0.standard.limit,
            assigned: self.0.standard.assigned,
        }
    }
    async fn pro(&self) -> SeatCount {
        SeatCount {
            limit: self.0.pro.limit,
            assigned: self.0.pro.assigned,
        }
    }
}

/// One change, as the audit log recorded it.
#[derive(Clone)]
pub struct AuditEvent(pub audit::AuditEvent);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.0.id)
    }
    /// e.g. member.invited, member.role_changed, member.removed, credits.distributed
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor_id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(context(ctx)
            .loaders
            .users
            .load_one(actor_id)
            .await?
            .map(User))
    }
    async fn target_email(&self) -> Option<&str> {
        self.0.target_email.as_deref()
    }
    /// JSON text.
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    async fn at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
}

#[derive(Clone)]
pub struct User(pub domain::users::User);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
}

impl User {
    pub async fn load(ctx: &Context<'_>, id: i64) -> Result<User> {
        let user = context(ctx).loaders.users.load_one(id).await?;
        Ok(User(user.ok_or(DomainError::NotFound("user"))?))
    }
}

/// An organization, as one of its members sees it.
#[derive(Clone)]
pub struct Organization {
    pub organization: domain::organizations::Organization,
    /// The viewer's own membership; None right after they left or were removed.
    pub viewer: Option<Membership>,
}

impl Organization {
    /// The organization if the viewer is one of its members, else None:
    /// outsiders cannot tell it from one that does not exist.
    pub async fn visible(ctx: &Context<'_>, id: i64) -> Result<Option<Organization>> {
        let loaders = &context(ctx).loaders;
        let Some(viewer) = loaders.viewer_memberships.load_one(id).await? else {
            return Ok(None);
        };
        let organization = loaders.organizations.load_one(id).await?;
        Ok(organization.map(|organization| Organization {
            organization,
            viewer: Some(viewer),
        }))
    }

    /// The organization as a mutation left it, with the viewer's membership
    /// read afresh (the mutation may have changed or ended it).
    pub async fn after_change(
        ctx: &Context<'_>,
        organization: domain::organizations::Organization,
    ) -> Result<Organization> {
        let loaders = &context(ctx).loaders;
        loaders.forget_all();
        let viewer = loaders.viewer_memberships.load_one(organization.id).await?;
        Ok(Organization {
            organization,
            viewer,
        })
    }

    fn require(&self, permission: DomainPermission) -> Result<(), DomainError> {
        members::require(self.viewer.clone(), permission).map(drop)
    }
}

#[Object]
impl Organization {
    async fn id(&self) -> ID {
        ids::encode(Kind::Organization, self.organization.id)
    }
    async fn name(&self) -> &str {
        &self.organization.name
    }
    async fn slug(&self) -> &str {
        &self.organization.slug
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.organization.created_at)
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<Member> {
        let owner = context(ctx)
            .loaders
            .owners
            .load_one(self.organization.id)
            .await?;
        Ok(Member(owner.ok_or(DomainError::NotFound("owner"))?))
    }
    /// The viewer's role here.
    async fn viewer_role(&self) -> Option<Role> {
        self.viewer.as_ref().map(|m| m.role.into())
    }
    /// What the viewer may do here, read from the database on every request.
    async fn viewer_permissions(&self) -> Vec<Permission> {
        self.viewer
            .as_ref()
            .map(|m| permissions_of(m.role))
            .unwrap_or_default()
    }

    /// Paginated members. role filters, query matches email or name (case-insensitive).
    #[allow(clippy::too_many_arguments)]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        role: Option<Role>,
        query: Option<String>,
        order_by: Option<MemberOrder>,
    ) -> Result<MemberConnection> {
        self.require(DomainPermission::ViewMembers)?;
        let filter = MemberFilter {
            role: role.map(Into::into),
            query,
        };
        let order = order_by.map(Into::into).unwrap_or_default();
        let page_args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let (organization, counted) = (self.organization.clone(), filter.clone());
        let (page, total) = page_and_total(
            ctx,
            boxed_work(move |c| {
                Box::pin(async move {
                    members::list(c, organization.id, &filter, order, &page_args).await
                })
            }),
            boxed_work(move |c| {
                Box::pin(async move { members::count(c, &organization, &counted).await })
            }),
        )
        .await?;
        context(ctx)
            .loaders
            .users
            .feed_many(
                page.edges
                    .iter()
                    .map(|(_, (_, user))| (user.id, user.clone())),
            )
            .await;
        Ok(Connection::new(
            page.map(|(membership, _)| Member(membership)),
            total,
        ))
    }

    /// The credit pool. Requires VIEW_BILLING.
    async fn credit_pool(&self) -> Result<CreditPool> {
        self.require(DomainPermission::ViewBilling)?;
        Ok(CreditPool(credits::CreditPool::of(&self.organization)))
    }

    /// Seat limits and assignments. Requires VIEW_BILLING.
    async fn seats(&self) -> Result<SeatInventory> {
        self.require(DomainPermission::ViewBilling)?;
        Ok(SeatInventory(seats::SeatInventory::of(&self.organization)))
    }

    /// Every change to membership, roles, invitations, credits and seats. Requires MANAGE_MEMBERS. Newest first.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AuditEventConnection> {
        self.require(DomainPermission::ManageMembers)?;
        let page_args = PageArgs {
            first,
            after,
            last: None,
            before: None,
        };
        let organization_id = self.organization.id;
        let (page, total) = page_and_total(
            ctx,
            boxed_work(move |c| {
                Box::pin(async move { audit::list(c, organization_id, &page_args).await })
            }),
            boxed_work(move |c| Box::pin(audit::count(c, organization_id))),
        )
        .await?;
        Ok(Connection::new(page.map(AuditEvent), total))
    }

    /// Invitations, newest first. Requires MANAGE_MEMBERS.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<InvitationStatus>,
    ) -> Result<InvitationConnection> {
        self.require(DomainPermission::ManageMembers)?;
        let page_args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let organization_id = self.organization.id;
        let status = status.map(Into::into);
        let (page, total) = page_and_total(
            ctx,
            boxed_work(move |c| {
                Box::pin(
                    async move { invitations::list(c, organization_id, status, &page_args).await },
                )
            }),
            boxed_work(move |c| Box::pin(invitations::count(c, organization_id, status))),
        )
        .await?;
        Ok(Connection::new(page.map(Invitation), total))
    }

    /// The membership of one user, if they are a member.
    async fn member(&self, ctx: &Context<'_>, user_id: ID) -> Result<Option<Member>> {
        self.require(DomainPermission::ViewMembers)?;
        let user_id = ids::decode(&user_id, Kind::User)?;
        let organization_id = self.organization.id;
        let found = context(ctx)
            .db
            .read(move |c| {
                Box::pin(async move { members::of_user_in(c, user_id, &[organization_id]).await })
            })
            .await?;
        Ok(found.into_iter().next().map(Member))
    }
}

/// A user's membership of an organization: their role, and what it holds.
#[derive(Clone)]
pub struct Member(pub Membership);

impl Member {
    /// Credits and seat are the member's own business and billing's. The
    /// viewer's own membership of the organization decides.
    async fn viewer_sees_billing(&self, ctx: &Context<'_>) -> Result<bool> {
        let mine = context(ctx)
            .loaders
            .viewer_memberships
            .load_one(self.0.organization_id)
            .await?;
        Ok(mine.is_some_and(|m| m.id == self.0.id || m.role.can(DomainPermission::ViewBilling)))
    }
}

#[Object]
impl Member {
    async fn id(&self) -> ID {
        ids::encode(Kind::Member, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        let organization = Organization::visible(ctx, self.0.organization_id).await?;
        Ok(organization.ok_or(DomainError::NotFound("organization"))?)
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.0.user_id).await
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn permissions(&self) -> Vec<Permission> {
        permissions_of(self.0.role)
    }
    /// Null unless the viewer is this member or holds VIEW_BILLING.
    async fn credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(self
            .viewer_sees_billing(ctx)
            .await?
            .then_some(self.0.credits))
    }
    /// Null unless the viewer is this member or holds VIEW_BILLING.
    async fn seat(&self, ctx: &Context<'_>) -> Result<Option<SeatTier>> {
        Ok(self
            .viewer_sees_billing(ctx)
            .await?
            .then_some(self.0.seat.into()))
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        timestamp(self.0.joined_at)
    }
}

/// The signed-in user and their memberships.
pub struct Viewer {
    pub user_id: i64,
}

#[Object]
impl Viewer {
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.user_id).await
    }

    /// The viewer's memberships, each with its role and permissions.
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MemberConnection> {
        let page_args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let user_id = self.user_id;
        let (page, total) = page_and_total(
            ctx,
            boxed_work(move |c| {
                Box::pin(async move { members::of_user(c, user_id, &page_args).await })
            }),
            boxed_work(move |c| Box::pin(members::count_of_user(c, user_id))),
        )
        .await?;
        let viewer_memberships = &context(ctx).loaders.viewer_memberships;
        viewer_memberships
            .feed_many(
                page.edges
                    .iter()
                    .map(|(_, m)| (m.organization_id, m.clone())),
            )
            .await;
        Ok(Connection::new(page.map(Member), total))
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject, Clone)]
#[graphql(concrete(name = "MemberEdge", params(Member)))]
#[graphql(concrete(name = "AuditEventEdge", params(AuditEvent)))]
#[graphql(concrete(name = "InvitationEdge", params(Invitation)))]
pub struct Edge<N: OutputType> {
    pub cursor: String,
    pub node: N,
}

/// A page of a list, Relay style.
#[derive(SimpleObject)]
#[graphql(complex)]
#[graphql(concrete(name = "MemberConnection", params(Member)))]
#[graphql(concrete(name = "AuditEventConnection", params(AuditEvent)))]
#[graphql(concrete(name = "InvitationConnection", params(Invitation)))]
pub struct Connection<N: OutputType + Clone>
where
    Edge<N>: OutputType,
{
    pub edges: Vec<Edge<N>>,
    pub page_info: PageInfo,
    /// All items that match, on every page.
    pub total_count: i32,
}

#[ComplexObject]
impl<N: OutputType + Clone> Connection<N>
where
    Edge<N>: OutputType,
{
    /// The nodes of `edges`, for clients that need no cursors.
    async fn nodes(&self) -> Vec<N> {
        self.edges.iter().map(|e| e.node.clone()).collect()
    }
}

pub type MemberConnection = Connection<Member>;
pub type AuditEventConnection = Connection<AuditEvent>;
pub type InvitationConnection = Connection<Invitation>;

impl<N: OutputType + Clone> Connection<N>
where
    Edge<N>: OutputType,
{
    pub fn new(page: Page<N>, total_count: i64) -> Self {
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: page.edges.first().map(|(c, _)| c.clone()),
            end_cursor: page.edges.last().map(|(c, _)| c.clone()),
        };
        Connection {
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, node)| Edge { cursor, node })
                .collect(),
            page_info,
            total_count: i32::try_from(total_count).unwrap_or(i32::MAX),
        }
    }
}
