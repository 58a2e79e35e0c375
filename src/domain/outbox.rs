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
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::{DomainError, now};
use crate::db::schema::email_outbox;
use crate::db::{self, Conn, Db, insert_all, with_conn};

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
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Delivery attempts, this one included.
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

impl QueuedMail {
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

/// Claims up to `limit` due messages for `lease`, for `instance`: no other
/// worker, in this process or another sharing the database, takes them
/// until the claim lapses.
pub async fn claim_due(
    db: &Db,
    instance: &str,
    limit: i64,
    lease: Duration,
) -> Result<Vec<QueuedMail>, DomainError> {
    let instance = instance.to_owned();
    db.write(move |tx| {
        async move {
            let at = now();
            let due = email_outbox::table
                .filter(email_outbox::sent_at.is_null())
                .filter(email_outbox::failed_at.is_null())
                .filter(email_outbox::next_attempt_at.le(at))
                .order(email_outbox::id)
                .limit(limit)
                .select(email_outbox::id);
            let due: Vec<i64> = with_conn!(tx, |c| due.load(c).await)?;
            // The condition is checked again on PostgreSQL after a concurrent
            // claimer's row lock is released: one claim wins.
            let claim = diesel::update(email_outbox::table)
                .filter(email_outbox::id.eq_any(due))
                .filter(email_outbox::next_attempt_at.le(at))
                .filter(email_outbox::sent_at.is_null())
                .set((
                    email_outbox::next_attempt_at.eq(at + lease),
                    email_outbox::attempts.eq(email_outbox::attempts + 1),
                    email_outbox::claimed_by.eq(Some(instance)),
                ));
            let mut claimed: Vec<QueuedMail> = with_conn!(tx, |c| claim
                .returning(QueuedMail::as_returning())
                .get_results(c)
                .await)?;
            claimed.sort_by_key(|mail| mail.id);
            Ok(claimed)
        }
        .boxed()
    })
    .await
}

/// Gives back the claims `instance` held when it stopped (it died with
/// them): they are due at once, not when they lapse. Returns how many.
pub async fn release_claims_of(db: &Db, instance: &str) -> Result<usize, DomainError> {
    let instance = instance.to_owned();
    db.write(move |tx| {
        async move {
            let release = diesel::update(email_outbox::table)
                .filter(email_outbox::claimed_by.eq(instance))
                .filter(email_outbox::sent_at.is_null())
                .filter(email_outbox::failed_at.is_null())
                .set((
                    email_outbox::next_attempt_at.eq(now()),
                    email_outbox::claimed_by.eq(None::<String>),
                ));
            Ok(with_conn!(tx, |c| release.execute(c).await)?)
        }
        .boxed()
    })
    .await
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum MailOutcome {
    /// Accepted by the server: its bodies are forgotten (they carry a live token).
    Sent,
    /// Refused for now: tried again at the time given.
    Retry { at: NaiveDateTime, error: String },
    /// Refused for good: not tried again.
    Failed { error: String },
}

/// Records how the attempt at `id` ended, and renews the claim on the rest
/// of the batch (`still_claimed`) for `lease`, in one write.
pub async fn record(
    db: &Db,
    id: i64,
    outcome: MailOutcome,
    still_claimed: Vec<i64>,
    lease: Duration,
) -> Result<(), DomainError> {
    db.write(move |tx| {
        async move {
            let at = now();
            if !still_claimed.is_empty() {
                let renew = diesel::update(email_outbox::table)
                    .filter(email_outbox::id.eq_any(still_claimed))
                    .filter(email_outbox::sent_at.is_null())
                    .set(email_outbox::next_attempt_at.eq(at + lease));
                with_conn!(tx, |c| renew.execute(c).await)?;
            }
            let row = email_outbox::table.find(id);
            let released = email_outbox::claimed_by.eq(None::<String>);
            let updated = match outcome {
                MailOutcome::Sent => {
                    let update = diesel::update(row).set((
                        email_outbox::sent_at.eq(Some(at)),
                        email_outbox::text_body.eq(""),
                        email_outbox::html_body.eq(""),
                        email_outbox::last_error.eq(None::<String>),
                        released,
                    ));
                    with_conn!(tx, |c| update.execute(c).await)?
                }
                MailOutcome::Retry {
                    at: retry_at,
                    error,
                } => {
                    let update = diesel::update(row).set((
                        email_outbox::next_attempt_at.eq(retry_at),
                        email_outbox::last_error.eq(Some(error)),
                        released,
                    ));
                    with_conn!(tx, |c| update.execute(c).await)?
                }
                MailOutcome::Failed { error } => {
                    let update = diesel::update(row).set((
                        email_outbox::failed_at.eq(Some(at)),
                        email_outbox::last_error.eq(Some(error)),
                        released,
                    ));
                    with_conn!(tx, |c| update.execute(c).await)?
                }
            };
            match updated {
                1 => Ok(()),
                _ => Err(DomainError::Internal(anyhow::anyhow!(
                    "outbox message {id} vanished"
                ))),
            }
        }
        .boxed()
    })
    .await
}

/// When the next message to send comes due (a claimed one: when its claim
/// lapses), if any is waiting.
pub async fn next_due(db: &Db) -> Result<Option<NaiveDateTime>, DomainError> {
    db.read(|c| {
        async move {
            let query = email_outbox::table
                .filter(email_outbox::sent_at.is_null())
                .filter(email_outbox::failed_at.is_null())
                .select(diesel::dsl::min(email_outbox::next_attempt_at));
            Ok(with_conn!(c, |c| query.get_result(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Messages not yet delivered nor given up on.
pub async fn undelivered(db: &Db) -> Result<i64, DomainError> {
    db.read(|c| {
        async move {
            let query = email_outbox::table
                .filter(email_outbox::sent_at.is_null())
                .filter(email_outbox::failed_at.is_null())
                .count();
            Ok(with_conn!(c, |c| query.get_result(c).await)?)
        }
        .boxed()
    })
    .await
}
