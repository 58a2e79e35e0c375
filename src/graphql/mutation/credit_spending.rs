use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::credits::spending::{self, Spending};
use crate::domain::permission_checks::Subject;
use crate::graphql::context::{context, require_principal};
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{CreditHold, CreditLedgerEntry, Member};

#[derive(InputObject)]
pub struct SpendCreditsInput {
    pub organization_id: ID,
    pub user_id: Option<ID>,
    pub subject: Option<String>,
    pub amount: i32,
    pub idempotency_key: String,
    pub description: Option<String>,
}

#[derive(SimpleObject)]
pub struct SpendCreditsPayload {
    pub entry: CreditLedgerEntry,
    pub member: Member,
}

#[derive(InputObject)]
pub struct HoldCreditsInput {
    pub organization_id: ID,
    pub user_id: Option<ID>,
    pub subject: Option<String>,
    pub amount: i32,
    pub idempotency_key: String,
    pub description: Option<String>,
    /// Seconds until orgql releases the hold by itself: 60 to 604800 (7 days).
    #[graphql(default = 3600)]
    pub expires_in_seconds: Option<i32>,
}

/// member is null when the member has been removed since the hold was placed.
#[derive(SimpleObject)]
pub struct CreditHoldPayload {
    pub hold: CreditHold,
    pub member: Option<Member>,
}

#[derive(InputObject)]
pub struct SettleCreditHoldInput {
    pub hold_id: ID,
    /// Credits the work used, 0 to the held amount: SETTLED for it, RELEASED for the rest.
    pub amount: i32,
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct ReleaseCreditHoldInput {
    pub hold_id: ID,
    pub idempotency_key: String,
}

/// What the product's job runner does with its service key: spend members'
/// credits at once, or hold them before a job and settle what it used.
#[derive(Default)]
pub struct CreditSpendingMutation;

#[Object]
impl CreditSpendingMutation {
    /// Spends a member's available credits at once. A service key of the organization.
    async fn spend_credits(
        &self,
        ctx: &Context<'_>,
        input: SpendCreditsInput,
    ) -> Result<SpendCreditsPayload> {
        let principal = require_principal(ctx)?;
        let state = context(ctx);
        let spend = spending_of(
            &input.organization_id,
            input.user_id,
            input.subject,
            input.amount,
            input.idempotency_key,
            input.description,
        )?;
        let issuer = state.services.provider_issuer.as_deref();
        let spent = state
            .change(async |db| spending::spend(db, &principal, issuer, spend).await)
            .await?;
        Ok(SpendCreditsPayload {
            entry: CreditLedgerEntry(spent.entry),
            member: spent.member.into(),
        })
    }

    /// Holds a member's available credits before work whose cost is known afterwards. A service key of the organization.
    async fn hold_credits(
        &self,
        ctx: &Context<'_>,
        input: HoldCreditsInput,
    ) -> Result<CreditHoldPayload> {
        let principal = require_principal(ctx)?;
        let state = context(ctx);
        let hold = spending_of(
            &input.organization_id,
            input.user_id,
            input.subject,
            input.amount,
            input.idempotency_key,
            input.description,
        )?;
        let issuer = state.services.provider_issuer.as_deref();
        let seconds = i64::from(
            input
                .expires_in_seconds
                .unwrap_or(spending::DEFAULT_HOLD_SECONDS),
        );
        let outcome = state
            .change(async |db| spending::hold(db, &principal, issuer, hold, seconds).await)
            .await?;
        Ok(payload(outcome))
    }

    /// Ends a hold with what the work used; the rest returns to the member. A service key of the organization.
    async fn settle_credit_hold(
        &self,
        ctx: &Context<'_>,
        input: SettleCreditHoldInput,
    ) -> Result<CreditHoldPayload> {
        let principal = require_principal(ctx)?;
        let hold_id = ids::decode(&input.hold_id, Kind::CreditHold)?;
        let (amount, key) = (input.amount, input.idempotency_key);
        let outcome = context(ctx)
            .change(async |db| spending::settle(db, &principal, hold_id, amount, key).await)
            .await?;
        Ok(payload(outcome))
    }

    /// Ends a hold without spending any of it. A service key of the organization.
    async fn release_credit_hold(
        &self,
        ctx: &Context<'_>,
        input: ReleaseCreditHoldInput,
    ) -> Result<CreditHoldPayload> {
        let principal = require_principal(ctx)?;
        let hold_id = ids::decode(&input.hold_id, Kind::CreditHold)?;
        let key = input.idempotency_key;
        let outcome = context(ctx)
            .change(async |db| spending::release(db, &principal, hold_id, key).await)
            .await?;
        Ok(payload(outcome))
    }
}

/// A spend's or a hold's input as the domain takes it.
fn spending_of(
    organization_id: &ID,
    user_id: Option<ID>,
    subject: Option<String>,
    amount: i32,
    idempotency_key: String,
    description: Option<String>,
) -> Result<Spending> {
    Ok(Spending {
        organization_id: ids::decode(organization_id, Kind::Organization)?,
        member: member(user_id, subject)?,
        amount,
        idempotency_key,
        description,
    })
}

/// The member a call names: exactly one of userId and subject.
fn member(user_id: Option<ID>, subject: Option<String>) -> Result<Subject> {
    Ok(match (user_id, subject) {
        (Some(id), None) => Subject::User(ids::decode(&id, Kind::User)?),
        (None, Some(subject)) => Subject::Provider(subject),
        _ => Err(crate::domain::DomainError::bad_input(
            "name the member by exactly one of userId and subject",
        ))?,
    })
}

fn payload(outcome: spending::HoldOutcome) -> CreditHoldPayload {
    CreditHoldPayload {
        hold: CreditHold(outcome.hold),
        member: outcome.member.map(Member::from),
    }
}
