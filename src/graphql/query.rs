use async_graphql::{Context, ID, Object, Result};

use super::ids::{self, Kind};
use super::types::{
    AuditEvent, Invitation, InvitationPreview, Member, Node, Organization, User, Viewer,
};
use super::{context, require_viewer};
use crate::domain::{DomainError, Permission, invitations, members, organizations};

pub struct Query;

#[Object]
impl Query {
    /// Any object by its global ID, if the viewer may see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let viewer = require_viewer(ctx)?;
        let state = context(ctx);
        Ok(match ids::decode_any(&id)? {
            (Kind::Organization, id) => Organization::visible(ctx, id)
                .await?
                .map(Node::Organization),
            (Kind::Member, id) => {
                let Some(membership) = state.loaders.memberships.load_one(id).await? else {
                    return Ok(None);
                };
                // A member is visible to the members of its organization.
                Organization::visible(ctx, membership.organization_id)
                    .await?
                    .map(|_| Node::Member(Member(membership)))
            }
            (Kind::AuditEvent, id) => {
                let Some(event) = state.loaders.audit_events.load_one(id).await? else {
                    return Ok(None);
                };
                manages_members(ctx, event.organization_id)
                    .await?
                    .then_some(Node::AuditEvent(AuditEvent(event)))
            }
            (Kind::Invitation, id) => {
                let found = state
                    .db
                    .read(move |c| Box::pin(async move { invitations::by_ids(c, &[id]).await }))
                    .await?;
                let Some(invitation) = found.into_iter().next() else {
                    return Ok(None);
                };
                manages_members(ctx, invitation.organization_id)
                    .await?
                    .then_some(Node::Invitation(Invitation(invitation)))
            }
            (Kind::User, id) => {
                let visible = id == viewer.user_id
                    || state
                        .db
                        .read(move |c| {
                            Box::pin(members::share_an_organization(c, viewer.user_id, id))
                        })
                        .await?;
                match visible {
                    true => Some(Node::User(User::load(ctx, id).await?)),
                    false => None,
                }
            }
        })
    }

    /// Public: anyone holding the token may preview it.
    #[graphql(guard = "super::secret_attempt")]
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> Result<Option<InvitationPreview>> {
        Ok(invitations::preview(&context(ctx).db, &token)
            .await?
            .map(InvitationPreview))
    }

    /// Null when the request carries no valid session.
    async fn viewer(&self, ctx: &Context<'_>) -> Option<Viewer> {
        context(ctx).viewer.map(|v| Viewer { user_id: v.user_id })
    }

    /// An organization by ID or slug (give exactly one). Null unless the
    /// viewer is one of its members.
    async fn organization(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<Organization>> {
        require_viewer(ctx)?;
        let organization_id = match (id, slug) {
            (Some(id), None) => ids::decode(&id, Kind::Organization)?,
            (None, Some(slug)) => {
                let found = context(ctx)
                    .db
                    .read(move |c| Box::pin(async move { organizations::by_slug(c, &slug).await }))
                    .await?;
                let Some(organization) = found else {
                    return Ok(None);
                };
                let id = organization.id;
                context(ctx)
                    .loaders
                    .organizations
                    .feed_one(id, organization)
                    .await;
                id
            }
            _ => return Err(DomainError::bad_input("give exactly one of id and slug").into()),
        };
        Organization::visible(ctx, organization_id).await
    }
}

/// Whether the viewer may manage the members of an organization (and so
/// see its audit log and invitations).
async fn manages_members(ctx: &Context<'_>, organization_id: i64) -> Result<bool> {
    let organization = Organization::visible(ctx, organization_id).await?;
    Ok(organization
        .and_then(|o| o.viewer)
        .is_some_and(|m| m.role.can(Permission::ManageMembers)))
}
