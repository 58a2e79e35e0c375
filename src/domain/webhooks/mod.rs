//! Webhooks, to the Standard Webhooks specification: every audited change
//! is queued, in its own transaction, for each enabled endpoint of the
//! organization whose event types match (an empty list means all), and the
//! delivery worker posts it, signed, retrying with the same `webhook-id`.

mod deliveries;
mod destination;
pub(super) mod queue;
mod signature;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

pub use deliveries::{
    Attempt, Deliveries, Delivery, DeliveryState, RETRY, count_deliveries, deliveries_by_ids,
    delivery_in_organization, list_deliveries, redeliver,
};
pub use destination::{Forbidden, WebhookSettings, forbidden, literal_address};
pub use queue::QUEUE;
pub use signature::{new_secret, sign};

use super::pagination::{Page, PageArgs, id_window};
use super::recorder::{self, Action, Change};
use super::{DomainError, Permission, access, now};
use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::db::{self, Conn, Db, with_conn};
use crate::ids::{self, Kind};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    pub organization_id: i64,
    pub url: String,
    /// A JSON array; see [`Endpoint::event_types`].
    #[diesel(column_name = event_types)]
    stored_event_types: String,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
}

impl Endpoint {
    /// The event types delivered; empty means all.
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.stored_event_types).unwrap_or_default()
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints)]
struct NewEndpoint<'a> {
    organization_id: i64,
    url: &'a str,
    secret: &'a str,
    event_types: &'a str,
    created_at: NaiveDateTime,
}

/// Event types as stored: known audit actions, each once, as a JSON array.
fn event_types_json(types: &[String]) -> Result<String, DomainError> {
    let mut checked: Vec<&str> = Vec::new();
    for event_type in types {
        let event_type = event_type.trim();
        if Action::parse(event_type).is_none() {
            let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            return Err(DomainError::bad_input(format!(
                "{event_type:?} is not an event type; the types are the audit log's actions: {}",
                actions.join(", ")
            )));
        }
        if !checked.contains(&event_type) {
            checked.push(event_type);
        }
    }
    Ok(serde_json::to_string(&checked).expect("strings serialize"))
}

/// A new endpoint (MANAGE_ORGANIZATION), and its `whsec_` secret, which is
/// shown once.
pub async fn create(
    db: &Db,
    settings: WebhookSettings,
    actor_id: i64,
    organization_id: i64,
    url: &str,
    event_types: &[String],
) -> Result<(Endpoint, String), DomainError> {
    let url = destination::check(url, settings).await?;
    let event_types = event_types_json(event_types)?;
    db.write(move |tx| {
        async move {
            let permission = Permission::ManageOrganization;
            access::authorize(tx, organization_id, actor_id, permission).await?;
            let secret = new_secret();
            let new = NewEndpoint {
                organization_id,
                url: &url,
                secret: &secret,
                event_types: &event_types,
                created_at: now(),
            };
            let insert = diesel::insert_into(webhook_endpoints::table).values(&new);
            let endpoint: Endpoint = with_conn!(tx, |c| insert
                .returning(Endpoint::as_returning())
                .get_result(c)
                .await)?;
            let details = json!({ "endpointId": ids::encode(Kind::WebhookEndpoint, endpoint.id), "url": url, "eventTypes": endpoint.event_types() });
            let change = Change::new(organization_id, actor_id, Action::WebhookEndpointCreated)
                .details(details);
            recorder::record(tx, change).await?;
            Ok((endpoint, secret))
        }
        .boxed()
    })
    .await
}

