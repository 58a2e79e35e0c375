use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::ids::{self, Kind};
use super::types::{AssignableRole, CreditPool, Member, Organization, SeatTier, User};
use super::{RequestContext, context, require_viewer};
use crate::auth::{self, SignUp, SignedIn};
use crate::domain::removal::{self, Removal};
use crate::domain::{self, DomainError, credits, members, organizations, role_changes, seats};

/// Answers a move of credits (its event was staged in its transaction).
fn credits_payload(ctx: &Context<'_>, moved: credits::CreditMove) -> Result<CreditsPayload> {
    let state = context(ctx);
    state.loaders.forget_all();
    Ok(CreditsPayload {
        member: Member(moved.member),
        credit_pool: CreditPool(moved.pool),
    })
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    pub name: String,
    /// At least 8 characters.
    pub password: String,
    /// Accept this invitation in the same step.
    pub invitation_token: Option<String>,
}

#[derive(InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
}

/// token is a bearer token: send `Authorization: Bearer <token>` over HTTP, and {"authorization": "Bearer <token>"} in the WebSocket connection_init payload.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub user: User,
    /// Set when signUp accepted an invitation.
    pub member: Option<Member>,
}

impl From<SignedIn> for AuthPayload {
    fn from(signed_in: SignedIn) -> Self {
        AuthPayload {
            token: signed_in.token,
            user: User(signed_in.user),
            member: None,
        }
    }
}

#[derive(InputObject)]
pub struct CreateOrganizationInput {
    pub name: String,
    /// Lower-case letters, digits and hyphens; derived from the name when not given.
    pub slug: Option<String>,
}

#[derive(SimpleObject)]
pub struct OrganizationPayload {
    pub organization: Organization,
}

#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    pub organization_id: ID,
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct AddCreditsInput {
    pub organization_id: ID,
    /// A positive whole number.
    pub amount: i32,
}

#[derive(InputObject)]
pub struct SetSeatLimitsInput {
    pub organization_id: ID,
    pub standard: i32,
    pub pro: i32,
}

#[derive(InputObject)]
pub struct TransferOwnershipInput {
    pub organization_id: ID,
    pub member_id: ID,
}

/// The former owner becomes ADMIN.
#[derive(SimpleObject)]
pub struct TransferOwnershipPayload {
    pub organization: Organization,
    pub previous_owner: Member,
    pub new_owner: Member,
}

#[derive(InputObject)]
pub struct UpdateMemberRoleInput {
    pub member_id: ID,
    pub role: AssignableRole,
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

#[derive(InputObject)]
pub struct LeaveOrganizationInput {
    pub organization_id: ID,
}

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

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub member: Member,
}

/// The viewer of a mutation that needs one, and the request's context.
fn actor<'a>(ctx: &Context<'a>) -> Result<(i64, &'a RequestContext)> {
    Ok((require_viewer(ctx)?.user_id, context(ctx)))
}

/// Answers a mutation that removed a membership.
async fn removal_payload(ctx: &Context<'_>, removal: Removal) -> Result<RemoveMemberPayload> {
    Ok(RemoveMemberPayload {
        removed_member_id: ids::encode(Kind::Member, removal.member.id),
        removed_user_id: ids::encode(Kind::User, removal.member.user_id),
        credits_returned: removal.credits_returned,
        seat_released: removal.seat_released.into(),
        organization: Organization::after_change(ctx, removal.organization).await?,
    })
}

/// Answers a mutation that changed one organization.
async fn organization_payload(
    ctx: &Context<'_>,
    organization: domain::organizations::Organization,
) -> Result<OrganizationPayload> {
    Ok(OrganizationPayload {
        organization: Organization::after_change(ctx, organization).await?,
    })
}

/// Accounts and sessions.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in.
    #[graphql(guard = "super::secret_attempt")]
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let state = context(ctx);
        let signup = SignUp {
            email: &input.email,
            name: &input.name,
            password: &input.password,
        };
        let (signed_in, joined) = auth::sign_up(&state.db, signup, input.invitation_token).await?;
        let mut payload = AuthPayload::from(signed_in);
        if let Some(joined) = joined {
            // The payload is read as the new account sees it.
            let organization_id = joined.organization_id;
            state
                .loaders
                .viewer_memberships
                .feed_one(organization_id, joined.clone())
                .await;
            payload.member = Some(Member(joined));
        }
        Ok(payload)
    }

    #[graphql(guard = "super::secret_attempt")]
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        Ok(
            auth::log_in(&context(ctx).db, &input.email, &input.password)
                .await?
                .into(),
        )
    }

    /// Ends the current session; its subscriptions are closed.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        auth::log_out(&context(ctx).db, require_viewer(ctx)?).await?;
        Ok(true)
    }
}

/// Organizations and their members: creation, settings, billing, roles,
/// removal, credits, seats and ownership.
#[derive(Default)]
pub struct OrganizationMutation;

