//! Webhook delivery: the sender of the deliveries' worker, which posts each
//! one, signed, to its endpoint. What a message says, and when it is
//! retried, is the domain's (`domain::webhooks`); the worker's loop is
//! [`crate::worker`]'s.
//!
//! Each endpoint is a lane of the queue, delivered to by a task of its own,
//! one message at a time and oldest first, so a slow or dead endpoint
//! delays only itself; posts time out after 10 s, follow no redirect and read at most 4 KiB of
//! the answer. Every address a name resolves to is checked before orgql
//! connects to it (see [`resolver`]), so no endpoint reaches a private
//! network unless the operator allows it.

mod resolver;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::db::Db;
use crate::domain::lease_queue::{Claimed, Lease, Outcome, Settled};
use crate::domain::webhooks::{self, Attempt, Deliveries, WebhookSettings};
use crate::metrics::Metrics;
use crate::worker::{self, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (for the error it may explain).
const MAX_ANSWER_BYTES: usize = 4 * 1024;
/// Deliveries an endpoint's task claims at once; each claim lasts the
/// lease, renewed after every attempt, so the claims of an instance that
/// died lapse soon.
const BATCH: i64 = 10;
const LEASE: chrono::Duration = chrono::Duration::seconds(15);

pub struct WebhookWorker {
    pub db: Db,
    pub settings: WebhookSettings,
    /// How long delivered and failed deliveries are kept.
    pub retention: Duration,
    pub metrics: Arc<Metrics>,
    /// Whose claims this worker's are: the same after a restart.
    pub instance: String,
}

impl WebhookWorker {
    pub fn spawn(self) -> (worker::Handle, JoinHandle<()>) {
        Worker {
            db: self.db,
            sender: Poster {
                client: client(self.settings),
                settings: self.settings,
                metrics: self.metrics,
            },
            lease: Lease {
                instance: self.instance,
                duration: LEASE,
                batch: BATCH,
            },
            retry: webhooks::RETRY,
            retention: Some(self.retention),
        }
        .spawn()
    }
}

/// Posts deliveries.
struct Poster {
    client: reqwest::Client,
    settings: WebhookSettings,
    metrics: Arc<Metrics>,
}

impl worker::Sender for Poster {
    type Queue = Deliveries;

    async fn send(&self, delivery: &Claimed<Attempt>) -> Outcome {
        let attempt = &delivery.item;
        let refused = |error: String| failed(None, error);
        let Ok(url) = reqwest::Url::parse(&attempt.url) else {
            return refused("the endpoint URL does not parse".into());
        };
        // A literal address is not resolved, so it is checked here.
        if !self.settings.allow_private_networks
            && let Some(found) = webhooks::literal_address(&url).and_then(webhooks::forbidden)
        {
            return refused(resolver::refusal(&found));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = webhooks::sign(
            &attempt.secret,
            &attempt.message_id,
            timestamp,
            &attempt.payload,
        );
        let request = self
            .client
            .post(url)
            .header("webhook-id", &attempt.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(attempt.payload.clone());
        match request.send().await {
            Ok(mut response) => {
                let status = response.status();
                let mut answer = Vec::new();
                while answer.len() < MAX_ANSWER_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                answer.truncate(MAX_ANSWER_BYTES);
                match status.is_success() {
                    true => Outcome::Done {
                        status: Some(i32::from(status.as_u16())),
                    },
                    false => failed(
                        Some(status.as_u16()),
                        format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&answer)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        ),
                    ),
                }
            }
            Err(error) => refused(describe(&error)),
        }
    }

    fn report(&self, delivery: &Claimed<Attempt>, outcome: &Outcome, settled: Settled) {
        let gave_up = match settled {
            Settled::Done => return self.metrics.webhook_delivery("delivered"),
            Settled::Retry { .. } => false,
            Settled::GaveUp => true,
        };
        self.metrics
            .webhook_delivery(if gave_up { "failed" } else { "retry" });
        let attempt = &delivery.item;
        tracing::warn!(
            endpoint_id = attempt.endpoint_id, message_id = %attempt.message_id,
            attempt = delivery.attempts, error = outcome.error().unwrap_or_default(), gave_up,
            "a webhook delivery attempt failed"
        );
    }
}

/// A failed attempt: none is permanent, since a receiver that refuses (or a
/// name that resolves to a refused address) may recover within the
/// deliveries' three days.
fn failed(status: Option<u16>, error: String) -> Outcome {
    Outcome::Failed {
        status: status.map(i32::from),
        error,
        permanent: false,
    }
}

/// The whole chain of an error: reqwest's own message names only its kind.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn client(settings: WebhookSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("orgql-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(resolver::CheckedResolver::new(settings)))
        .build()
        .expect("an HTTP client builds")
}
