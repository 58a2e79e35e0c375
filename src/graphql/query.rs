use async_graphql::{Context, ID, Object, Result};

use super::context::{RequestContext, context, require_principal, secret_attempt};
use super::ids::{self, Kind};
use super::types::{
    AuditEvent, CreditHold, CreditLedgerEntry, CreditRequest, Invitation, InvitationPreview, Node,
    Organization, PermissionCheckInput, PermissionCheckResult, ServiceKey, User, Viewer,
    WebhookDelivery, WebhookEndpoint,
};
use crate::db::Conn;
use crate::domain::access::{self, Readable};
use crate::domain::organizations::{self, OrganizationKey};
use crate::domain::permission_checks::{self, Check};
use crate::domain::{DomainError, audit, credits, invitations, members, service_keys, webhooks};

pub struct Query;

#[Object]
impl Query {
    /// Any object by its global ID, if the viewer may see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let principal = require_principal(ctx)?;
        let state = context(ctx);
        let loaders = &state.loaders;
        Ok(match ids::decode_any(&id)? {
            (Kind::Organization, id) => Organization::visible(ctx, id)
                .await?
                .map(Node::Organization),
            (Kind::User, id) => {
                match state
                    .read(async |c| access::sees_user(c, &principal, id).await)
                    .await?
                {
                    true => Some(Node::User(User::load(ctx, id).await?)),
                    false => None,
                }
            }
            (Kind::Member, id) => {
                readable(ctx, Readable::Members, loaders.memberships.load_one(id))
                    .await?
                    .map(|m| Node::Member(m.into()))
            }
            (Kind::AuditEvent, id) => {
                readable(ctx, Readable::AuditLog, loaders.audit_events.load_one(id))
                    .await?
                    .map(|e| Node::AuditEvent(AuditEvent(e)))
            }
            (Kind::Invitation, id) => readable(
                ctx,
                Readable::Invitations,
                by_id(state, id, invitations::by_ids),
            )
            .await?
            .map(|i| Node::Invitation(Invitation(i))),
            (Kind::ServiceKey, id) => readable(
                ctx,
                Readable::ServiceKeys,
                by_id(state, id, service_keys::by_ids),
            )
            .await?
            .map(|k| Node::ServiceKey(ServiceKey(k))),
            (Kind::WebhookEndpoint, id) => readable(
                ctx,
                Readable::WebhookEndpoints,
                by_id(state, id, webhooks::endpoints_by_ids),
            )
            .await?
            .map(|e| Node::WebhookEndpoint(WebhookEndpoint(e))),
            (Kind::WebhookDelivery, id) => readable(
                ctx,
                Readable::WebhookEndpoints,
                state.read(async |c| webhooks::delivery_in_organization(c, id).await),
            )
            .await?
            .map(|(d, _)| Node::WebhookDelivery(WebhookDelivery(d))),
            (Kind::CreditLedgerEntry, id) => readable(
                ctx,
                Readable::Billing,
                by_id(state, id, credits::ledger::by_ids),
            )
            .await?
            .map(|e| Node::CreditLedgerEntry(CreditLedgerEntry(e))),
            (Kind::CreditHold, id) => readable(
                ctx,
                Readable::Billing,
                by_id(state, id, credits::holds::by_ids),
            )
            .await?
            .map(|h| Node::CreditHold(CreditHold(h))),
            // The member who asked reads their own request too.
            (Kind::CreditRequest, id) => match by_id(state, id, credits::requests::by_ids).await? {
                Some(request) => Organization::standing(ctx, request.organization_id)
                    .await?
                    .sees_request_of(request.user_id)
                    .then_some(Node::CreditRequest(CreditRequest(request))),
                None => None,
            },
        })
    }

    /// Public: anyone holding the token may preview it.
    #[graphql(guard = "secret_attempt")]
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Option<InvitationPreview>> {
        Ok(invitations::preview(context(ctx).db(), &token)
            .await?
            .map(InvitationPreview))
    }

    /// Null when the request carries no valid session.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        let user_id = context(ctx).principal?.user_id()?;
        Some(Viewer { user_id })
    }

    /// An organization by ID or slug (give exactly one). Null unless the
    /// viewer is one of its members.
    async fn organization(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<Organization>> {
        require_principal(ctx)?;
        let key = match (id, slug) {
            (Some(id), None) => OrganizationKey::Id(ids::decode(&id, Kind::Organization)?),
            (None, Some(slug)) => OrganizationKey::Slug(slug),
            _ => return Err(DomainError::bad_input("give exactly one of id and slug").into()),
        };
        let state = context(ctx);
        let viewer = state.principal.and_then(|p| p.user_id());
        let found = state
            .read(async |c| organizations::with_membership_of(c, &key, viewer).await)
            .await?;
        let Some((organization, membership)) = found else {
            return Ok(None);
        };
        let organization_id = organization.id;
        let loaders = &state.loaders;
        loaders
            .organizations
            .feed_one(organization_id, organization)
            .await;
        if let Some(membership) = membership {
            loaders
                .viewer_memberships
                .feed_one(organization_id, membership)
                .await;
        }
        Organization::visible(ctx, organization_id).await
    }

    /// Up to 100 checks in one call, answered in the order asked, from the database as
    /// of this request: a role change committed before the request is always seen.
    /// A service key may check users of its own organization; a signed-in user may
    /// check only themselves. A check outside the caller's reach fails the call (FORBIDDEN).
    async fn check_permissions(
        &self,
        ctx: &Context<'_>,
        checks: Vec<PermissionCheckInput>,
    ) -> Result<Vec<PermissionCheckResult>> {
        let principal = require_principal(ctx)?;
        let checks = checks
            .into_iter()
            .map(Check::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let state = context(ctx);
        let issuer = state.services.provider_issuer.as_deref();
        let results = permission_checks::check(state.db(), &principal, issuer, checks).await?;
        Ok(results.into_iter().map(Into::into).collect())
    }
}

/// What `node(id)` finds inside one organization, which the viewer reads
/// with one of that organization's permissions.
trait InOrganization {
    fn organization_id(&self) -> i64;
}

macro_rules! in_organization {
    ($($found:ty),*) => {$(
        impl InOrganization for $found {
            fn organization_id(&self) -> i64 {
                self.organization_id
            }
        }
    )*};
}
in_organization!(
    members::Membership,
    audit::AuditEvent,
    invitations::Invitation,
    service_keys::ServiceKey,
    webhooks::Endpoint,
    credits::LedgerEntry,
    credits::holds::CreditHold
);

/// A delivery, with the organization of its endpoint.
impl InOrganization for (webhooks::Delivery, i64) {
    fn organization_id(&self) -> i64 {
        self.1
    }
}

/// What `load` finds, if anything and if the viewer may read `what` of its
/// organization (else None, as if it did not exist).
async fn readable<T: InOrganization, E: Into<async_graphql::Error>>(
    ctx: &Context<'_>,
    what: Readable,
    load: impl Future<Output = Result<Option<T>, E>>,
) -> Result<Option<T>> {
    let Some(found) = load.await.map_err(Into::into)? else {
        return Ok(None);
    };
    let standing = Organization::standing(ctx, found.organization_id()).await?;
    Ok(standing.may_read(what).is_ok().then_some(found))
}

/// The one row that `by_ids` finds for `id`.
async fn by_id<T>(
    state: &RequestContext,
    id: i64,
    by_ids: impl AsyncFnOnce(&mut Conn<'_>, &[i64]) -> Result<Vec<T>, DomainError>,
) -> Result<Option<T>, DomainError> {
    let found = state.read(async |c| by_ids(c, &[id]).await).await?;
    Ok(found.into_iter().next())
}
