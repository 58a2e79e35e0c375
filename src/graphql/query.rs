use async_graphql::{Context, ID, Object, Result};

use super::ids::{self, Kind};
use super::types::{AuditEvent, Member, Node, Organization, User, Viewer};
use super::{context, require_viewer};
use crate::domain::{DomainError, Permission, members, organizations};

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
                // Audit events are for those who manage the organization's members.
                let organization = Organization::visible(ctx, event.organization_id).await?;
                match organization.map(|o| {
                    o.viewer
                        .is_some_and(|m| m.role.can(Permission::ManageMembers))
                }) {
                    Some(true) => Some(Node::AuditEvent(AuditEvent(event))),
                    _ => None,
                }
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
