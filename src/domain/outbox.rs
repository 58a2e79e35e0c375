//! The email outbox: a message is written in the transaction that causes
//! it, and a worker delivers it after commit, so an SMTP outage delays mail
//! but never loses it, and a rolled-back change sends nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::{DomainError, now};
use crate::db::schema::email_outbox;
use crate::db::{Conn, Db, insert_all, with_conn};

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
}

/// Queues messages in the caller's transaction, in one statement.
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
    Ok(())
}

/// Claims up to `limit` due messages for `lease`: no other worker, in this
/// process or another sharing the database, takes them until it runs out.
pub async fn claim_due(
    db: &Db,
    limit: i64,
    lease: Duration,
) -> Result<Vec<QueuedMail>, DomainError> {
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

/// The message went out: forget its bodies (they carry a live token).
pub async fn mark_sent(db: &Db, id: i64) -> Result<(), DomainError> {
    finish(db, id, move |tx| {
        async move {
            let update = diesel::update(email_outbox::table.find(id)).set((
                email_outbox::sent_at.eq(Some(now())),
                email_outbox::text_body.eq(""),
                email_outbox::html_body.eq(""),
                email_outbox::last_error.eq(None::<String>),
            ));
            Ok(with_conn!(tx, |c| update.execute(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Delivery failed for now: try again at `retry_at`.
pub async fn mark_retry(
    db: &Db,
    id: i64,
    retry_at: NaiveDateTime,
    error: String,
) -> Result<(), DomainError> {
    finish(db, id, move |tx| {
        async move {
            let update = diesel::update(email_outbox::table.find(id)).set((
                email_outbox::next_attempt_at.eq(retry_at),
                email_outbox::last_error.eq(Some(error)),
            ));
            Ok(with_conn!(tx, |c| update.execute(c).await)?)
        }
        .boxed()
    })
    .await
}

/// The server refused the message for good: it is not retried.
pub async fn mark_failed(db: &Db, id: i64, error: String) -> Result<(), DomainError> {
    finish(db, id, move |tx| {
        async move {
            let update = diesel::update(email_outbox::table.find(id)).set((
                email_outbox::failed_at.eq(Some(now())),
                email_outbox::last_error.eq(Some(error)),
            ));
            Ok(with_conn!(tx, |c| update.execute(c).await)?)
        }
        .boxed()
    })
    .await
}

async fn finish(
    db: &Db,
    id: i64,
    work: impl crate::db::Work<usize, DomainError>,
) -> Result<(), DomainError> {
    match db.write(work).await? {
        1 => Ok(()),
        _ => Err(DomainError::Internal(anyhow::anyhow!(
            "outbox message {id} vanished"
        ))),
    }
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
