//! The credit ledger, holds and requests, as clients read them.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Organization, ServiceKey, User, timestamp};
use crate::domain::credits;
use crate::domain::credits::{holds, requests};
use crate::domain::service_keys;
use crate::graphql::context::context;
use crate::graphql::ids::{self, Kind};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::credits::EntryKind")]
pub enum CreditEntryKind {
    /// The pool was topped up.
    Added,
    /// pool -> member
    Distributed,
    /// member -> pool
    Reclaimed,
    /// member -> pool, all of it, when the member was removed or left
    Returned,
    /// member's available -> held
    Held,
    /// held -> spent: the part the work used
    Settled,
    /// held -> available: a release, an expiry, or what a settle did not use
    Released,
    /// available -> spent, at once
    Spent,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::credits::holds::HoldStatus")]
pub enum CreditHoldStatus {
    Held,
    Settled,
    Released,
    Expired,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::credits::requests::RequestStatus")]
pub enum CreditRequestStatus {
    Pending,
    Approved,
    Declined,
    Cancelled,
}

/// One movement of credits, with the balances after it.
#[derive(Clone)]
pub struct CreditLedgerEntry(pub credits::LedgerEntry);

#[Object]
impl CreditLedgerEntry {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::CreditLedgerEntry, self.0.id)
    }
    async fn kind(&self) -> CreditEntryKind {
        self.0.kind.into()
    }
    /// Credits moved, always positive: the kind says from where to where.
    async fn amount(&self) -> i32 {
        self.0.amount
    }
    /// The member concerned; null for ADDED.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.user_id).await
    }
    /// The member's credits (available + held) after this entry; null for ADDED.
    async fn member_credits_after(&self) -> Option<i32> {
        self.0.member_credits_after
    }
    /// The pool's available credits after this entry.
    async fn pool_available_after(&self) -> i32 {
        self.0.pool_available_after
    }
    async fn hold(&self, ctx: &Context<'_>) -> Result<Option<CreditHold>> {
        let Some(hold_id) = self.0.hold_id else {
            return Ok(None);
        };
        let found = context(ctx)
            .read(async |c| holds::get(c, hold_id).await)
            .await?;
        Ok(found.map(CreditHold))
    }
    /// The key of the spending call that made it.
    async fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key.as_deref()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The user who did it; null when a service key did (serviceKey is set) or orgql did (an expiry).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.actor_id).await
    }
    async fn service_key(&self, ctx: &Context<'_>) -> Result<Option<ServiceKey>> {
        let Some(key_id) = self.0.service_key_id else {
            return Ok(None);
        };
        let found = context(ctx)
            .read(async |c| service_keys::by_ids(c, &[key_id]).await)
            .await?;
        Ok(found.into_iter().next().map(ServiceKey))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
}

/// Credits a service set aside for work under way.
#[derive(Clone)]
pub struct CreditHold(pub holds::CreditHold);

#[Object]
impl CreditHold {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::CreditHold, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.0.organization_id).await
    }
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.0.user_id).await
    }
    /// Credits held when it was placed.
    async fn amount(&self) -> i32 {
        self.0.amount
    }
    /// Credits the work used; set when settled.
    async fn settled_amount(&self) -> Option<i32> {
        self.0.settled_amount
    }
    async fn status(&self) -> CreditHoldStatus {
        self.0.status.into()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.0.expires_at)
    }
    /// When it was settled, released or expired.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at.map(timestamp)
    }
}

/// A member's request for credits, which a holder of UPDATE_MEMBERS approves
/// or declines.
#[derive(Clone)]
pub struct CreditRequest(pub requests::CreditRequest);

#[Object]
impl CreditRequest {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::CreditRequest, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.0.organization_id).await
    }
    /// The member who asked.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        User::load(ctx, self.0.user_id).await
    }
    async fn amount(&self) -> i32 {
        self.0.amount
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn status(&self) -> CreditRequestStatus {
        self.0.status.into()
    }
    /// What was distributed on approval; may be less than asked.
    async fn approved_amount(&self) -> Option<i32> {
        self.0.approved_amount
    }
    /// Who approved or declined it; for a cancelled one, who cancelled it (the member, or whoever removed them).
    async fn decided_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.decided_by).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    /// When it was approved, declined or cancelled.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at.map(timestamp)
    }
}
