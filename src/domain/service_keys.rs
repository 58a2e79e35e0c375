//! Service keys: credentials of the product's back-end services, each bound
//! to one organization, which they may read, check permissions in and
//! watch, but not change. The secret is 256 random bits behind a
//! recognisable prefix (so secret scanners find a leaked one), shown once,
//! and stored only as its SHA-256.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::live_events::LiveEvent;
use super::pagination::{Page, PageArgs, id_window};
use super::principal::Principal;
use super::recorder::{self, Action, Change};
use super::tokens::{hash_token, new_token};
use super::users::normalize_name;
use super::{DomainError, Permission, access, now};
use crate::db::schema::service_keys;
use crate::db::{Conn, Db, with_conn};

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "orgql_sk_";
/// How much of the secret is kept to recognise it by.
const SHOWN_CHARACTERS: usize = SECRET_PREFIX.len() + 6;
/// `lastUsedAt` is written at most this often, not on every request.
const LAST_USE_PRECISION: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_keys)]
pub struct ServiceKey {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = service_keys)]
struct NewServiceKey<'a> {
    organization_id: i64,
    name: &'a str,
    prefix: &'a str,
    secret_hash: &'a str,
    created_by: Option<i64>,
    created_at: NaiveDateTime,
}

/// Whether a bearer token is shaped like a service key's secret.
pub fn is_secret(token: &str) -> bool {
    token.starts_with(SECRET_PREFIX)
}

/// Creates a key for the organization (MANAGE_ORGANIZATION); returns it and
/// its secret, which is never shown again.
pub async fn create(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    name: &str,
) -> Result<(ServiceKey, String), DomainError> {
    let name = normalize_name(name, "the key's name")?;
    db.write(move |tx| {
        async move {
            let permission = Permission::ManageOrganization;
            access::authorize(tx, organization_id, actor_id, permission).await?;
            let secret = format!("{SECRET_PREFIX}{}", new_token());
            let new = NewServiceKey {
                organization_id,
                name: &name,
                prefix: &secret[..SHOWN_CHARACTERS],
                secret_hash: &hash_token(&secret),
                created_by: Some(actor_id),
                created_at: now(),
            };
            let insert = diesel::insert_into(service_keys::table).values(&new);
            let key: ServiceKey = with_conn!(tx, |c| insert
                .returning(ServiceKey::as_returning())
                .get_result(c)
                .await)?;
            let change = Change::new(organization_id, actor_id, Action::ServiceKeyCreated)
                .details(json!({ "name": key.name, "prefix": key.prefix }));
            recorder::record(tx, change).await?;
            Ok((key, secret))
        }
        .boxed()
    })
    .await
}

/// Revokes a key (MANAGE_ORGANIZATION): it stops working on the next
/// request on every instance, and its live connections close.
pub async fn revoke(db: &Db, actor_id: i64, key_id: i64) -> Result<ServiceKey, DomainError> {
    db.write(move |tx| {
        async move {
            let key = by_id(tx, key_id)
                .await?
                .ok_or(DomainError::NotFound("service key"))?;
            let (organization_id, permission) =
                (key.organization_id, Permission::ManageOrganization);
            access::authorize_on(tx, organization_id, actor_id, permission, "service key").await?;
            if key.revoked_at.is_some() {
                return Ok(key);
            }
            let revoked_at = now();
            let update = diesel::update(service_keys::table.find(key_id))
                .set(service_keys::revoked_at.eq(Some(revoked_at)));
            with_conn!(tx, |c| update.execute(c).await)?;
            let change = Change::new(organization_id, actor_id, Action::ServiceKeyRevoked)
                .details(json!({ "name": key.name, "prefix": key.prefix }))
                .live(LiveEvent::ServiceKeyRevoked { key_id });
            recorder::record(tx, change).await?;
            Ok(ServiceKey {
                revoked_at: Some(revoked_at),
                ..key
            })
        }
        .boxed()
    })
    .await
}

/// The principal a secret stands for, if it is a key that is not revoked.
/// Its last use is written at most once a minute.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<Principal>, DomainError> {
    let secret_hash = hash_token(secret);
    let found = db
        .read(move |c| {
            async move {
                let query = service_keys::table
                    .filter(service_keys::secret_hash.eq(secret_hash))
                    .filter(service_keys::revoked_at.is_null())
                    .select((
                        service_keys::id,
                        service_keys::organization_id,
                        service_keys::last_used_at,
                    ));
                Ok::<_, DomainError>(with_conn!(c, |c| query
                    .first::<(i64, i64, Option<NaiveDateTime>)>(c)
                    .await
                    .optional())?)
            }
            .boxed()
        })
        .await?;
    let Some((key_id, organization_id, last_used_at)) = found else {
        return Ok(None);
    };
    let at = now();
    if last_used_at.is_none_or(|last| at - last >= LAST_USE_PRECISION) {
        let db = db.clone();
        // Off the request's path: a lost write only makes lastUsedAt older.
        tokio::spawn(async move {
            let written = db
                .write(move |tx| {
                    async move {
                        let update = diesel::update(service_keys::table.find(key_id))
                            .set(service_keys::last_used_at.eq(Some(at)));
                        Ok::<_, DomainError>(with_conn!(tx, |c| update.execute(c).await)?)
                    }
                    .boxed()
                })
                .await;
            if let Err(error) = written {
                let _key = tracing::info_span!("service_key", key_id).entered();
                error.log_background("cannot record a service key's last use");
            }
        });
    }
    Ok(Some(Principal::ServiceKey {
        key_id,
        organization_id,
    }))
}

async fn by_id(conn: &mut Conn<'_>, id: i64) -> Result<Option<ServiceKey>, DomainError> {
    Ok(by_ids(conn, &[id]).await?.pop())
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<ServiceKey>, DomainError> {
    let query = service_keys::table.filter(service_keys::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(ServiceKey::as_select())
        .load(c)
        .await)?)
}

/// One page of an organization's keys, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    page: &PageArgs,
) -> Result<Page<ServiceKey>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = service_keys::table
            .filter(service_keys::organization_id.eq(organization_id))
            .select(ServiceKey::as_select())
            .into_boxed();
        id_window!(query, service_keys::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |key| key.id))
}

pub async fn count(conn: &mut Conn<'_>, organization_id: i64) -> Result<i64, DomainError> {
    let query = service_keys::table
        .filter(service_keys::organization_id.eq(organization_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}
