//! Outgoing mail, delivery only: the outbox's sender and its transports
//! (SMTP, or .eml files when no SMTP server is configured). What a message
//! says is the domain's; the worker's loop is [`crate::worker`]'s.

mod transport;

use std::sync::Arc;
use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use tokio::task::JoinHandle;

use transport::SendError;
pub use transport::{MailSetupError, Transport, parse_from};

use crate::db::Db;
use crate::domain::lease_queue::{Claimed, Lease, Outcome, Settled};
use crate::domain::outbox::{self, Outbox, QueuedMail};
use crate::worker::{self, Worker};

/// Messages claimed per round.
const BATCH: i64 = 10;
/// How long a claim lasts: longer than one SMTP exchange may take (its
/// timeout is 30 s); renewed after each message of a batch.
const LEASE: chrono::Duration = chrono::Duration::seconds(45);

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

impl OutboxWorker {
    pub fn spawn(self) -> (worker::Handle, JoinHandle<()>) {
        Worker {
            db: self.db,
            sender: Mailer {
                transport: self.transport,
                from: self.from,
                metrics: self.metrics,
            },
            lease: Lease {
                instance: self.instance,
                duration: LEASE,
                batch: BATCH,
            },
            retry: outbox::retry(self.retry_max),
            // Sent mail stays (without its bodies).
            retention: None,
        }
        .spawn()
    }
}

/// Sends the outbox's messages.
struct Mailer {
    transport: Transport,
    from: Mailbox,
    metrics: Arc<crate::metrics::Metrics>,
}

impl worker::Sender for Mailer {
    type Queue = Outbox;

    async fn send(&self, mail: &Claimed<QueuedMail>) -> Outcome {
        let sent = match self.message(mail) {
            Ok(message) => self.transport.send(message).await,
            Err(reason) => Err(SendError {
                permanent: true,
                reason,
            }),
        };
        match sent {
            Ok(()) => Outcome::Done { status: None },
            Err(SendError { permanent, reason }) => Outcome::Failed {
                status: None,
                error: reason,
                permanent,
            },
        }
    }

    fn report(&self, mail: &Claimed<QueuedMail>, outcome: &Outcome, settled: Settled) {
        let (outbox_id, to) = (mail.id, &mail.item.recipient);
        let reason = outcome.error().unwrap_or_default();
        match settled {
            Settled::Done => {
                if let Transport::Files(_) = self.transport {
                    // No mail server in development: show where the link went.
                    let links: Vec<&str> = mail
                        .item
                        .text_body
                        .lines()
                        .filter(|l| l.starts_with("http"))
                        .collect();
                    tracing::info!(
                        %to, subject = %mail.item.subject, links = ?links,
                        "mail written as .eml"
                    );
                } else {
                    tracing::info!(%to, outbox_id, "mail sent");
                }
                self.metrics.mail_delivery("sent");
            }
            Settled::GaveUp => {
                tracing::error!(%to, outbox_id, %reason, "mail refused for good");
                self.metrics.mail_delivery("failed");
            }
            Settled::Retry { at } => {
                self.metrics.mail_delivery("retry");
                tracing::warn!(
                    %to, outbox_id, attempts = mail.attempts, retry_at = %at, %reason,
                    "mail delayed"
                );
            }
        }
    }
}

impl Mailer {
    fn message(&self, mail: &Claimed<QueuedMail>) -> Result<Message, String> {
        let to = mail
            .item
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient {:?}: {e}", mail.item.recipient))?;
        Message::builder()
            .message_id(Some(mail.message_id(self.from.email.domain())))
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.item.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.item.text_body.clone(),
                mail.item.html_body.clone(),
            ))
            .map_err(|e| e.to_string())
    }
}
