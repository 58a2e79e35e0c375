//! A real SMTP server on loopback, inside the test process: it speaks
//! enough of RFC 5321 for lettre and keeps every message it accepts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), with transfer encoding undone.
    pub message: String,
}

impl ReceivedMail {
    pub fn subject(&self) -> &str {
        self.message
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
    }

    /// The token in the message's link (an invitation's accept link, a
    /// verification or a password reset link).
    pub fn token(&self) -> String {
        let start = self.message.find("?token=").expect("a link with a token") + "?token=".len();
        self.message[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    pub fn link(&self) -> String {
        let start = self.message.find("http").expect("a link");
        self.message[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('"')
            .to_owned()
    }
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

/// The server's mailbox: survives the server being stopped and restarted.
/// Its views (`invitations()`, `verifications()`, `resets()`) see only the
/// mail of one kind, by the page its link leads to.
#[derive(Clone, Default)]
pub struct Mailbox {
    inbox: Arc<Inbox>,
    only: Option<&'static str>,
}

impl Mailbox {
    /// The mail that carries invitations.
    pub fn invitations(&self) -> Mailbox {
        self.only("/invitations/accept?token=")
    }

    /// The mail that carries links to verify an address.
    pub fn verifications(&self) -> Mailbox {
        self.only("/verify-email?token=")
    }

    /// The mail that carries links to reset a password.
    pub fn resets(&self) -> Mailbox {
        self.only("/reset-password?token=")
    }

    fn only(&self, link: &'static str) -> Mailbox {
        Mailbox {
            inbox: self.inbox.clone(),
            only: Some(link),
        }
    }

    pub fn all(&self) -> Vec<ReceivedMail> {
        let mails = self.inbox.mails.lock().unwrap().clone();
        match self.only {
            Some(link) => mails
                .into_iter()
                .filter(|m| m.message.contains(link))
                .collect(),
            None => mails,
        }
    }

    /// The messages to `address`, oldest first.
    pub fn to(&self, address: &str) -> Vec<ReceivedMail> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// Waits until `count` messages have arrived (at most 20 s).
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.inbox.arrived.notified();
            let mails = self.all();
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("expected {count} messages, got {}: {mails:#?}", mails.len());
            }
        }
    }

    /// The last message to `address`.
    pub async fn last_to(&self, address: &str) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let arrived = self.inbox.arrived.notified();
            if let Some(mail) = self
                .all()
                .into_iter()
                .rev()
                .find(|m| m.to.iter().any(|t| t == address))
            {
                return mail;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("no message to {address}: {:#?}", self.all());
            }
        }
    }
}

pub struct SmtpServer {
    task: JoinHandle<()>,
}

/// A loopback port held for the SMTP server: bound but not listening, so
/// connections to it are refused (the server is "down") and no other
/// socket can take the port meanwhile.
pub struct SmtpPort(socket2::Socket);

impl SmtpPort {
    pub fn reserve() -> SmtpPort {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        SmtpPort(socket)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap().as_socket().unwrap()
    }
}

impl SmtpServer {
    /// Starts listening on the reserved port; delivers into `mailbox`.
    pub async fn start(port: SmtpPort, mailbox: Mailbox) -> SmtpServer {
        Self::start_answering_after(port, mailbox, Duration::ZERO).await
    }

    /// The same, but each message is acknowledged only `delay` after it is
    /// kept: a client that dies meanwhile does not know it was accepted.
    pub async fn start_answering_after(
        port: SmtpPort,
        mailbox: Mailbox,
        delay: Duration,
    ) -> SmtpServer {
        port.0.listen(128).unwrap();
        let listener: std::net::TcpListener = port.0.into();
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, mailbox.clone(), delay));
            }
        });
        SmtpServer { task }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(stream: tokio::net::TcpStream, mailbox: Mailbox, delay: Duration) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 localhost test SMTP\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_uppercase();
        let answer = if upper.starts_with("EHLO") {
            // Mail to an address past ASCII needs both (RFC 6531).
            "250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8"
        } else if upper.starts_with("HELO") {
            "250 localhost"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command);
            to.clear();
            "250 OK"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command));
            "250 OK"
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                // A leading dot was doubled by the client (RFC 5321 4.5.2).
                data.push_str(if line.starts_with("..") {
                    &line[1..]
                } else {
                    &line
                });
            }
            let mail = ReceivedMail {
                from: from.clone(),
                to: to.clone(),
                message: decode_quoted_printable(&data),
            };
            mailbox.inbox.mails.lock().unwrap().push(mail);
            mailbox.inbox.arrived.notify_waiters();
            tokio::time::sleep(delay).await;
            "250 OK queued"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            "250 OK"
        };
        if write
            .write_all(format!("{answer}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command[start..end].to_owned()
}

/// Undoes quoted-printable soft line breaks and escapes (lettre uses it for
/// long lines), so tests can read links as they were written.
fn decode_quoted_printable(data: &str) -> String {
    let joined = data.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
