use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::removal::{self, Removal};
use crate::domain::role_changes;
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{AssignableRole, Member, Organization, SeatTier};

#[derive(InputObject)]
pub struct UpdateMemberRoleInput {
    pub member_id: ID,
    pub role: AssignableRole,
}

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub member: Member,
}

#[derive(InputObject)]
pub struct RemoveMemberInput {
    pub member_id: ID,
}

/// What removal gave back to the organization.
#[derive(SimpleObject)]
pub struct RemoveMemberPayload {
    pub removed_member_id: ID,
    pub removed_user_id: ID,
    pub credits_returned: i32,
    pub seat_released: SeatTier,
    pub organization: Organization,
}

impl RemoveMemberPayload {
    /// Answers a mutation that removed a membership.
    async fn of(ctx: &Context<'_>, removal: Removal) -> Result<RemoveMemberPayload> {
        Ok(RemoveMemberPayload {
            removed_member_id: ids::encode(Kind::Member, removal.member.id),
            removed_user_id: ids::encode(Kind::User, removal.member.user_id),
            credits_returned: removal.credits_returned,
            seat_released: removal.seat_released.into(),
            organization: Organization::after_change(ctx, removal.organization).await?,
        })
    }
}

#[derive(InputObject)]
pub struct LeaveOrganizationInput {
    pub organization_id: ID,
}

/// Members: roles, removal and leaving.
#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Gives a member another role (never OWNER). Requires MANAGE_MEMBERS.
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberRoleInput,
    ) -> Result<MemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let change = state
            .change(async |db| {
                role_changes::update_role(db, actor_id, member_id, input.role.into()).await
            })
            .await?;
        Ok(MemberPayload {
            member: Member::from(change),
        })
    }

    /// Removes a member: their access ends at once, their credits return to the pool and their seat is released. Requires MANAGE_MEMBERS.
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveMemberInput,
    ) -> Result<RemoveMemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let removal = state
            .change(async |db| removal::remove(db, actor_id, member_id).await)
            .await?;
        RemoveMemberPayload::of(ctx, removal).await
    }

    /// Any member but the owner may leave; same effects as removal.
    async fn leave_organization(
        &self,
        ctx: &Context<'_>,
        input: LeaveOrganizationInput,
    ) -> Result<RemoveMemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let removal = state
            .change(async |db| removal::leave(db, actor_id, organization_id).await)
            .await?;
        RemoveMemberPayload::of(ctx, removal).await
    }
}
