//! The audit log: one row per change, written in the change's transaction
//! (by `recorder`), and read page by page.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use super::DomainError;
use super::changes::{Action, Actor, Target};
use super::members::Membership;
use super::pagination::{Page, PageArgs, id_window};
use crate::db::schema::{audit_events, users};
use crate::db::{Conn, with_conn};

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    organization_id: i64,
    actor_id: Option<i64>,
    service_key_id: Option<i64>,
    action: Action,
    target_user_id: Option<i64>,
    target_email: Option<&'a str>,
    details: Option<String>,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub organization_id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_user_id: Option<i64>,
    pub target_email: Option<String>,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Writes the audit row of `action` by `actor` in the organization, in
/// the caller's transaction (`details` is stored as JSON text). Returns the
/// target's address as the row names it, and the row's time.
pub(super) async fn write(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor: Actor,
    action: Action,
    target: &Target<'_>,
    details: &Value,
) -> Result<(Option<String>, NaiveDateTime), DomainError> {
    let created_at = super::now();
    let details = (!details.is_null()).then(|| details.to_string());
    let (target_user_id, target_email) = match target {
        Target::Nobody => (None, None),
        Target::Member {
            member,
            email: None,
            ..
        } => {
            // The member's address is copied in the same statement.
            let email = write_naming_member(
                tx,
                organization_id,
                actor,
                action,
                member,
                details,
                created_at,
            )
            .await?;
            return Ok((Some(email), created_at));
        }
        Target::Member {
            member,
            email: Some(email),
            ..
        } => (Some(member.user_id), Some((*email).to_owned())),
        Target::Email(email) => (None, Some((*email).to_owned())),
    };
    let entry = NewAuditEvent {
        organization_id,
        actor_id: actor.user_id(),
        service_key_id: actor.service_key_id(),
        action,
        target_user_id,
        target_email: target_email.as_deref(),
        details,
        created_at,
    };
    let insert = diesel::insert_into(audit_events::table).values(&entry);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok((target_email, created_at))
}

/// [`write`] for a member whose address the caller does not have: it is
/// read from their user row by the insert itself. Returns the address.
async fn write_naming_member(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor: Actor,
    action: Action,
    member: &Membership,
    details: Option<String>,
    created_at: NaiveDateTime,
) -> Result<String, DomainError> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    let row = users::table.find(member.user_id).select((
        organization_id.into_sql::<BigInt>(),
        actor.user_id().into_sql::<Nullable<BigInt>>(),
        actor.service_key_id().into_sql::<Nullable<BigInt>>(),
        action.into_sql::<Text>(),
        users::id.nullable(),
        users::email.nullable(),
        details.into_sql::<Nullable<Text>>(),
        created_at.into_sql::<Timestamp>(),
    ));
    let insert = diesel::insert_into(audit_events::table)
        .values(row)
        .into_columns((
            audit_events::organization_id,
            audit_events::actor_id,
            audit_events::service_key_id,
            audit_events::action,
            audit_events::target_user_id,
            audit_events::target_email,
            audit_events::details,
            audit_events::created_at,
        ));
    let email: Option<String> = with_conn!(tx, |c| insert
        .returning(audit_events::target_email)
        .get_result(c)
        .await)?;
    email
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("a member's user without an address")))
}

/// One page of an organization's audit log, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    page: &PageArgs,
) -> Result<Page<AuditEvent>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = audit_events::table
            .filter(audit_events::organization_id.eq(organization_id))
            .select(AuditEvent::as_select())
            .into_boxed();
        id_window!(query, audit_events::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |event| event.id))
}

pub async fn count(conn: &mut Conn<'_>, organization_id: i64) -> Result<i64, DomainError> {
    let query = audit_events::table
        .filter(audit_events::organization_id.eq(organization_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<AuditEvent>, DomainError> {
    let query = audit_events::table.filter(audit_events::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(AuditEvent::as_select())
        .load(c)
        .await)?)
}
