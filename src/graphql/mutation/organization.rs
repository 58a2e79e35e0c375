use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::access::Standing;
use crate::domain::{self, DomainError, Permission, credits, organizations, role_changes, seats};
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{Member, Organization};

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

impl OrganizationPayload {
    /// Answers a mutation that changed one organization.
    pub async fn after_change(
        ctx: &Context<'_>,
        organization: domain::organizations::Organization,
    ) -> Result<OrganizationPayload> {
        Ok(OrganizationPayload {
            organization: Organization::after_change(ctx, organization).await?,
        })
    }
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

/// Organizations: creation, settings, the credit pool and seat limits, and
/// ownership.
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
        let (actor_id, state) = actor(ctx)?;
        let (organization, owner) =
            organizations::create(state.db(), actor_id, &input.name, input.slug.as_deref()).await?;
        Ok(OrganizationPayload {
            organization: Organization {
                organization,
                standing: Standing::Member(owner),
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
                state
                    .change(async |db| {
                        organizations::rename(db, actor_id, organization_id, &name).await
                    })
                    .await?
            }
            None => {
                let organization = Organization::require_visible(ctx, organization_id).await?;
                organization
                    .standing
                    .require(Permission::ManageOrganization)?;
                organization.organization
            }
        };
        OrganizationPayload::after_change(ctx, organization).await
    }

    /// Tops up the credit pool. Requires MANAGE_BILLING.
    async fn add_credits(
        &self,
        ctx: &Context<'_>,
        input: AddCreditsInput,
    ) -> Result<OrganizationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let organization = state
            .change(async |db| credits::add(db, actor_id, organization_id, input.amount).await)
            .await?;
        OrganizationPayload::after_change(ctx, organization).await
    }

    /// Sets the STANDARD and PRO seat limits; not below the seats assigned. Requires MANAGE_BILLING.
    async fn set_seat_limits(
        &self,
        ctx: &Context<'_>,
        input: SetSeatLimitsInput,
    ) -> Result<OrganizationPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let organization = state
            .change(async |db| {
                seats::set_limits(db, actor_id, organization_id, input.standard, input.pro).await
            })
            .await?;
        OrganizationPayload::after_change(ctx, organization).await
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
        let transfer = state
            .change(async |db| {
                role_changes::transfer_ownership(db, actor_id, organization_id, member_id).await
            })
            .await?;
        let organization = state
            .read(async |c| organizations::by_id(c, organization_id).await)
            .await?;
        let organization = organization.ok_or(DomainError::NotFound("organization"))?;
        Ok(TransferOwnershipPayload {
            organization: Organization::after_change(ctx, organization).await?,
            previous_owner: Member::from(transfer.previous_owner),
            new_owner: Member::from(transfer.new_owner),
        })
    }
}
