use async_graphql::{Context, ID, Object, Result};

use super::context::{context, require_principal, secret_attempt};
use super::ids::{self, Kind};
use super::types::{
    AuditEvent, Invitation, InvitationPreview, Member, Node, Organization, PermissionCheckInput,
    PermissionCheckResult, ServiceKey, User, Viewer, WebhookDelivery, WebhookEndpoint,
};
use crate::domain::access::{self, Readable};
use crate::domain::organizations::{self, OrganizationKey};
use crate::domain::permission_checks::{self, Check};
use crate::domain::{DomainError, invitations, service_keys, webhooks};

pub struct Query;

#[Object]
impl Query {
    /// Any object by its global ID, if the viewer may see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let principal = require_principal(ctx)?;
        let state = context(ctx);
        Ok(match ids::decode_any(&id)? {
            (Kind::Organization, id) => Organization::visible(ctx, id)
                .await?
                .map(Node::Organization),
            (Kind::Member, id) => {
                let Some(membership) = state.loaders.memberships.load_one(id).await? else {
                    return Ok(None);
                };
                readable(ctx, membership.organization_id, Readable::Members)
                    .await?
                    .then_some(Node::Member(Member::from(membership)))
            }
            (Kind::AuditEvent, id) => {
                let Some(event) = state.loaders.audit_events.load_one(id).await? else {
                    return Ok(None);
                };
                readable(ctx, event.organization_id, Readable::AuditLog)
                    .await?
                    .then_some(Node::AuditEvent(AuditEvent(event)))
            }
            (Kind::Invitation, id) => {
                let found = state
                    .read(async |c| invitations::by_ids(c, &[id]).await)
                    .await?;
                let Some(invitation) = found.into_iter().next() else {
                    return Ok(None);
                };
                readable(ctx, invitation.organization_id, Readable::Invitations)
                    .await?
                    .then_some(Node::Invitation(Invitation(invitation)))
            }
            (Kind::ServiceKey, id) => {
                let found = state
                    .read(async |c| service_keys::by_ids(c, &[id]).await)
                    .await?;
                let Some(key) = found.into_iter().next() else {
                    return Ok(None);
                };
                readable(ctx, key.organization_id, Readable::ServiceKeys)
                    .await?
                    .then_some(Node::ServiceKey(ServiceKey(key)))
            }
            (Kind::WebhookEndpoint, id) => {
                let found = state
                    .read(async |c| webhooks::endpoints_by_ids(c, &[id]).await)
                    .await?;
                let Some(endpoint) = found.into_iter().next() else {
                    return Ok(None);
                };
                readable(ctx, endpoint.organization_id, Readable::WebhookEndpoints)
                    .await?
                    .then_some(Node::WebhookEndpoint(WebhookEndpoint(endpoint)))
            }
            (Kind::WebhookDelivery, id) => {
                let found = state
                    .read(async |c| webhooks::delivery_in_organization(c, id).await)
                    .await?;
                let Some((delivery, organization_id)) = found else {
                    return Ok(None);
                };
                readable(ctx, organization_id, Readable::WebhookEndpoints)
                    .await?
                    .then_some(Node::WebhookDelivery(WebhookDelivery(delivery)))
            }
            (Kind::User, id) => {
                let sees = state
                    .read(async |c| access::sees_user(c, &principal, id).await)
                    .await?;
                match sees {
                    true => Some(Node::User(User::load(ctx, id).await?)),
                    false => None,
                }
            }
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

/// Whether the viewer may read `what` of the organization.
async fn readable(ctx: &Context<'_>, organization_id: i64, what: Readable) -> Result<bool> {
    let standing = Organization::standing(ctx, organization_id).await?;
    Ok(standing.may_read(what).is_ok())
}
