//! The credit ledger: one row per movement, written in the movement's
//! transaction with the balances after it, so replaying it oldest first
//! gives every balance; read newest first, page by page.

use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::db::schema::credit_ledger;
use crate::db::{Conn, with_conn};
use crate::domain::DomainError;
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::text_enum::text_enum;

/// From where to where credits moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum EntryKind {
    /// The pool was topped up.
    Added,
    /// Pool -> member.
    Distributed,
    /// Member -> pool.
    Reclaimed,
    /// Member -> pool, all of it, when the member was removed or left.
    Returned,
    /// The member's available -> held.
    Held,
    /// Held -> spent: the part the work used.
    Settled,
    /// Held -> available: a release, an expiry, or what a settle did not use.
    Released,
    /// Available -> spent, at once.
    Spent,
}

text_enum!(EntryKind {
    Added = "added",
    Distributed = "distributed",
    Reclaimed = "reclaimed",
    Returned = "returned",
    Held = "held",
    Settled = "settled",
    Released = "released",
    Spent = "spent",
});

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_ledger)]
pub struct LedgerEntry {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub service_key_id: Option<i64>,
    pub kind: EntryKind,
    pub amount: i32,
    pub member_credits_after: Option<i32>,
    pub pool_available_after: i32,
    pub hold_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = credit_ledger)]
pub(super) struct NewEntry<'a> {
    pub organization_id: i64,
    pub user_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub service_key_id: Option<i64>,
    pub kind: EntryKind,
    pub amount: i32,
    pub member_credits_after: Option<i32>,
    pub pool_available_after: i32,
    pub hold_id: Option<i64>,
    pub idempotency_key: Option<&'a str>,
    pub description: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

pub(super) async fn write(
    tx: &mut Conn<'_>,
    entry: NewEntry<'_>,
) -> Result<LedgerEntry, DomainError> {
    let insert = diesel::insert_into(credit_ledger::table).values(&entry);
    Ok(with_conn!(tx, |c| insert
        .returning(LedgerEntry::as_returning())
        .get_result(c)
        .await)?)
}

/// One page of the organization's ledger, or of one member's, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
    page: &PageArgs,
) -> Result<Page<LedgerEntry>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let mut query = credit_ledger::table
            .filter(credit_ledger::organization_id.eq(organization_id))
            .select(LedgerEntry::as_select())
            .into_boxed();
        if let Some(user_id) = user_id {
            query = query.filter(credit_ledger::user_id.eq(user_id));
        }
        id_window!(query, credit_ledger::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |entry| entry.id))
}

pub async fn count(
    conn: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
) -> Result<i64, DomainError> {
    Ok(with_conn!(conn, |c| {
        let mut query = credit_ledger::table
            .filter(credit_ledger::organization_id.eq(organization_id))
            .count()
            .into_boxed();
        if let Some(user_id) = user_id {
            query = query.filter(credit_ledger::user_id.eq(user_id));
        }
        query.get_result(c).await
    })?)
}

/// The first entry a spending call with `key` made.
pub(super) async fn first_with_key(
    conn: &mut Conn<'_>,
    organization_id: i64,
    key: &str,
) -> Result<Option<LedgerEntry>, DomainError> {
    let query = credit_ledger::table
        .filter(credit_ledger::organization_id.eq(organization_id))
        .filter(credit_ledger::idempotency_key.eq(key))
        .order(credit_ledger::id);
    Ok(with_conn!(conn, |c| query
        .select(LedgerEntry::as_select())
        .first(c)
        .await
        .optional())?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<LedgerEntry>, DomainError> {
    let query = credit_ledger::table.filter(credit_ledger::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(LedgerEntry::as_select())
        .load(c)
        .await)?)
}
