use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{InvitationStatus, Organization, Role, User, timestamp};
use crate::domain::invitations;
use crate::graphql::ids::{self, Kind};

/// An invitation to join an organization, as its managers see it.
#[derive(Clone)]
pub struct Invitation(pub invitations::Invitation);

#[Object]
impl Invitation {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::Invitation, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.0.organization_id).await
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
        User::load_optional(ctx, self.0.invited_by).await
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
