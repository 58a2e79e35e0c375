use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use crate::domain::webhooks::{self, EndpointChange};
use crate::graphql::context::actor;
use crate::graphql::ids::{self, Kind};
use crate::graphql::types::{WebhookDelivery, WebhookEndpoint};

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    pub organization_id: ID,
    pub url: String,
    /// The audit log's action names to deliver; empty or omitted: every one.
    pub event_types: Option<Vec<String>>,
}

/// secret (whsec_...) is shown once.
#[derive(SimpleObject)]
pub struct CreateWebhookEndpointPayload {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub endpoint_id: ID,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    pub endpoint: WebhookEndpoint,
}

#[derive(InputObject)]
pub struct WebhookEndpointIdInput {
    pub endpoint_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    pub deleted_endpoint_id: ID,
}

#[derive(InputObject)]
pub struct WebhookDeliveryIdInput {
    pub delivery_id: ID,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryPayload {
    pub delivery: WebhookDelivery,
}

/// Webhook endpoints and their deliveries.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// A new endpoint (https; private networks are refused). Requires MANAGE_ORGANIZATION.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<CreateWebhookEndpointPayload> {
        let (actor_id, state) = actor(ctx)?;
        let organization_id = ids::decode(&input.organization_id, Kind::Organization)?;
        let settings = state.services.webhooks;
        let event_types = input.event_types.unwrap_or_default();
        let (endpoint, secret) = webhooks::create(
            state.db(),
            settings,
            actor_id,
            organization_id,
            &input.url,
            &event_types,
        )
        .await?;
        Ok(CreateWebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Changes an endpoint's URL, event types or whether it is enabled. Requires MANAGE_ORGANIZATION.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        let (actor_id, state) = actor(ctx)?;
        let endpoint_id = ids::decode(&input.endpoint_id, Kind::WebhookEndpoint)?;
        let change = EndpointChange {
            url: input.url,
            event_types: input.event_types,
            enabled: input.enabled,
        };
        let settings = state.services.webhooks;
        let endpoint =
            webhooks::update(state.db(), settings, actor_id, endpoint_id, change).await?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
        })
    }

    /// Deletes an endpoint and its deliveries. Requires MANAGE_ORGANIZATION.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointIdInput,
    ) -> Result<DeleteWebhookEndpointPayload> {
        let (actor_id, state) = actor(ctx)?;
        let endpoint_id = ids::decode(&input.endpoint_id, Kind::WebhookEndpoint)?;
        let endpoint = webhooks::delete(state.db(), actor_id, endpoint_id).await?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_endpoint_id: ids::encode(Kind::WebhookEndpoint, endpoint.id),
        })
    }

    /// A new attempt of a delivery, with the same webhook-id.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        input: WebhookDeliveryIdInput,
    ) -> Result<WebhookDeliveryPayload> {
        let (actor_id, state) = actor(ctx)?;
        let delivery_id = ids::decode(&input.delivery_id, Kind::WebhookDelivery)?;
        let delivery = webhooks::redeliver(state.db(), actor_id, delivery_id).await?;
        Ok(WebhookDeliveryPayload {
            delivery: WebhookDelivery(delivery),
        })
    }
}
