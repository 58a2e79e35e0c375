use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::members::MemberPayload;
use crate::domain::{credits, seats};
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{CreditPool, Member, SeatTier};

#[derive(InputObject)]
pub struct CreditsInput {
    pub member_id: ID,
    /// A positive whole number.
    pub amount: i32,
}

/// Moves credits between the pool and the member; creditPool reflects the result.
#[derive(SimpleObject)]
pub struct CreditsPayload {
    pub member: Member,
    pub credit_pool: CreditPool,
}

#[derive(InputObject)]
pub struct AssignSeatInput {
    pub member_id: ID,
    /// NONE releases the member's seat.
    pub seat: SeatTier,
}

/// Each member's share of the organization's billing: credits and a seat.
#[derive(Default)]
pub struct MemberBillingMutation;

#[Object]
impl MemberBillingMutation {
    /// Moves credits from the pool to a member. Requires UPDATE_MEMBERS.
    async fn distribute_credits(
        &self,
        ctx: &Context<'_>,
        input: CreditsInput,
    ) -> Result<CreditsPayload> {
        move_credits(ctx, input, credits::Direction::ToMember).await
    }

    /// Moves credits from a member back to the pool. Requires UPDATE_MEMBERS.
    async fn reclaim_credits(
        &self,
        ctx: &Context<'_>,
        input: CreditsInput,
    ) -> Result<CreditsPayload> {
        move_credits(ctx, input, credits::Direction::ToPool).await
    }

    /// Gives a member a seat, or releases it with NONE. Past the limit: LIMIT_EXCEEDED. Requires UPDATE_MEMBERS.
    async fn assign_seat(
        &self,
        ctx: &Context<'_>,
        input: AssignSeatInput,
    ) -> Result<MemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let assignment = state
            .change(async |db| seats::assign(db, actor_id, member_id, input.seat.into()).await)
            .await?;
        Ok(MemberPayload {
            member: Member::from(assignment),
        })
    }
}

async fn move_credits(
    ctx: &Context<'_>,
    input: CreditsInput,
    direction: credits::Direction,
) -> Result<CreditsPayload> {
    let (actor_id, state) = actor(ctx)?;
    let member_id = ids::decode(&input.member_id, Kind::Member)?;
    let moved = state
        .change(async |db| {
            credits::transfer(db, actor_id, member_id, input.amount, direction).await
        })
        .await?;
    Ok(CreditsPayload {
        member: Member::from(moved.member),
        credit_pool: CreditPool(moved.pool),
    })
}
