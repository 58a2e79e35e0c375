//! The email outbox: a message is written in the transaction that causes
//! it, and a worker delivers it after commit, so an SMTP outage delays mail
//! but never loses it, and a rolled-back change sends nothing.
//!
//! Delivery is at least once: exactly once is impossible over SMTP. A
//! message is sent again only when its instance dies between the SMTP
//! server's acceptance and the record of it; the repeat carries the same
//! Message-ID. Claims are short and renewed while a batch is sent, and an
//! instance that restarts takes its own back at once.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::lease_queue::{Claimed, Retry, lease_table};
use super::{DomainError, now};
use crate::db::schema::email_outbox;
use crate::db::{self, Conn, insert_all};

/// A message to send: the recipient is a checked address; the bodies are
/// plain text and HTML.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

#[derive(Insertable)]
#[diesel(table_name = email_outbox)]
struct NewMail {
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    created_at: NaiveDateTime,
    next_attempt_at: NaiveDateTime,
}

/// A message claimed for delivery.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct QueuedMail {
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

impl Claimed<QueuedMail> {
    /// The Message-ID header, the same on every attempt of this message,
    /// so that a repeat is recognisable as one.
    pub fn message_id(&self, domain: &str) -> String {
        let created = self.created_at.and_utc().timestamp_micros();
        format!("<orgql.outbox.{}.{created}@{domain}>", self.id)
    }
}

/// The queue's name for its worker's wakes.
pub const QUEUE: &str = "mail";

/// Queues messages in the caller's transaction, in one statement, and has
/// its commit wake this process's mail worker.
pub async fn enqueue(tx: &mut Conn<'_>, mails: Vec<OutgoingMail>) -> Result<(), DomainError> {
    if mails.is_empty() {
        return Ok(());
    }
    let created_at = now();
    let rows: Vec<NewMail> = mails
        .into_iter()
        .map(|mail| NewMail {
            recipient: mail.recipient,
            subject: mail.subject,
            text_body: mail.text_body,
            html_body: mail.html_body,
            created_at,
            next_attempt_at: created_at,
        })
        .collect();
    insert_all!(tx, email_outbox::table, rows)?;
    Ok(db::wake_on_commit(tx, QUEUE)?)
}

/// The outbox as a lease queue. It is one lane: messages go out one at a
/// time, oldest first. Its claims and outcomes wait for the WAL flush: a
/// lost record of a sent message would send it to a person again, where a
/// webhook receiver drops a repeat by its webhook-id.
pub struct Outbox;

lease_table! {
    Outbox: email_outbox {
        wakes: QUEUE,
        progress: false,
        // Every message is in lane 0.
        lane: 0_i64.into_sql::<BigInt>(),
        item: QueuedMail = QueuedMail::as_select(),
        pending: email_outbox::sent_at.is_null().and(email_outbox::failed_at.is_null()),
        // Its bodies are forgotten: they carry a live token.
        done: |at| (
            email_outbox::sent_at.eq(Some(at)),
            email_outbox::text_body.eq(""),
            email_outbox::html_body.eq(""),
        ),
        given_up: |at| email_outbox::failed_at.eq(Some(at)),
    }
}

/// Mail's retry rule: 1 s after the first failure, doubling, at most `max`;
/// only a permanent refusal gives up.
pub fn retry(max: std::time::Duration) -> Retry {
    Retry {
        first: Duration::seconds(1),
        max: Duration::from_std(max).unwrap_or(Duration::MAX),
        give_up_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_configured_cap() {
        let rule = retry(std::time::Duration::from_secs(300));
        let waits: Vec<i64> = (1..=11).map(|n| rule.wait(n).num_seconds()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
