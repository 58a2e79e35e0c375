use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use std::borrow::Cow;
use std::sync::Arc;

use super::connection::connection;
use super::{
    CreditHold, CreditHoldConnection, CreditHoldStatus, CreditLedgerEntry,
    CreditLedgerEntryConnection, Organization, Permission, Role, SeatTier, User, enums, timestamp,
};
use crate::domain::access::Standing;
use crate::domain::credits::{holds, ledger};
use crate::domain::members::Membership;
use crate::domain::pagination::PageArgs;
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

    /// One of the member's billing figures, if the viewer may see it.
    async fn billing(
        &self,
        ctx: &Context<'_>,
        figure: impl Fn(&Membership) -> i32,
    ) -> Result<Option<i32>> {
        Ok(self
            .viewer_sees_billing(ctx)
            .await?
            .then(|| figure(&self.membership)))
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
    /// Null unless the viewer is this member, holds VIEW_BILLING, or is a service key of the organization.
    async fn credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        self.billing(ctx, |m| m.credits).await
    }
    /// Credits held for work under way; part of credits. Null where credits is.
    async fn held_credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        self.billing(ctx, |m| m.credits_held).await
    }
    /// credits - heldCredits: what can be held, spent or reclaimed now. Null where credits is.
    async fn available_credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        self.billing(ctx, Membership::credits_available).await
    }
    /// Credits this member has spent in the organization. Null where credits is.
    async fn spent_credits(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        self.billing(ctx, |m| m.credits_spent).await
    }
    /// This member's credit movements, newest first. Null where credits is.
    async fn credit_ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<CreditLedgerEntryConnection>> {
        if !self.viewer_sees_billing(ctx).await? {
            return Ok(None);
        }
        let args = PageArgs::new(first, after, None, None);
        let (organization_id, user_id) = (self.membership.organization_id, self.membership.user_id);
        let entries = connection(
            ctx,
            async |c| ledger::list(c, organization_id, Some(user_id), &args).await,
            async |c| ledger::count(c, organization_id, Some(user_id)).await,
            CreditLedgerEntry,
        );
        Ok(Some(entries.await?))
    }
    /// This member's holds, newest first. Null where credits is.
    async fn credit_holds(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<CreditHoldStatus>,
    ) -> Result<Option<CreditHoldConnection>> {
        if !self.viewer_sees_billing(ctx).await? {
            return Ok(None);
        }
        let args = PageArgs::new(first, after, None, None);
        let filter = holds::HoldFilter {
            organization_id: self.membership.organization_id,
            user_id: self.membership.user_id,
            status: status.map(Into::into),
        };
        let found = connection(
            ctx,
            async |c| holds::list(c, filter, &args).await,
            async |c| holds::count(c, filter).await,
            CreditHold,
        );
        Ok(Some(found.await?))
    }
    /// Null unless the viewer is this member, holds VIEW_BILLING, or is a service key of the organization.
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
