//! Webhook delivery: a worker per instance that posts each queued delivery,
//! signed, to its endpoint, and records the outcome. What a message says,
//! and when it is retried, is the domain's (`domain::webhooks`).
//!
//! Each endpoint is delivered to by a task of its own, one message at a
//! time and oldest first, so a slow or dead endpoint delays only itself;
//! posts time out after 10 s, follow no redirect and read at most 4 KiB of
//! the answer. Every address a name resolves to is checked before orgql
//! connects to it (see [`resolver`]), so no endpoint reaches a private
//! network unless the operator allows it.

mod resolver;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::db::Db;
use crate::domain::webhooks::{self, Attempt, DeliveryState, Outcome, WebhookSettings};
use crate::metrics::Metrics;

const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (for the error it may explain).
const MAX_ANSWER_BYTES: usize = 4 * 1024;
/// Deliveries an endpoint's task claims at once; each claim lasts the
/// lease, renewed after every attempt, so the claims of an instance that
/// died lapse soon.
const BATCH: i64 = 10;
const LEASE: chrono::Duration = chrono::Duration::seconds(15);
/// The longest the worker sleeps without a commit of this instance waking
/// it: deliveries another instance queued and then could not send wait at
/// most this long. (Retries wake it when they come due.)
const IDLE: Duration = Duration::from_secs(5);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

pub struct WebhookWorker {
    pub db: Db,
    pub settings: WebhookSettings,
    /// How long delivered and failed deliveries are kept.
    pub retention: Duration,
    pub metrics: Arc<Metrics>,
    /// Whose claims this worker's are: the same after a restart.
    pub instance: String,
}

/// Stops the worker.
pub struct WebhookHandle {
    stop: watch::Sender<bool>,
}

impl WebhookHandle {
    /// Asks the worker to stop after the attempts in flight.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl WebhookWorker {
    pub fn spawn(self) -> (WebhookHandle, JoinHandle<()>) {
        let (stop, stopped) = watch::channel(false);
        (WebhookHandle { stop }, tokio::spawn(self.run(stopped)))
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        // Claims this instance held when it last stopped died with it.
        match webhooks::release_claims_of(&self.db, &self.instance).await {
            Ok(0) => {}
            Ok(released) => {
                tracing::info!(released, "webhooks claimed before a restart are due again")
            }
            Err(error) => error.log_background("cannot release old webhook claims"),
        }
        let sender = Arc::new(Sender {
            instance: self.instance.clone(),
            db: self.db.clone(),
            client: client(self.settings),
            settings: self.settings,
            metrics: self.metrics.clone(),
            stopped: stopped.clone(),
        });
        let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let mut endpoints = JoinSet::new();
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        let mut queued = self.db.wakes(webhooks::QUEUE);
        let busy_now =
            || -> Vec<i64> { busy.lock().expect("not poisoned").iter().copied().collect() };
        while !*stopped.borrow() {
            match webhooks::due_endpoints(&self.db, busy_now(), 100).await {
                Ok(due) => {
                    for endpoint_id in due {
                        busy.lock().expect("not poisoned").insert(endpoint_id);
                        let (sender, busy) = (sender.clone(), busy.clone());
                        endpoints.spawn(async move {
                            sender.deliver_to(endpoint_id).await;
                            busy.lock().expect("not poisoned").remove(&endpoint_id);
                        });
                    }
                }
                Err(error) => error.log_background("cannot read the webhook queue"),
            }
            let wait = self.until_next_due(busy_now()).await;
            tokio::select! {
                _ = queued.changed() => {
                    // A burst of commits is looked at once.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ = tokio::time::sleep(wait) => {}
                Some(_) = endpoints.join_next() => {}
                _ = prune.tick() => self.prune().await,
                _ = stopped.changed() => {}
            }
        }
        // The attempts in flight finish (each within its timeout).
        while endpoints.join_next().await.is_some() {}
    }

    /// How long until a delivery of an endpoint not in `busy` comes due, at
    /// most [`IDLE`]. (A busy endpoint's task ending wakes the worker.)
    async fn until_next_due(&self, busy: Vec<i64>) -> Duration {
        match webhooks::next_due(&self.db, busy).await {
            Ok(Some(due)) => (due - crate::domain::now())
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(50), IDLE),
            Ok(None) => IDLE,
            Err(_) => Duration::from_secs(1),
        }
    }

    async fn prune(&self) {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        match webhooks::prune(&self.db, crate::domain::now() - retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "pruned webhook deliveries past their retention"),
            Err(error) => error.log_background("cannot prune webhook deliveries"),
        }
    }
}

/// Posts deliveries and records their outcomes.
struct Sender {
    instance: String,
    db: Db,
    client: reqwest::Client,
    settings: WebhookSettings,
    metrics: Arc<Metrics>,
    stopped: watch::Receiver<bool>,
}

impl Sender {
    /// Delivers an endpoint's due deliveries, one at a time, oldest first.
    async fn deliver_to(&self, endpoint_id: i64) {
        loop {
            let claimed =
                match webhooks::claim(&self.db, &self.instance, endpoint_id, BATCH, LEASE).await {
                    Ok(claimed) if !claimed.is_empty() => claimed,
                    Ok(_) => return,
                    Err(error) => {
                        let _endpoint = tracing::info_span!("endpoint", endpoint_id).entered();
                        error.log_background("cannot claim webhook deliveries");
                        return;
                    }
                };
            let mut rest: Vec<i64> = claimed.iter().map(|a| a.delivery_id).collect();
            for attempt in claimed {
                if *self.stopped.borrow() {
                    // The rest of the claim lapses within a lease.
                    return;
                }
                rest.retain(|id| *id != attempt.delivery_id);
                let outcome = self.post(&attempt).await;
                self.record(endpoint_id, &attempt, outcome, &rest).await;
            }
        }
    }

    async fn post(&self, attempt: &Attempt) -> Outcome {
        let refused = |error: String| Outcome::Failed {
            status: None,
            error,
        };
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
                    true => Outcome::Delivered {
                        status: status.as_u16(),
                    },
                    false => Outcome::Failed {
                        status: Some(status.as_u16()),
                        error: format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&answer)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        ),
                    },
                }
            }
            Err(error) => refused(describe(&error)),
        }
    }

    async fn record(&self, endpoint_id: i64, attempt: &Attempt, outcome: Outcome, rest: &[i64]) {
        let error = match &outcome {
            Outcome::Delivered { .. } => None,
            Outcome::Failed { error, .. } => Some(error.clone()),
        };
        match webhooks::record_outcome(&self.db, attempt, outcome, rest.to_vec(), LEASE).await {
            Ok(DeliveryState::Delivered) => self.metrics.webhook_delivery("delivered"),
            Ok(state) => {
                let failed = state == DeliveryState::Failed;
                self.metrics
                    .webhook_delivery(if failed { "failed" } else { "retry" });
                tracing::warn!(
                    endpoint_id, message_id = %attempt.message_id, attempt = attempt.attempts,
                    error = error.unwrap_or_default(), gave_up = failed,
                    "a webhook delivery attempt failed"
                );
            }
            Err(error) => {
                let _delivery =
                    tracing::info_span!("delivery", delivery_id = attempt.delivery_id).entered();
                error.log_background("cannot record a webhook delivery's outcome");
            }
        }
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