/// What an update changes; None keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint (MANAGE_ORGANIZATION).
pub async fn update(
    db: &Db,
    settings: WebhookSettings,
    actor_id: i64,
    endpoint_id: i64,
    change: EndpointChange,
) -> Result<Endpoint, DomainError> {
    let url = match &change.url {
        Some(url) => Some(destination::check(url, settings).await?),
        None => None,
    };
    let event_types = change
        .event_types
        .as_deref()
        .map(event_types_json)
        .transpose()?;
    db.write(move |tx| {
        async move {
            let endpoint = manageable(tx, endpoint_id, actor_id).await?;
            let updated = Endpoint {
                url: url.unwrap_or(endpoint.url),
                stored_event_types: event_types.unwrap_or(endpoint.stored_event_types),
                enabled: change.enabled.unwrap_or(endpoint.enabled),
                ..endpoint
            };
            let update = diesel::update(webhook_endpoints::table.find(endpoint_id)).set((
                webhook_endpoints::url.eq(&updated.url),
                webhook_endpoints::event_types.eq(&updated.stored_event_types),
                webhook_endpoints::enabled.eq(updated.enabled),
            ));
            with_conn!(tx, |c| update.execute(c).await)?;
            if updated.enabled && !endpoint.enabled {
                // What was queued while it was disabled is due again.
                db::wake_on_commit(tx, queue::QUEUE)?;
            }
            let details = json!({
                "endpointId": ids::encode(Kind::WebhookEndpoint, endpoint_id),
                "url": updated.url,
                "eventTypes": updated.event_types(),
                "enabled": updated.enabled,
            });
            let change = Change::new(
                updated.organization_id,
                actor_id,
                Action::WebhookEndpointUpdated,
            );
            recorder::record(tx, change.details(details)).await?;
            Ok(updated)
        }
        .boxed()
    })
    .await
}

/// Deletes an endpoint and its deliveries (MANAGE_ORGANIZATION).
pub async fn delete(db: &Db, actor_id: i64, endpoint_id: i64) -> Result<Endpoint, DomainError> {
    db.write(move |tx| {
        async move {
            let endpoint = manageable(tx, endpoint_id, actor_id).await?;
            let deliveries = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id));
            with_conn!(tx, |c| diesel::delete(deliveries).execute(c).await)?;
            let row = webhook_endpoints::table.find(endpoint_id);
            with_conn!(tx, |c| diesel::delete(row).execute(c).await)?;
            let details = json!({ "endpointId": ids::encode(Kind::WebhookEndpoint, endpoint_id), "url": endpoint.url });
            let change = Change::new(
                endpoint.organization_id,
                actor_id,
                Action::WebhookEndpointDeleted,
            );
            recorder::record(tx, change.details(details)).await?;
            Ok(endpoint)
        }
        .boxed()
    })
    .await
}

/// An endpoint the actor may manage; to others it does not exist.
pub(super) async fn manageable(
    tx: &mut Conn<'_>,
    endpoint_id: i64,
    actor_id: i64,
) -> Result<Endpoint, DomainError> {
    let endpoint = endpoints_by_ids(tx, &[endpoint_id])
        .await?
        .pop()
        .ok_or(DomainError::NotFound("webhook endpoint"))?;
    let (organization_id, permission) = (endpoint.organization_id, Permission::ManageOrganization);
    access::authorize_on(
        tx,
        organization_id,
        actor_id,
        permission,
        "webhook endpoint",
    )
    .await?;
    Ok(endpoint)
}

pub async fn endpoints_by_ids(
    conn: &mut Conn<'_>,
    ids: &[i64],
) -> Result<Vec<Endpoint>, DomainError> {
    let query = webhook_endpoints::table.filter(webhook_endpoints::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(Endpoint::as_select())
        .load(c)
        .await)?)
}

/// One page of an organization's endpoints, newest first.
pub async fn list_endpoints(
    conn: &mut Conn<'_>,
    organization_id: i64,
    page: &PageArgs,
) -> Result<Page<Endpoint>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = webhook_endpoints::table
            .filter(webhook_endpoints::organization_id.eq(organization_id))
            .select(Endpoint::as_select())
            .into_boxed();
        id_window!(query, webhook_endpoints::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |endpoint| endpoint.id))
}

pub async fn count_endpoints(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<i64, DomainError> {
    let query = webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(organization_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}
