//! The worker's half of the deliveries: claimed by the worker of one
//! instance at a time (on PostgreSQL, `FOR UPDATE SKIP LOCKED` shares the
//! work between instances), retried with backoff, and pruned once done.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::DeliveryState;
use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::db::{Conn, Db, with_conn};
use crate::domain::{DomainError, now};

/// The first retry comes this soon, and each wait doubles...
const FIRST_RETRY: Duration = Duration::seconds(2);
/// ...up to an hour...
const MAX_RETRY: Duration = Duration::hours(1);
/// ...for three days; then the delivery has failed.
const GIVE_UP_AFTER: Duration = Duration::days(3);

/// A delivery claimed for an attempt: what to send, where, signed how.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery_id: i64,
    pub url: String,
    pub secret: String,
    pub message_id: String,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered { status: u16 },
    /// Anything else: another status, a timeout, a refused address.
    Failed { status: Option<u16>, error: String },
}

/// The endpoints that have deliveries due, but for `busy` ones (which this
/// instance is delivering to already).
pub async fn due_endpoints(db: &Db, busy: Vec<i64>, limit: i64) -> Result<Vec<i64>, DomainError> {
    db.read(move |c| {
        async move {
            let query = webhook_deliveries::table
                .inner_join(webhook_endpoints::table)
                .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                .filter(webhook_deliveries::next_attempt_at.le(now()))
                .filter(webhook_endpoints::enabled.eq(true))
                .filter(webhook_deliveries::endpoint_id.ne_all(busy))
                .select(webhook_deliveries::endpoint_id)
                .distinct()
                .limit(limit);
            Ok(with_conn!(c, |c| query.load(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Claims up to `limit` due deliveries of one endpoint, oldest first, for
/// `lease`: no worker (in this instance or another) takes them meanwhile.
pub async fn claim(
    db: &Db,
    instance: &str,
    endpoint_id: i64,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Attempt>, DomainError> {
    let instance = instance.to_owned();
    db.write_progress(move |tx| {
        async move {
            let endpoint = webhook_endpoints::table
                .find(endpoint_id)
                .filter(webhook_endpoints::enabled.eq(true))
                .select((webhook_endpoints::url, webhook_endpoints::secret));
            let Some((url, secret)) = with_conn!(tx, |c| endpoint
                .first::<(String, String)>(c)
                .await
                .optional())?
            else {
                return Ok(Vec::new());
            };
            let at = now();
            let due = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                .filter(webhook_deliveries::next_attempt_at.le(at))
                .order(webhook_deliveries::id)
                .limit(limit)
                .select(webhook_deliveries::id);
            // Rows another instance holds are skipped, not waited for.
            let ids: Vec<i64> = match tx {
                Conn::Postgres(c, _) => due.for_update().skip_locked().load(*c).await?,
                Conn::Sqlite(c, _) => due.load(*c).await?,
            };
            let claim = diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::id.eq_any(ids))
                .set((
                    webhook_deliveries::next_attempt_at.eq(at + lease),
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                    webhook_deliveries::claimed_by.eq(Some(instance)),
                ))
                .returning((
                    webhook_deliveries::id,
                    webhook_deliveries::message_id,
                    webhook_deliveries::payload,
                    webhook_deliveries::attempts,
                    webhook_deliveries::created_at,
                ));
            let mut claimed: Vec<(i64, String, String, i32, NaiveDateTime)> =
                with_conn!(tx, |c| claim.get_results(c).await)?;
            claimed.sort_by_key(|(id, ..)| *id);
            Ok(claimed
                .into_iter()
                .map(
                    |(delivery_id, message_id, payload, attempts, created_at)| Attempt {
                        delivery_id,
                        url: url.clone(),
                        secret: secret.clone(),
                        message_id,
                        payload,
                        attempts,
                        created_at,
                    },
                )
                .collect())
        }
        .boxed()
    })
    .await
}

/// The wait before the attempt after `attempts` failed ones.
fn backoff(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    (FIRST_RETRY * 2i32.pow(doublings)).min(MAX_RETRY)
}

/// Records how an attempt ended: delivered; or retried later; or, three
/// days after the change, failed for good. The claim on `still_claimed`
/// (the rest of the worker's batch) is renewed for `lease` in the same write.
pub async fn record_outcome(
    db: &Db,
    attempt: &Attempt,
    outcome: Outcome,
    still_claimed: Vec<i64>,
    lease: Duration,
) -> Result<DeliveryState, DomainError> {
    let (id, attempts, created_at) = (attempt.delivery_id, attempt.attempts, attempt.created_at);
    db.write_progress(move |tx| {
        async move {
            let at = now();
            if !still_claimed.is_empty() {
                let renew = diesel::update(webhook_deliveries::table)
                    .filter(webhook_deliveries::id.eq_any(still_claimed))
                    .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                    .set(webhook_deliveries::next_attempt_at.eq(at + lease));
                with_conn!(tx, |c| renew.execute(c).await)?;
            }
            let row = webhook_deliveries::table.find(id);
            let state = match outcome {
                Outcome::Delivered { status } => {
                    let update = diesel::update(row).set((
                        webhook_deliveries::status.eq(DeliveryState::Delivered),
                        webhook_deliveries::delivered_at.eq(Some(at)),
                        webhook_deliveries::last_response_status.eq(Some(i32::from(status))),
                        webhook_deliveries::last_error.eq(None::<String>),
                        webhook_deliveries::claimed_by.eq(None::<String>),
                    ));
                    with_conn!(tx, |c| update.execute(c).await)?;
                    DeliveryState::Delivered
                }
                Outcome::Failed { status, error } => {
                    let retry_at = at + backoff(attempts);
                    let state = match retry_at - created_at > GIVE_UP_AFTER {
                        true => DeliveryState::Failed,
                        false => DeliveryState::Pending,
                    };
                    let update = diesel::update(row).set((
                        webhook_deliveries::status.eq(state),
                        webhook_deliveries::next_attempt_at.eq(retry_at),
                        webhook_deliveries::last_response_status.eq(status.map(i32::from)),
                        webhook_deliveries::last_error.eq(Some(error)),
                        webhook_deliveries::claimed_by.eq(None::<String>),
                    ));
                    with_conn!(tx, |c| update.execute(c).await)?;
                    state
                }
            };
            Ok(state)
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
            let release = diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::claimed_by.eq(instance))
                .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                .set((
                    webhook_deliveries::next_attempt_at.eq(now()),
                    webhook_deliveries::claimed_by.eq(None::<String>),
                ));
            Ok(with_conn!(tx, |c| release.execute(c).await)?)
        }
        .boxed()
    })
    .await
}

/// When the next pending delivery of an endpoint not in `busy` comes due
/// (claimed ones: when their claim lapses), if any is pending. A busy
/// endpoint's task takes its due deliveries itself.
pub async fn next_due(db: &Db, busy: Vec<i64>) -> Result<Option<NaiveDateTime>, DomainError> {
    db.read(move |c| {
        async move {
            let query = webhook_deliveries::table
                .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                .filter(webhook_deliveries::endpoint_id.ne_all(busy))
                .select(diesel::dsl::min(webhook_deliveries::next_attempt_at));
            Ok(with_conn!(c, |c| query.get_result(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Deliveries not yet delivered nor given up on.
pub async fn pending(db: &Db) -> Result<i64, DomainError> {
    db.read(|c| {
        async move {
            let query = webhook_deliveries::table
                .filter(webhook_deliveries::status.eq(DeliveryState::Pending))
                .count();
            Ok(with_conn!(c, |c| query.get_result(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Forgets deliveries that ended (delivered or failed) before `before`.
pub async fn prune(db: &Db, before: NaiveDateTime) -> Result<usize, DomainError> {
    db.write(move |tx| {
        async move {
            let ended = webhook_deliveries::table
                .filter(webhook_deliveries::status.ne(DeliveryState::Pending))
                .filter(webhook_deliveries::created_at.lt(before));
            Ok(with_conn!(tx, |c| diesel::delete(ended).execute(c).await)?)
        }
        .boxed()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_start_within_seconds_and_double_to_an_hour() {
        let waits: Vec<i64> = (1..=13).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
    }
}
