//! The worker's half of the deliveries: a lease queue whose lanes are the
//! endpoints, claimed from enabled endpoints only, retried with backoff for
//! three days, and pruned once ended.

use chrono::Duration;
use diesel::prelude::*;

use super::DeliveryState;
use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::domain::lease_queue::{Retry, lease_table};
use crate::domain::webhooks::queue::QUEUE;

/// The first retry comes 2 s after the first failure, each wait doubles up
/// to an hour, for three days; then the delivery has failed.
pub const RETRY: Retry = Retry {
    first: Duration::seconds(2),
    max: Duration::hours(1),
    give_up_after: Some(Duration::days(3)),
};

/// A delivery claimed for an attempt: what to send, where, signed how.
#[derive(Debug, Clone, Queryable)]
pub struct Attempt {
    pub endpoint_id: i64,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    pub payload: String,
    pub url: String,
    pub secret: String,
}

/// The deliveries as a lease queue. Its claims and outcomes are progress
/// (see `Db::write_progress`): a lost one repeats a message, which its
/// receiver drops by its webhook-id.
pub struct Deliveries;

lease_table! {
    Deliveries: webhook_deliveries {
        wakes: QUEUE,
        progress: true,
        lane: webhook_deliveries::endpoint_id,
        open: webhook_deliveries::endpoint_id.eq_any(
            webhook_endpoints::table
                .filter(webhook_endpoints::enabled.eq(true))
                .select(webhook_endpoints::id),
        ),
        join: webhook_endpoints::table,
        item: Attempt = (
            webhook_deliveries::endpoint_id,
            webhook_deliveries::message_id,
            webhook_deliveries::payload,
            webhook_endpoints::url,
            webhook_endpoints::secret,
        ),
        pending: webhook_deliveries::status.eq(DeliveryState::Pending),
        done: |at| (
            webhook_deliveries::status.eq(DeliveryState::Delivered),
            webhook_deliveries::delivered_at.eq(Some(at)),
        ),
        given_up: |_at| webhook_deliveries::status.eq(DeliveryState::Failed),
        status: last_response_status,
    }
}
