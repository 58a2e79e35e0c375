use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use std::borrow::Cow;
use std::sync::Arc;

use super::{Organization, Permission, Role, SeatTier, User, enums, timestamp};
use crate::domain::access::Standing;
use crate::domain::members::Membership;
use crate::graphql::ids::{self, Kind};

/// A user's membership of an organization: their role, and what it holds.
#[derive(Clone)]
pub struct Member {
    pub membership: Membership,
    /// What the page that listed the member knew already: its user, and
    /// the viewer's standing in the organization (one for the whole page).
    listed: Option<(User, Arc<Standing>)>,
}

impl From<Membership> for Member {
    fn from(membership: Membership) -> Self {
        Member {
            membership,
            listed: None,
        }
    }
}

impl Member {
    /// A member of a page, with its user and the viewer's standing there.
    pub fn listed(membership: Membership, user: User, standing: Arc<Standing>) -> Member {
        Member {
            membership,
            listed: Some((user, standing)),
        }
    }

    /// Whether the viewer may see this member's credits and seat.
    async fn viewer_sees_billing(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(match &self.listed {
            Some((_, standing)) => standing.sees_billing_of(&self.membership),
            None => Organization::standing(ctx, self.membership.organization_id)
                .await?
                .sees_billing_of(&self.membership),
        })
    }
}

#[Object]
impl Member {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::Member, self.membership.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.membership.organization_id).await
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<Cow<'_, User>> {
        match &self.listed {
            Some((user, _)) => Ok(Cow::Borrowed(user)),
            None => Ok(Cow::Owned(User::load(ctx, self.membership.user_id).await?)),
        }
    }
    async fn role(&self) -> Role {
        self.membership.role.into()
    }
    async fn permissions(&self) -> Vec<Permission> {
        enums::permissions(self.membership.role.permissions())
    }
    /// Null unless the viewer is this member or holds VIEW_BILLING.
    async fn credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(self
            .viewer_sees_billing(ctx)
            .await?
            .then_some(self.membership.credits))
    }
    /// Null unless the viewer is this member or holds VIEW_BILLING.
    async fn seat(&self, ctx: &Context<'_>) -> Result<Option<SeatTier>> {
        Ok(self
            .viewer_sees_billing(ctx)
            .await?
            .then_some(self.membership.seat.into()))
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        timestamp(self.membership.joined_at)
    }
}
