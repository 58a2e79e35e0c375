//! Credit holds: credits a service set aside for work under way, until it
//! settles them with what the work used, releases them, or they expire.

use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::db::schema::credit_holds;
use crate::db::{Conn, with_conn};
use crate::domain::DomainError;
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::text_enum::text_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum HoldStatus {
    Held,
    Settled,
    Released,
    Expired,
}

text_enum!(HoldStatus {
    Held = "held",
    Settled = "settled",
    Released = "released",
    Expired = "expired",
});

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_holds)]
pub struct CreditHold {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub amount: i32,
    pub settled_amount: Option<i32>,
    pub status: HoldStatus,
    pub description: Option<String>,
    pub idempotency_key: String,
    pub service_key_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = credit_holds)]
pub(super) struct NewHold<'a> {
    pub organization_id: i64,
    pub user_id: i64,
    pub amount: i32,
    pub description: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub service_key_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub(super) async fn insert(
    tx: &mut Conn<'_>,
    hold: NewHold<'_>,
) -> Result<CreditHold, DomainError> {
    let insert = diesel::insert_into(credit_holds::table).values(&hold);
    Ok(with_conn!(tx, |c| insert
        .returning(CreditHold::as_returning())
        .get_result(c)
        .await)?)
}

pub async fn get(conn: &mut Conn<'_>, hold_id: i64) -> Result<Option<CreditHold>, DomainError> {
    let query = credit_holds::table.find(hold_id);
    Ok(with_conn!(conn, |c| query
        .select(CreditHold::as_select())
        .first(c)
        .await
        .optional())?)
}

/// Ends a hold that is still HELD (None if it is not: someone else ended
/// it first, whatever the interleaving).
pub(super) async fn end(
    tx: &mut Conn<'_>,
    hold_id: i64,
    status: HoldStatus,
    settled_amount: Option<i32>,
) -> Result<Option<CreditHold>, DomainError> {
    let update = diesel::update(credit_holds::table.find(hold_id))
        .filter(credit_holds::status.eq(HoldStatus::Held))
        .set((
            credit_holds::status.eq(status),
            credit_holds::settled_amount.eq(settled_amount),
            credit_holds::ended_at.eq(crate::domain::now()),
        ));
    Ok(with_conn!(tx, |c| update
        .returning(CreditHold::as_returning())
        .get_result(c)
        .await
        .optional())?)
}

/// The holds of a member still HELD, oldest first.
pub(super) async fn open_of(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
) -> Result<Vec<CreditHold>, DomainError> {
    let query = credit_holds::table
        .filter(credit_holds::organization_id.eq(organization_id))
        .filter(credit_holds::user_id.eq(user_id))
        .filter(credit_holds::status.eq(HoldStatus::Held))
        .order(credit_holds::id);
    Ok(with_conn!(tx, |c| query
        .select(CreditHold::as_select())
        .load(c)
        .await)?)
}

/// Up to `limit` holds past their expiry, soonest first.
pub(super) async fn due(
    conn: &mut Conn<'_>,
    at: NaiveDateTime,
    limit: i64,
) -> Result<Vec<CreditHold>, DomainError> {
    let query = credit_holds::table
        .filter(credit_holds::status.eq(HoldStatus::Held))
        .filter(credit_holds::expires_at.le(at))
        .order(credit_holds::expires_at)
        .limit(limit);
    Ok(with_conn!(conn, |c| query
        .select(CreditHold::as_select())
        .load(c)
        .await)?)
}

/// When the next hold expires, if any is open.
pub async fn next_expiry(conn: &mut Conn<'_>) -> Result<Option<NaiveDateTime>, DomainError> {
    let query = credit_holds::table
        .filter(credit_holds::status.eq(HoldStatus::Held))
        .select(diesel::dsl::min(credit_holds::expires_at));
    Ok(with_conn!(conn, |c| query.first(c).await)?)
}

/// What a listing of holds asks for.
#[derive(Debug, Clone, Copy)]
pub struct HoldFilter {
    pub organization_id: i64,
    pub user_id: i64,
    pub status: Option<HoldStatus>,
}

macro_rules! filtered {
    ($filter:expr) => {{
        let filter = $filter;
        let mut query = credit_holds::table
            .filter(credit_holds::organization_id.eq(filter.organization_id))
            .filter(credit_holds::user_id.eq(filter.user_id))
            .into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(credit_holds::status.eq(status));
        }
        query
    }};
}

/// One page of a member's holds, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    filter: HoldFilter,
    page: &PageArgs,
) -> Result<Page<CreditHold>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = filtered!(filter).select(CreditHold::as_select());
        id_window!(query, credit_holds::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |hold| hold.id))
}

pub async fn count(conn: &mut Conn<'_>, filter: HoldFilter) -> Result<i64, DomainError> {
    Ok(with_conn!(conn, |c| filtered!(filter)
        .count()
        .get_result(c)
        .await)?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<CreditHold>, DomainError> {
    let query = credit_holds::table.filter(credit_holds::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(CreditHold::as_select())
        .load(c)
        .await)?)
}
