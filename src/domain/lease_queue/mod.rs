//! One lease queue for the work done after a commit: the mail outbox and the
//! webhook deliveries. An item is written in the transaction that causes it;
//! a worker claims it after commit, does it, and records how that went.
//!
//! The protocol, the same for every queue:
//! - an item is due once its `next_attempt_at` has passed;
//! - a claim takes a lane's due items for a lease: it moves their
//!   `next_attempt_at` to the lease's end (no other worker takes them
//!   meanwhile, and they are due again by themselves if the claimer dies),
//!   counts the attempt and names the instance in `claimed_by`;
//! - each outcome renews the claim on the rest of the batch, so claims stay
//!   short however long a batch takes;
//! - an outcome completes the item, retries it after the queue's backoff, or
//!   gives up on it ([`Retry`]), and releases it;
//! - an instance that starts takes back at once the claims it held under its
//!   name when it stopped;
//! - ended items may be pruned.
//!
//! A claim takes its rows `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that
//! instances sharing the database each take rows no other is taking, without
//! waiting for each other's transactions (re-checking the due time in the
//! update instead makes a second claimer wait on the first one's row locks
//! and then find nothing). SQLite has one writer anyway: the write
//! transaction (`BEGIN IMMEDIATE`) is the lock.
//!
//! Items are delivered in lanes, each by a task of its own, one item at a
//! time, oldest first: a webhook endpoint is a lane, so that a slow receiver
//! delays only its own deliveries; the outbox is one lane.

mod retry;
mod table;

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;
use futures_util::FutureExt;

pub use retry::Retry;
pub(crate) use table::lease_table;

use super::{DomainError, now};
use crate::db::{Conn, Db, Work};

/// A queue's table: the few queries that name its columns, written once in
/// [`lease_table!`] and expanded per table, so that each type-checks against
/// both backends. The protocol around them is this module's functions.
pub trait LeaseTable: Send + Sync + 'static {
    /// The name its worker's wakes go by (see `db::wake_on_commit`).
    const WAKES: &'static str;
    /// Whether claims and outcomes commit as a worker's progress
    /// ([`Db::write_progress`]) rather than as changes ([`Db::write`]).
    const PROGRESS: bool;
    /// What an item's worker needs of it, beside its lease.
    type Item: Send + Sync + 'static;

    /// The lanes with items due at `at`, but for `busy` ones, at most `limit`.
    fn due_lanes(
        c: &mut Conn<'_>,
        at: NaiveDateTime,
        busy: Vec<i64>,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<i64>>> + Send;
    /// Claims up to `limit` of the lane's items due at `at`, oldest first,
    /// until `until`, for `instance`.
    fn claim(
        tx: &mut Conn<'_>,
        lane: i64,
        at: NaiveDateTime,
        until: NaiveDateTime,
        instance: String,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<Claimed<Self::Item>>>> + Send;
    /// Extends the claim on `ids` (those still pending) until `until`.
    fn renew(
        tx: &mut Conn<'_>,
        ids: Vec<i64>,
        until: NaiveDateTime,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
    /// Writes what an attempt made of item `id`, at `at`, and releases it.
    fn settle(
        tx: &mut Conn<'_>,
        id: i64,
        at: NaiveDateTime,
        settled: Settled,
        status: Option<i32>,
        error: Option<String>,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
    /// Makes the pending items `instance` holds due at `at`, unclaimed.
    fn release(
        tx: &mut Conn<'_>,
        instance: String,
        at: NaiveDateTime,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
    /// When the next pending item of a lane not in `busy` comes due.
    fn next_due(
        c: &mut Conn<'_>,
        busy: Vec<i64>,
    ) -> impl Future<Output = QueryResult<Option<NaiveDateTime>>> + Send;
    /// Items not yet done nor given up on.
    fn pending(c: &mut Conn<'_>) -> impl Future<Output = QueryResult<i64>> + Send;
    /// Deletes the items that ended, created before `before`.
    fn prune(
        tx: &mut Conn<'_>,
        before: NaiveDateTime,
    ) -> impl Future<Output = QueryResult<usize>> + Send;
}

/// How a worker claims: for whom, for how long, how many at once.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Whose claims they are: the same name after a restart.
    pub instance: String,
    pub duration: Duration,
    pub batch: i64,
}

/// An item claimed for an attempt.
#[derive(Debug, Clone)]
pub struct Claimed<T> {
    pub id: i64,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub item: T,
}

/// How an attempt went, as its worker saw it. `status` is the receiver's
/// answer where the queue keeps one (a webhook's HTTP status).
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done: never attempted again.
    Done { status: Option<i32> },
    /// Not done: attempted again by the queue's [`Retry`] rule, unless it
    /// never can be (`permanent`).
    Failed {
        status: Option<i32>,
        error: String,
        permanent: bool,
    },
}

impl Outcome {
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Done { .. } => None,
            Outcome::Failed { error, .. } => Some(error),
        }
    }

    fn status(&self) -> Option<i32> {
        match self {
            Outcome::Done { status } | Outcome::Failed { status, .. } => *status,
        }
    }
}

/// What an outcome made of its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Done,
    /// Due again at `at`.
    Retry {
        at: NaiveDateTime,
    },
    GaveUp,
}

