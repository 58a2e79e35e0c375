//! How mail leaves: an SMTP server, or .eml files in a folder.

use std::path::Path;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why mail cannot be set up; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("--smtp-url / SMTP_URL: {0}")]
    SmtpUrl(String),
    #[error(
        "--mail-from / MAIL_FROM: {0:?} is not an address (e.g. \"orgql <noreply@example.com>\")"
    )]
    From(String),
    #[error("--mail-dir / MAIL_DIR: cannot create {dir}: {reason}")]
    Dir { dir: String, reason: String },
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Writes each message as a .eml file: `cargo run` needs no mail server.
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// A failed delivery: a temporary one is retried, a permanent one is not.
pub(super) struct SendError {
    pub(super) permanent: bool,
    pub(super) reason: String,
}

impl Transport {
    pub fn new(smtp_url: Option<&str>, mail_dir: &Path) -> Result<Transport, MailSetupError> {
        match smtp_url {
            Some(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| {
                    MailSetupError::SmtpUrl(format!(
                        "{e} (use smtp://user:pass@host:port or smtps://…)"
                    ))
                })?;
                Ok(Transport::Smtp(
                    builder.timeout(Some(Duration::from_secs(30))).build(),
                ))
            }
            None => {
                std::fs::create_dir_all(mail_dir).map_err(|e| MailSetupError::Dir {
                    dir: mail_dir.display().to_string(),
                    reason: e.to_string(),
                })?;
                Ok(Transport::Files(AsyncFileTransport::new(mail_dir)))
            }
        }
    }

    pub(super) async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| SendError {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            }),
            Transport::Files(files) => files.send(message).await.map(drop).map_err(|e| SendError {
                permanent: false,
                reason: e.to_string(),
            }),
        }
    }
}

pub fn parse_from(from: &str) -> Result<Mailbox, MailSetupError> {
    from.parse()
        .map_err(|_| MailSetupError::From(from.to_owned()))
}
