//! Outgoing mail, delivery only: the outbox worker and its transports
//! (SMTP, or .eml files when no SMTP server is configured). What a message
//! says is the domain's.

mod transport;

use std::sync::Arc;
use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use transport::SendError;
pub use transport::{MailSetupError, Transport, parse_from};

use crate::db::Db;
use crate::domain::outbox::{self, MailOutcome, QueuedMail};

/// Messages claimed per round.
const BATCH: i64 = 10;
/// How long a claim lasts: longer than one SMTP exchange may take (its
/// timeout is 30 s); renewed after each message of a batch.
const LEASE: chrono::Duration = chrono::Duration::seconds(45);
/// The longest the worker sleeps without a commit of this instance waking
/// it: mail another instance queued and then could not send waits at most
/// this long. (Retries wake it when they come due.)
const IDLE: Duration = Duration::from_secs(5);

/// Delivers the outbox: claims due messages, sends them, and marks each
/// sent, retried later (exponential backoff up to `retry_max`), or failed.
pub struct OutboxWorker {
    pub db: Db,
    pub transport: Transport,
    pub from: Mailbox,
    pub retry_max: Duration,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whose claims this worker's are: the same after a restart.
    pub instance: String,
}

/// Stops the worker. (The commits that queue mail wake it.)
pub struct OutboxHandle {
    stop: watch::Sender<bool>,
}

impl OutboxHandle {
    /// Asks the worker to stop after the message it is sending.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl OutboxWorker {
    pub fn spawn(self) -> (OutboxHandle, JoinHandle<()>) {
        let (stop, stopped) = watch::channel(false);
        (OutboxHandle { stop }, tokio::spawn(self.run(stopped)))
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut queued = self.db.wakes(outbox::QUEUE);
        // Claims this instance held when it last stopped died with it.
        match outbox::release_claims_of(&self.db, &self.instance).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "mail claimed before a restart is due again"),
            Err(error) => error.log_background("cannot release the outbox's old claims"),
        }
        while !*stopped.borrow() {
            let wait = match outbox::next_due(&self.db).await {
                Ok(Some(due)) => (due - crate::domain::now()).to_std().unwrap_or_default(),
                Ok(None) => IDLE,
                Err(error) => {
                    error.log_background("cannot read the outbox");
                    IDLE
                }
            };
            if wait.is_zero() {
                self.deliver_due(&stopped).await;
                continue;
            }
            tokio::select! {
                _ = queued.changed() => {}
                _ = tokio::time::sleep(wait.min(IDLE)) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// Claims a batch of due messages and sends them, one at a time, until
    /// told to stop (the rest of the claim lapses, or is taken back when
    /// this instance starts again).
    async fn deliver_due(&self, stopped: &watch::Receiver<bool>) {
        let claimed = match outbox::claim_due(&self.db, &self.instance, BATCH, LEASE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                error.log_background("cannot claim mail to send");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        };
        let mut rest: Vec<i64> = claimed.iter().map(|mail| mail.id).collect();
        for mail in claimed {
            if *stopped.borrow() {
                return;
            }
            rest.retain(|id| *id != mail.id);
            self.deliver(mail, &rest).await;
        }
    }

    /// Sends one message and records the outcome, renewing the claim on
    /// `rest` (the batch's messages still to send).
    async fn deliver(&self, mail: QueuedMail, rest: &[i64]) {
        let outcome = match self.message(&mail) {
            Ok(message) => self.transport.send(message).await,
            Err(reason) => Err(SendError {
                permanent: true,
                reason,
            }),
        };
        let outcome = match outcome {
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
                MailOutcome::Sent
            }
            Err(SendError {
                permanent: true,
                reason,
            }) => {
                tracing::error!(to = %mail.recipient, outbox_id = mail.id, %reason, "mail refused for good");
                self.metrics.mail_delivery("failed");
                MailOutcome::Failed { error: reason }
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
                MailOutcome::Retry {
                    at: retry_at,
                    error: reason,
                }
            }
        };
        if let Err(error) = outbox::record(&self.db, mail.id, outcome, rest.to_vec(), LEASE).await {
            let _mail = tracing::info_span!("mail", outbox_id = mail.id).entered();
            error.log_background("cannot record the delivery outcome");
        }
    }

    fn message(&self, mail: &QueuedMail) -> Result<Message, String> {
        let to = mail
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient {:?}: {e}", mail.recipient))?;
        Message::builder()
            .message_id(Some(mail.message_id(self.from.email.domain())))
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
