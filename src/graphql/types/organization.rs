use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::connection::{Connection, connection, read_page};
use super::{
    AuditEvent, AuditEventConnection, CreditLedgerEntry, CreditLedgerEntryConnection, CreditPool,
    CreditRequest, CreditRequestConnection, CreditRequestStatus, Invitation, InvitationConnection,
    InvitationStatus, Member, MemberConnection, MemberOrder, Permission, Role, SeatInventory,
    ServiceKey, ServiceKeyConnection, User, WebhookEndpoint, WebhookEndpointConnection, enums,
    timestamp,
};
use crate::domain::access::{Readable, Standing};
use crate::domain::members::{self, MemberFilter};
use crate::domain::pagination::PageArgs;
use crate::domain::{
    self, DomainError, audit, credits, invitations, seats, service_keys, webhooks,
};
use crate::graphql::context::context;
use crate::graphql::ids::{self, Kind};

/// An organization, as one principal sees it.
#[derive(Clone)]
pub struct Organization {
    pub organization: domain::organizations::Organization,
    /// The viewer's standing here (after a removal: an outsider).
    pub standing: Standing,
}

impl Organization {
    /// The viewer's standing in the organization `id`.
    pub async fn standing(ctx: &Context<'_>, id: i64) -> Result<Standing> {
        let state = context(ctx);
        // The loader holds the user's memberships (or, right after signUp
        // joined an organization, the new account's).
        let mine = state.loaders.viewer_memberships.load_one(id).await?;
        Ok(match &state.principal {
            Some(principal) => Standing::of_principal(principal, id, mine),
            None => Standing::of(mine),
        })
    }

    /// The organization if it exists for the viewer, else None: outsiders
    /// cannot tell it from one that does not exist.
    pub async fn visible(ctx: &Context<'_>, id: i64) -> Result<Option<Organization>> {
        let standing = Organization::standing(ctx, id).await?;
        if !standing.sees_organization() {
            return Ok(None);
        }
        let organization = context(ctx).loaders.organizations.load_one(id).await?;
        Ok(organization.map(|organization| Organization {
            organization,
            standing,
        }))
    }

    /// [`Organization::visible`], for a field that must have one.
    pub async fn require_visible(ctx: &Context<'_>, id: i64) -> Result<Organization> {
        let organization = Organization::visible(ctx, id).await?;
        Ok(organization.ok_or(DomainError::NotFound("organization"))?)
    }

    /// The organization as a mutation left it, with the viewer's standing
    /// read afresh (the mutation may have changed or ended it; its
    /// [`change`](crate::graphql::context::RequestContext::change) emptied
    /// the loaders).
    pub async fn after_change(
        ctx: &Context<'_>,
        organization: domain::organizations::Organization,
    ) -> Result<Organization> {
        let standing = Organization::standing(ctx, organization.id).await?;
        Ok(Organization {
            organization,
            standing,
        })
    }
}

#[Object]
impl Organization {
    pub(super) async fn id(&self) -> ID {
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
        Ok(Member::from(owner.ok_or(DomainError::NotFound("owner"))?))
    }
    /// The viewer's role here.
    async fn viewer_role(&self) -> Option<Role> {
        self.standing.role().map(Into::into)
    }
    /// What the viewer may do here, read from the database on every request.
    async fn viewer_permissions(&self) -> Vec<Permission> {
        enums::permissions(self.standing.permissions())
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
        self.standing.may_read(Readable::Members)?;
        let filter = MemberFilter {
            role: role.map(Into::into),
            query,
        };
        let order = order_by.map(Into::into).unwrap_or_default();
        let args = PageArgs::new(first, after, last, before);
        let organization = &self.organization;
        let (page, total) = read_page(
            ctx,
            async |c| members::list(c, organization.id, &filter, order, &args).await,
            async |c| members::count(c, organization, &filter).await,
        )
        .await?;
        // The page knows each member's user, and the viewer's standing.
        let standing = Arc::new(self.standing.clone());
        let member = |(membership, user)| Member::listed(membership, User(user), standing.clone());
        Ok(Connection::new(page.map(member), total))
    }

