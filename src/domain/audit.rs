//! The audit log: one row per change, written in the change's transaction.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DomainError;
use crate::db::Conn;
use crate::db::schema::audit_events;
use crate::with_conn;

/// What happened, to whom, by whom. `details` is JSON.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEntry<'a> {
    pub organization_id: i64,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target_user_id: Option<i64>,
    pub target_email: Option<&'a str>,
    pub details: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

pub async fn record(tx: &mut Conn<'_>, entry: AuditEntry<'_>) -> Result<(), DomainError> {
    let insert = diesel::insert_into(audit_events::table).values(&entry);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok(())
}
