//! `GET /metrics` in Prometheus text format: GraphQL requests and their
//! latency by operation name, errors by code, connections and those closed
//! by a deadline, WebSocket connections, live
//! subscriptions, the outbox, and the database pool.
//!
//! Each server has its own registry (no global recorder), so several servers
//! in one process (the tests) keep their own figures.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::PoolStatus;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadlineLabels {
    deadline: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Operation names become labels only while there are fewer than this many,
/// so a client inventing names cannot grow the registry without bound.
const MAX_OPERATION_NAMES: usize = 256;

pub struct Metrics {
    registry: Registry,
    requests: Family<OperationLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    errors: Family<CodeLabels, Counter>,
    connections: Gauge,
    timeouts: Family<DeadlineLabels, Counter>,
    ws_connections: Gauge,
    subscriptions: Gauge,
    deliveries: Family<OutcomeLabels, Counter>,
    outbox_pending: Gauge,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    webhooks_pending: Gauge,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_waiting: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("orgql"),
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 0.5 ms to about 16 s.
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
            errors: Family::default(),
            connections: Gauge::default(),
            timeouts: Family::default(),
            ws_connections: Gauge::default(),
            subscriptions: Gauge::default(),
            deliveries: Family::default(),
            outbox_pending: Gauge::default(),
            webhook_deliveries: Family::default(),
            webhooks_pending: Gauge::default(),
            pool_connections: Gauge::default(),
            pool_idle: Gauge::default(),
            pool_waiting: Gauge::default(),
            operation_names: Mutex::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "graphql_requests",
            "GraphQL operations run, by operation name (HTTP and WebSocket)",
            metrics.requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL operation over HTTP, by operation name",
            metrics.latency.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors returned, by extensions.code",
            metrics.errors.clone(),
        );
        registry.register(
            "connections",
            "Connections open, WebSocket ones included",
            metrics.connections.clone(),
        );
        registry.register(
            "connection_timeouts",
            "Connections closed by a deadline: header (no first request in time, a slow or silent client) or idle (no next request in time)",
            metrics.timeouts.clone(),
        );
        registry.register(
            "websocket_connections",
            "WebSocket connections open",
            metrics.ws_connections.clone(),
        );
        registry.register(
            "subscriptions",
            "Subscriptions running",
            metrics.subscriptions.clone(),
        );
        registry.register(
            "mail_deliveries",
            "Outbox delivery attempts by outcome (sent, retry, failed)",
            metrics.deliveries.clone(),
        );
        registry.register(
            "outbox_pending_messages",
            "Messages waiting in the outbox",
            metrics.outbox_pending.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retry, failed)",
            metrics.webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_pending_deliveries",
            "Webhook deliveries waiting to be delivered",
            metrics.webhooks_pending.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections open",
            metrics.pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Database connections open and not in use",
            metrics.pool_idle.clone(),
        );
        registry.register(
            "db_pool_waiting",
            "Tasks waiting for a database connection",
            metrics.pool_waiting.clone(),
        );
        metrics
    }
}

impl Metrics {
    /// Counts one GraphQL operation by name, and how long it took when it
    /// is a request (a subscription's time is its client's).
    pub fn record_operation(&self, operation: Option<&str>, elapsed: Option<Duration>) {
        let labels = OperationLabels {
            operation: self.operation_label(operation),
        };
        self.requests.get_or_create(&labels).inc();
        if let Some(elapsed) = elapsed {
            self.latency
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Counts errors returned, by code.
    pub fn record_errors<'a>(&self, codes: impl IntoIterator<Item = &'a str>) {
        for code in codes {
            self.errors
                .get_or_create(&CodeLabels {
                    code: code.to_owned(),
                })
                .inc();
        }
    }

    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation else {
            return "(anonymous)".into();
        };
        let is_name = name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut known = self.operation_names.lock().expect("not poisoned");
        if is_name && (known.contains(name) || known.len() < MAX_OPERATION_NAMES) {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "(other)".into()
        }
    }

    /// Held while a connection is open.
    pub fn connection(&self) -> GaugeGuard {
        GaugeGuard::new(&self.connections)
    }

    /// Counts a connection closed by `deadline` ("header" or "idle").
    pub fn connection_timed_out(&self, deadline: &'static str) {
        self.timeouts
            .get_or_create(&DeadlineLabels { deadline })
            .inc();
    }

    /// Held while a WebSocket connection is open.
    pub fn ws_connection(&self) -> GaugeGuard {
        GaugeGuard::new(&self.ws_connections)
    }

    /// Held while a subscription runs.
    pub fn subscription(&self) -> GaugeGuard {
        GaugeGuard::new(&self.subscriptions)
    }

    pub fn mail_delivery(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The text exposition, with the queues (those that could be counted)
    /// and the pool as they are now.
    pub fn render(&self, readings: Readings) -> String {
        if let Some(pending) = readings.outbox_pending {
            self.outbox_pending.set(pending);
        }
        if let Some(pending) = readings.webhooks_pending {
            self.webhooks_pending.set(pending);
        }
        let pool = readings.pool;
        self.pool_connections.set(pool.size as i64);
        self.pool_idle.set(pool.available as i64);
        self.pool_waiting.set(pool.waiting as i64);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// What is read from the database when the metrics are scraped.
pub struct Readings {
    pub outbox_pending: Option<i64>,
    pub webhooks_pending: Option<i64>,
    pub pool: PoolStatus,
}

/// Adds one to a gauge, and takes it off again when dropped.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: &Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
