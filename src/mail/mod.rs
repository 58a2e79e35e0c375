//! Outgoing mail, delivery only: the outbox worker and its transports
//! (SMTP, or .eml files when no SMTP server is configured). What a message
//! says is the domain's.

mod transport;

use std::sync::Arc;
use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use transport::SendError;
pub use transport::{MailSetupError, Transport, parse_from};

use crate::db::Db;
use crate::domain::outbox::{self, QueuedMail};

/// Messages claimed per round.
const BATCH: i64 = 10;
/// How long a claimed message is reserved for its worker.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How often the outbox is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Delivers the outbox: claims due messages, sends them, and marks each
/// sent, retried later (exponential backoff up to `retry_max`), or failed.
pub struct OutboxWorker {
    pub db: Db,
    pub transport: Transport,
    pub from: Mailbox,
    pub retry_max: Duration,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Wakes the worker (after a commit that queued mail) and stops it.
#[derive(Clone)]
pub struct OutboxHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl OutboxHandle {
    /// New mail was committed: deliver it now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Asks the worker to stop after the message it is sending.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl OutboxWorker {
    pub fn spawn(self) -> (OutboxHandle, JoinHandle<()>) {
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let handle = OutboxHandle {
            wake: wake.clone(),
            stop,
        };
        (handle, tokio::spawn(self.run(wake, stopped)))
    }

    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        while !*stopped.borrow() {
            let claimed = match outbox::claim_due(&self.db, BATCH, LEASE).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = ?error, "cannot read the outbox");
                    Vec::new()
                }
            };
            let idle = claimed.is_empty();
            for mail in claimed {
                self.deliver(mail).await;
                if *stopped.borrow() {
                    return;
                }
            }
            if idle {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stopped.changed() => {}
                }
            }
        }
    }

    async fn deliver(&self, mail: QueuedMail) {
        let outcome = match self.message(&mail) {
            Ok(message) => self.transport.send(message).await,
            Err(reason) => Err(SendError {
                permanent: true,
                reason,
            }),
        };
        let marked = match outcome {
            Ok(()) => {
                if let Transport::Files(_) = self.transport {
                    // No mail server in development: show where the link went.
                    let links: Vec<&str> = mail
                        .text_body
                        .lines()
                        .filter(|l| l.starts_with("http"))
                        .collect();
                    tracing::info!(
                        to = %mail.recipient, subject = %mail.subject, links = ?links,
                        "mail written as .eml"
                    );
                } else {
                    tracing::info!(to = %mail.recipient, outbox_id = mail.id, "mail sent");
                }
                self.metrics.mail_delivery("sent");
                outbox::mark_sent(&self.db, mail.id).await
            }
            Err(SendError {
                permanent: true,
                reason,
            }) => {
                tracing::error!(to = %mail.recipient, outbox_id = mail.id, %reason, "mail refused for good");
                self.metrics.mail_delivery("failed");
                outbox::mark_failed(&self.db, mail.id, reason).await
            }
            Err(SendError {
                permanent: false,
                reason,
            }) => {
                self.metrics.mail_delivery("retry");
                let delay = backoff(mail.attempts, self.retry_max);
                tracing::warn!(
                    to = %mail.recipient, outbox_id = mail.id, attempts = mail.attempts,
                    retry_in = ?delay, %reason, "mail delayed"
                );
                let retry_at =
                    crate::domain::now() + chrono::Duration::from_std(delay).unwrap_or(LEASE);
                outbox::mark_retry(&self.db, mail.id, retry_at, reason).await
            }
        };
        if let Err(error) = marked {
            tracing::error!(outbox_id = mail.id, error = ?error, "cannot record the delivery outcome");
        }
    }

    fn message(&self, mail: &QueuedMail) -> Result<Message, String> {
        let to = mail
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient {:?}: {e}", mail.recipient))?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.text_body.clone(),
                mail.html_body.clone(),
            ))
            .map_err(|e| e.to_string())
    }
}

/// 1 s after the first failure, doubling, at most `max`.
fn backoff(attempts: i32, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    Duration::from_secs(1u64 << exponent).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let max = Duration::from_secs(300);
        let delays: Vec<u64> = (1..=11).map(|n| backoff(n, max).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