#[Object]
impl OrganizationMutation {
    /// The caller becomes the OWNER.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> Result<OrganizationPayload> {
        let viewer = require_viewer(ctx)?;
        let state = context(ctx);
        let (organization, owner) = organizations::create(
            &state.db,
            viewer.user_id,
            &input.name,
            input.slug.as_deref(),
        )
        .await?;
        state
            .loaders
            .viewer_memberships
            .feed_one(organization.id, owner.clone())
            .await;
        Ok(OrganizationPayload {
            organization: Organization {
                organization,
                viewer: Some(owner),
            },
        })
    }

    /// Renames the organization. Requires MANAGE_ORGANIZATION.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> Result<OrganizationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let organization = match input.name {
            Some(name) => {
                organizations::rename(&state.db, actor_id, organization_id, &name).await?
            }
            None => {
                let organization = Organization::visible(ctx, organization_id).await?;
                let organization = organization.ok_or(DomainError::NotFound("organization"))?;
                members::require(
                    organization.viewer.clone(),
                    domain::Permission::ManageOrganization,
                )?;
                organization.organization
            }
        };
        organization_payload(ctx, organization).await
    }

    /// Tops up the credit pool. Requires MANAGE_BILLING.
    async fn add_credits(
        &self,
        ctx: &Context<'_>,
        input: AddCreditsInput,
    ) -> Result<OrganizationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let organization = credits::add(&state.db, actor_id, organization_id, input.amount).await?;
        organization_payload(ctx, organization).await
    }

    /// Sets the STANDARD and PRO seat limits; not below the seats assigned. Requires MANAGE_BILLING.
    async fn set_seat_limits(
        &self,
        ctx: &Context<'_>,
        input: SetSeatLimitsInput,
    ) -> Result<OrganizationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let organization = seats::set_limits(
            &state.db,
            actor_id,
            organization_id,
            input.standard,
            input.pro,
        )
        .await?;
        organization_payload(ctx, organization).await
    }

    /// Hands the organization to another member; the owner becomes ADMIN. Requires TRANSFER_OWNERSHIP.
    async fn transfer_ownership(
        &self,
        ctx: &Context<'_>,
        input: TransferOwnershipInput,
    ) -> Result<TransferOwnershipPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let transfer =
            role_changes::transfer_ownership(&state.db, actor_id, organization_id, member_id)
                .await?;
        let organization = state
            .db
            .read(move |c| Box::pin(organizations::by_id(c, organization_id)))
            .await?;
        let organization = organization.ok_or(DomainError::NotFound("organization"))?;
        Ok(TransferOwnershipPayload {
            organization: Organization::after_change(ctx, organization).await?,
            previous_owner: Member(transfer.previous_owner),
            new_owner: Member(transfer.new_owner),
        })
    }

    /// Gives a member another role (never OWNER). Requires MANAGE_MEMBERS.
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateMemberRoleInput,
    ) -> Result<MemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let change =
            role_changes::update_role(&state.db, actor_id, member_id, input.role.into()).await?;
        state.loaders.forget_all();
        Ok(MemberPayload {
            member: Member(change),
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
        removal_payload(ctx, removal::remove(&state.db, actor_id, member_id).await?).await
    }

    /// Any member but the owner may leave; same effects as removal.
    async fn leave_organization(
        &self,
        ctx: &Context<'_>,
        input: LeaveOrganizationInput,
    ) -> Result<RemoveMemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        removal_payload(
            ctx,
            removal::leave(&state.db, actor_id, organization_id).await?,
        )
        .await
    }

    /// Moves credits from the pool to a member. Requires UPDATE_MEMBERS.
    async fn distribute_credits(
        &self,
        ctx: &Context<'_>,
        input: CreditsInput,
    ) -> Result<CreditsPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        credits_payload(
            ctx,
            credits::distribute(&state.db, actor_id, member_id, input.amount).await?,
        )
    }

    /// Moves credits from a member back to the pool. Requires UPDATE_MEMBERS.
    async fn reclaim_credits(
        &self,
        ctx: &Context<'_>,
        input: CreditsInput,
    ) -> Result<CreditsPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        credits_payload(
            ctx,
            credits::reclaim(&state.db, actor_id, member_id, input.amount).await?,
        )
    }

    /// Gives a member a seat, or releases it with NONE. Past the limit: LIMIT_EXCEEDED. Requires UPDATE_MEMBERS.
    async fn assign_seat(
        &self,
        ctx: &Context<'_>,
        input: AssignSeatInput,
    ) -> Result<MemberPayload> {
        let (actor_id, state) = actor(ctx)?;
        let member_id = ids::decode(&input.member_id, Kind::Member)?;
        let assignment = seats::assign(&state.db, actor_id, member_id, input.seat.into()).await?;
        state.loaders.forget_all();
        Ok(MemberPayload {
            member: Member(assignment),
        })
    }
}
