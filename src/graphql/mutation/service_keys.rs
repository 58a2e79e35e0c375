use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::service_keys;
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::ServiceKey;

#[derive(InputObject)]
pub struct CreateServiceKeyInput {
    pub organization_id: ID,
    pub name: String,
}

/// secret is shown once.
#[derive(SimpleObject)]
pub struct CreateServiceKeyPayload {
    pub service_key: ServiceKey,
    pub secret: String,
}

#[derive(InputObject)]
pub struct ServiceKeyIdInput {
    pub service_key_id: ID,
}

#[derive(SimpleObject)]
pub struct ServiceKeyPayload {
    pub service_key: ServiceKey,
}

/// Keys for the product's services.
#[derive(Default)]
pub struct ServiceKeyMutation;

#[Object]
impl ServiceKeyMutation {
    /// A key for one of the product's services; its secret is shown once. Requires MANAGE_ORGANIZATION.
    async fn create_service_key(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceKeyInput,
    ) -> Result<CreateServiceKeyPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let (key, secret) =
            service_keys::create(state.db(), actor_id, organization_id, &input.name).await?;
        Ok(CreateServiceKeyPayload {
            service_key: ServiceKey(key),
            secret,
        })
    }

    /// The key stops working on the next request, and its subscriptions close. Requires MANAGE_ORGANIZATION.
    async fn revoke_service_key(
        &self,
        ctx: &Context<'_>,
        input: ServiceKeyIdInput,
    ) -> Result<ServiceKeyPayload> {
        let (actor_id, state) = actor(ctx)?;
        let key_id = ids::decode(&input.service_key_id, Kind::ServiceKey)?;
        let key = service_keys::revoke(state.db(), actor_id, key_id).await?;
        Ok(ServiceKeyPayload {
            service_key: ServiceKey(key),
        })
    }
}
