use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Organization, Permission, Role, SeatTier, User, enums, timestamp};
use crate::domain::members::Membership;
use crate::graphql::ids::{self, Kind};

/// A user's membership of an organization: their role, and what it holds.
#[derive(Clone)]
pub struct Member(pub Membership);

impl Member {
    /// Whether the viewer may see this member's credits and seat.
    async fn viewer_sees_billing(&self, ctx: &Context<'_>) -> Result<bool> {
        let standing = Organization::standing(ctx, self.0.organization_id).await?;
        Ok(standing.sees_billing_of(&self.0))
    }
}

#[Object]
impl Member {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::Member, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.0.organization_id).await
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.0.user_id).await
    }
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    async fn permissions(&self) -> Vec<Permission> {
        enums::permissions(self.0.role.permissions())
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
