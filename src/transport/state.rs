//! What both transports share with every request.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use tokio::sync::{Semaphore, watch};

use crate::graphql::{OrgSchema, QueryLimits, Services};
use crate::metrics::Metrics;
use crate::oidc::Provider;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    /// The identity provider whose tokens are trusted, if any.
    pub provider: Option<Arc<Provider>>,
    pub schema: OrgSchema,
    pub limits: QueryLimits,
    /// Where the client's address is, when a proxy forwards every request.
    pub client_ip_header: Option<HeaderName>,
    pub metrics: Arc<Metrics>,
    pub websockets: WebSocketSettings,
}

#[derive(Clone)]
pub struct WebSocketSettings {
    /// How long a client has to send connection_init.
    pub init_timeout: Duration,
    pub max_subscriptions: usize,
    /// A permit per open connection; none left, and upgrades are refused.
    pub connections: Arc<Semaphore>,
    /// Becomes true when the server shuts down: every connection closes.
    pub shutdown: watch::Receiver<bool>,
}
