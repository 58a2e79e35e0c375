use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::connection::connection;
use super::{WebhookDeliveryConnection, timestamp};
use crate::domain::pagination::PageArgs;
use crate::domain::webhooks;
use crate::graphql::ids::{self, Kind};

/// An endpoint of the product that receives the organization's changes as Standard
/// Webhooks: headers webhook-id, webhook-timestamp and webhook-signature (v1,
/// HMAC-SHA256 keyed by the endpoint's whsec_ secret), body
/// {"type": <event type>, "timestamp": <RFC 3339>, "data": {...}}. Event types are the
/// audit log's action names (member.joined, member.role_changed, member.removed, ...).
/// A change and its deliveries commit in one transaction; failed attempts are retried
/// with backoff, with the same webhook-id.
#[derive(Clone)]
pub struct WebhookEndpoint(pub webhooks::Endpoint);

#[Object]
impl WebhookEndpoint {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::WebhookEndpoint, self.0.id)
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The event types delivered; empty means all.
    async fn event_types(&self) -> Vec<String> {
        self.0.event_types()
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    /// Newest first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        let args = PageArgs::new(first, after, None, None);
        let endpoint_id = self.0.id;
        connection(
            ctx,
            async |c| webhooks::list_deliveries(c, endpoint_id, &args).await,
            async |c| webhooks::count_deliveries(c, endpoint_id).await,
            WebhookDelivery,
        )
        .await
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::webhooks::DeliveryState")]
pub enum WebhookDeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

#[derive(Clone)]
pub struct WebhookDelivery(pub webhooks::Delivery);

#[Object]
impl WebhookDelivery {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::WebhookDelivery, self.0.id)
    }
    /// The webhook-id header: the same on every attempt, so a receiver can drop repeats.
    async fn message_id(&self) -> &str {
        &self.0.message_id
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// The HTTP status of the last attempt; null when none answered.
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_response_status
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at.map(timestamp)
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt().map(timestamp)
    }
}
