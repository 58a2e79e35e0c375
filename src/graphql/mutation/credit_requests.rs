use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::credits::requests::{self, Decision};
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::CreditRequest;

#[derive(InputObject)]
pub struct RequestCreditsInput {
    pub organization_id: ID,
    /// A positive whole number.
    pub amount: i32,
    /// One line of visible text, at most 500 characters.
    pub reason: Option<String>,
}

#[derive(InputObject)]
pub struct CreditRequestIdInput {
    pub request_id: ID,
}

#[derive(InputObject)]
pub struct DecideCreditRequestInput {
    pub request_id: ID,
    /// On approval, the credits to distribute; default: the amount asked.
    pub amount: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreditRequestPayload {
    pub request: CreditRequest,
}

/// A member asks for credits; a holder of UPDATE_MEMBERS decides.
#[derive(Default)]
pub struct CreditRequestMutation;

#[Object]
impl CreditRequestMutation {
    /// Asks the organization for credits, for the viewer. One PENDING request at a time (CONFLICT). Any member.
    async fn request_credits(
        &self,
        ctx: &Context<'_>,
        input: RequestCreditsInput,
    ) -> Result<CreditRequestPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let (amount, reason) = (input.amount, input.reason);
        let request = state
            .change(async |db| {
                requests::request(db, actor_id, organization_id, amount, reason).await
            })
            .await?;
        Ok(payload(request))
    }

    /// Withdraws a PENDING request. The member who asked.
    async fn cancel_credit_request(
        &self,
        ctx: &Context<'_>,
        input: CreditRequestIdInput,
    ) -> Result<CreditRequestPayload> {
        let (actor_id, state) = actor(ctx)?;
        let request_id = ids::decode(&input.request_id, Kind::CreditRequest)?;
        let request = state
            .change(async |db| requests::cancel(db, actor_id, request_id).await)
            .await?;
        Ok(payload(request))
    }

    /// Distributes the amount asked, or less, from the pool to the member who asked. More than asked: BAD_USER_INPUT; past the pool: LIMIT_EXCEEDED. Requires UPDATE_MEMBERS.
    async fn approve_credit_request(
        &self,
        ctx: &Context<'_>,
        input: DecideCreditRequestInput,
    ) -> Result<CreditRequestPayload> {
        decide(ctx, input.request_id, Decision::Approve(input.amount)).await
    }

    /// Declines a PENDING request; nothing is distributed (an amount given is ignored). Requires UPDATE_MEMBERS.
    async fn decline_credit_request(
        &self,
        ctx: &Context<'_>,
        input: DecideCreditRequestInput,
    ) -> Result<CreditRequestPayload> {
        decide(ctx, input.request_id, Decision::Decline).await
    }
}

async fn decide(
    ctx: &Context<'_>,
    request_id: ID,
    decision: Decision,
) -> Result<CreditRequestPayload> {
    let (actor_id, state) = actor(ctx)?;
    let request_id = ids::decode(&request_id, Kind::CreditRequest)?;
    let request = state
        .change(async |db| requests::decide(db, actor_id, request_id, decision).await)
        .await?;
    Ok(payload(request))
}

fn payload(request: requests::CreditRequest) -> CreditRequestPayload {
    CreditRequestPayload {
        request: CreditRequest(request),
    }
}
