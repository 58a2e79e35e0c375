//! Queueing a change for the endpoints that want it, in the change's own
//! transaction, with the message it will carry.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::db::schema::{
    organizations, service_keys, users, webhook_deliveries, webhook_endpoints,
};
use crate::db::{self, Conn, insert_all, with_conn};
use crate::domain::changes::{Action, Actor, Recorded, Target};
use crate::domain::{DomainError, tokens};
use crate::ids::{self, Kind};

/// Whether an endpoint of these event types wants `action`.
fn wants(stored_event_types: &str, action: Action) -> bool {
    let types: Vec<String> = serde_json::from_str(stored_event_types).unwrap_or_default();
    types.is_empty() || types.iter().any(|t| t == action.as_str())
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewDelivery {
    endpoint_id: i64,
    message_id: String,
    event_type: Action,
    payload: String,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// What a change's message says about its organization and actor.
struct Context {
    slug: String,
    name: String,
    /// The user's address, or the service key's name.
    actor_name: Option<String>,
}

/// An endpoint with what its message needs: its id and event types, the
/// organization's slug and name, the actor's address or key name.
type EndpointRow = (i64, String, String, String, Option<String>, Option<String>);

/// The queue's name for its worker's wakes.
pub const QUEUE: &str = "webhooks";

/// Queues `change` for every enabled endpoint of its organization that
/// wants it, in the caller's transaction. One indexed read brings the
/// endpoints with what their message needs (so without an endpoint that is
/// all it costs), and one insert queues the deliveries.
pub(in crate::domain) async fn enqueue(
    tx: &mut Conn<'_>,
    change: &Recorded<'_>,
) -> Result<(), DomainError> {
    let actor_email = users::table
        .filter(users::id.nullable().eq(change.actor.user_id()))
        .select(users::email)
        .single_value();
    let key_name = service_keys::table
        .filter(
            service_keys::id
                .nullable()
                .eq(change.actor.service_key_id()),
        )
        .select(service_keys::name)
        .single_value();
    let query = webhook_endpoints::table
        .inner_join(organizations::table)
        .filter(webhook_endpoints::organization_id.eq(change.organization_id))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((
            webhook_endpoints::id,
            webhook_endpoints::event_types,
            organizations::slug,
            organizations::name,
            actor_email,
            key_name,
        ));
    let endpoints: Vec<EndpointRow> = with_conn!(tx, |c| query.load(c).await)?;
    let mut context = None;
    let mut wanting = Vec::new();
    for (id, types, slug, name, actor_email, key_name) in endpoints {
        if wants(&types, change.action) {
            wanting.push(id);
            context.get_or_insert(Context {
                slug,
                name,
                actor_name: actor_email.or(key_name),
            });
        }
    }
    let Some(context) = context else {
        return Ok(());
    };
    let payload = payload(change, context).to_string();
    let rows: Vec<NewDelivery> = wanting
        .into_iter()
        .map(|endpoint_id| NewDelivery {
            endpoint_id,
            message_id: format!("msg_{}", &tokens::new_token()[..22]),
            event_type: change.action,
            payload: payload.clone(),
            next_attempt_at: change.at,
            created_at: change.at,
        })
        .collect();
    insert_all!(tx, webhook_deliveries::table, rows)?;
    Ok(db::wake_on_commit(tx, QUEUE)?)
}

/// The message body: `{"type", "timestamp", "data"}`, where `data` says
/// what a receiver needs without calling back (see the README's table).
fn payload(change: &Recorded<'_>, context: Context) -> Value {
    let user_id = |id: i64| ids::encode(Kind::User, id);
    let (member, user, previous_role) = match change.target {
        Target::Member {
            member,
            previous_role,
            ..
        } => (
            json!({
                "id": ids::encode(Kind::Member, member.id),
                "role": member.role.as_str(),
                "credits": member.credits,
                "seat": member.seat.as_str(),
            }),
            json!({ "id": user_id(member.user_id), "email": change.target_email }),
            json!(previous_role.map(|role| role.as_str())),
        ),
        Target::Nobody | Target::Email(_) => (Value::Null, Value::Null, Value::Null),
    };
    let email = match change.target {
        Target::Email(email) => json!(email),
        _ => Value::Null,
    };
    json!({
        "type": change.action.as_str(),
        "timestamp": change.at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": {
            "organization": {
                "id": ids::encode(Kind::Organization, change.organization_id),
                "slug": context.slug,
                "name": context.name,
            },
            "actor": match change.actor {
                Actor::User(id) => json!({ "id": user_id(id), "email": context.actor_name }),
                Actor::ServiceKey(id) => json!({
                    "serviceKey": { "id": ids::encode(Kind::ServiceKey, id), "name": context.actor_name },
                }),
                Actor::Orgql => Value::Null,
            },
            "member": member,
            "user": user,
            "previousRole": previous_role,
            "email": email,
            "change": change.details,
        },
    })
}