    /// The credit pool. Requires VIEW_BILLING.
    async fn credit_pool(&self) -> Result<CreditPool> {
        self.standing.may_read(Readable::Billing)?;
        Ok(CreditPool(credits::CreditPool::of(&self.organization)))
    }

    /// Seat limits and assignments. Requires VIEW_BILLING.
    async fn seats(&self) -> Result<SeatInventory> {
        self.standing.may_read(Readable::Billing)?;
        Ok(SeatInventory(seats::SeatInventory::of(&self.organization)))
    }

    /// Every movement of credits, newest first; one member's when userId is given. Requires VIEW_BILLING.
    async fn credit_ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        user_id: Option<ID>,
    ) -> Result<CreditLedgerEntryConnection> {
        self.standing.may_read(Readable::Billing)?;
        let user_id = user_id.map(|id| ids::decode(&id, Kind::User)).transpose()?;
        let args = PageArgs::new(first, after, None, None);
        let organization_id = self.organization.id;
        connection(
            ctx,
            async |c| credits::ledger::list(c, organization_id, user_id, &args).await,
            async |c| credits::ledger::count(c, organization_id, user_id).await,
            CreditLedgerEntry,
        )
        .await
    }

    /// Requests for credits, newest first. Requires UPDATE_MEMBERS.
    async fn credit_requests(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<CreditRequestStatus>,
    ) -> Result<CreditRequestConnection> {
        self.standing.may_read(Readable::CreditRequests)?;
        let args = PageArgs::new(first, after, None, None);
        let filter = credits::requests::RequestFilter {
            organization_id: self.organization.id,
            status: status.map(Into::into),
        };
        connection(
            ctx,
            async |c| credits::requests::list(c, filter, &args).await,
            async |c| credits::requests::count(c, filter).await,
            CreditRequest,
        )
        .await
    }

    /// Every change to membership, roles, invitations, credits and seats. Requires MANAGE_MEMBERS. Newest first.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AuditEventConnection> {
        self.standing.may_read(Readable::AuditLog)?;
        let args = PageArgs::new(first, after, None, None);
        let organization_id = self.organization.id;
        connection(
            ctx,
            async |c| audit::list(c, organization_id, &args).await,
            async |c| audit::count(c, organization_id).await,
            AuditEvent,
        )
        .await
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
        self.standing.may_read(Readable::Invitations)?;
        let args = PageArgs::new(first, after, last, before);
        let organization_id = self.organization.id;
        let status = status.map(Into::into);
        connection(
            ctx,
            async |c| invitations::list(c, organization_id, status, &args).await,
            async |c| invitations::count(c, organization_id, status).await,
            Invitation,
        )
        .await
    }

    /// Requires MANAGE_ORGANIZATION.
    async fn service_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ServiceKeyConnection> {
        self.standing.may_read(Readable::ServiceKeys)?;
        let args = PageArgs::new(first, after, None, None);
        let organization_id = self.organization.id;
        connection(
            ctx,
            async |c| service_keys::list(c, organization_id, &args).await,
            async |c| service_keys::count(c, organization_id).await,
            ServiceKey,
        )
        .await
    }

    /// Requires MANAGE_ORGANIZATION.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<WebhookEndpointConnection> {
        self.standing.may_read(Readable::WebhookEndpoints)?;
        let args = PageArgs::new(first, after, None, None);
        let organization_id = self.organization.id;
        connection(
            ctx,
            async |c| webhooks::list_endpoints(c, organization_id, &args).await,
            async |c| webhooks::count_endpoints(c, organization_id).await,
            WebhookEndpoint,
        )
        .await
    }

    /// The membership of one user, if they are a member.
    async fn member(&self, ctx: &Context<'_>, user_id: ID) -> Result<Option<Member>> {
        self.standing.may_read(Readable::Members)?;
        let user_id = ids::decode(&user_id, Kind::User)?;
        let organization_id = self.organization.id;
        let found = context(ctx)
            .read(async |c| members::of_user_in(c, user_id, &[organization_id]).await)
            .await?;
        Ok(found.into_iter().next().map(Member::from))
    }
}
