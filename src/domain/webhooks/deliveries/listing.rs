//! The API's half of the deliveries: looking them up, listing an endpoint's,
//! and redelivering one.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::{Delivery, DeliveryState};
use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::db::{self, Conn, Db, with_conn};
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::webhooks::manageable;
use crate::domain::webhooks::queue::QUEUE;
use crate::domain::{DomainError, now};

/// A new attempt of a delivery now, with the same webhook-id
/// (MANAGE_ORGANIZATION).
pub async fn redeliver(db: &Db, actor_id: i64, delivery_id: i64) -> Result<Delivery, DomainError> {
    db.write(move |tx| {
        async move {
            let delivery = deliveries_by_ids(tx, &[delivery_id])
                .await?
                .pop()
                .ok_or(DomainError::NotFound("webhook delivery"))?;
            manageable(tx, delivery.endpoint_id, actor_id)
                .await
                .map_err(|error| match error {
                    DomainError::NotFound(_) => DomainError::NotFound("webhook delivery"),
                    other => other,
                })?;
            let at = now();
            let update = diesel::update(webhook_deliveries::table.find(delivery_id)).set((
                webhook_deliveries::status.eq(DeliveryState::Pending),
                webhook_deliveries::next_attempt_at.eq(at),
            ));
            with_conn!(tx, |c| update.execute(c).await)?;
            db::wake_on_commit(tx, QUEUE)?;
            Ok(Delivery {
                status: DeliveryState::Pending,
                next_attempt_at: at,
                ..delivery
            })
        }
        .boxed()
    })
    .await
}

pub async fn deliveries_by_ids(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> Result<Vec<Delivery>, DomainError> {
    let query = webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(Delivery::as_select())
        .load(c)
        .await)?)
}

/// A delivery with the organization of its endpoint, if it exists.
pub async fn delivery_in_organization(
    conn: &mut Conn<'_>,
    id: i64,
) -> Result<Option<(Delivery, i64)>, DomainError> {
    let query = webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::id.eq(id));
    Ok(with_conn!(conn, |c| query
        .select((Delivery::as_select(), webhook_endpoints::organization_id))
        .first(c)
        .await
        .optional())?)
}

/// One page of an endpoint's deliveries, newest first.
pub async fn list_deliveries(
    conn: &mut Conn<'_>,
    endpoint_id: i64,
    page: &PageArgs,
) -> Result<Page<Delivery>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .select(Delivery::as_select())
            .into_boxed();
        id_window!(query, webhook_deliveries::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |delivery| delivery.id))
}

pub async fn count_deliveries(conn: &mut Conn<'_>, endpoint_id: i64) -> Result<i64, DomainError> {
    let query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}