/// The lanes with items due, but for `busy` ones (their tasks take what
/// comes due in them), at most `limit`.
pub async fn due_lanes<T: LeaseTable>(
    db: &Db,
    busy: Vec<i64>,
    limit: i64,
) -> Result<Vec<i64>, DomainError> {
    db.read(move |c| async move { Ok(T::due_lanes(c, now(), busy, limit).await?) }.boxed())
        .await
}

/// Claims up to a batch of a lane's due items, oldest first, for the lease:
/// no worker, in this process or another sharing the database, takes them
/// until it lapses.
pub async fn claim<T: LeaseTable>(
    db: &Db,
    lease: &Lease,
    lane: i64,
) -> Result<Vec<Claimed<T::Item>>, DomainError> {
    let Lease {
        instance,
        duration,
        batch,
    } = lease.clone();
    write::<T, _>(db, move |tx| {
        async move {
            let at = now();
            Ok(T::claim(tx, lane, at, at + duration, instance, batch).await?)
        }
        .boxed()
    })
    .await
}

/// Records how the attempt at `claimed` went, by the `retry` rule, and
/// renews the claim on `rest` (the batch's items still to attempt), in one
/// write. An item deleted meanwhile (a webhook endpoint's, with it) has
/// nothing to record.
pub async fn record<T: LeaseTable>(
    db: &Db,
    lease: &Lease,
    retry: Retry,
    claimed: &Claimed<T::Item>,
    outcome: &Outcome,
    rest: Vec<i64>,
) -> Result<Settled, DomainError> {
    let (id, attempts, created_at) = (claimed.id, claimed.attempts, claimed.created_at);
    let (duration, outcome) = (lease.duration, outcome.clone());
    write::<T, _>(db, move |tx| {
        async move {
            let at = now();
            if !rest.is_empty() {
                T::renew(tx, rest, at + duration).await?;
            }
            let settled = retry.settle(&outcome, attempts, created_at, at);
            let status = outcome.status();
            let error = outcome.error().map(str::to_owned);
            T::settle(tx, id, at, settled, status, error).await?;
            Ok(settled)
        }
        .boxed()
    })
    .await
}

/// Gives back the claims `instance` held when it stopped (it died with
/// them): they are due at once, not when they lapse. Returns how many.
pub async fn release_claims_of<T: LeaseTable>(
    db: &Db,
    instance: &str,
) -> Result<usize, DomainError> {
    let instance = instance.to_owned();
    db.write(move |tx| async move { Ok(T::release(tx, instance, now()).await?) }.boxed())
        .await
}

/// When the next pending item of a lane not in `busy` comes due (a claimed
/// one: when its claim lapses), if any is pending.
pub async fn next_due<T: LeaseTable>(
    db: &Db,
    busy: Vec<i64>,
) -> Result<Option<NaiveDateTime>, DomainError> {
    db.read(move |c| async move { Ok(T::next_due(c, busy).await?) }.boxed())
        .await
}

/// Items not yet done nor given up on.
pub async fn pending<T: LeaseTable>(db: &Db) -> Result<i64, DomainError> {
    db.read(|c| async move { Ok(T::pending(c).await?) }.boxed())
        .await
}

/// Forgets the items that ended (done or given up on), created before
/// `before`. Returns how many.
pub async fn prune<T: LeaseTable>(db: &Db, before: NaiveDateTime) -> Result<usize, DomainError> {
    db.write(move |tx| async move { Ok(T::prune(tx, before).await?) }.boxed())
        .await
}

/// A write of claims or outcomes, committed as [`LeaseTable::PROGRESS`] says.
async fn write<T: LeaseTable, V: Send + 'static>(
    db: &Db,
    work: impl Work<V, DomainError>,
) -> Result<V, DomainError> {
    match T::PROGRESS {
        true => db.write_progress(work).await,
        false => db.write(work).await,
    }
}
