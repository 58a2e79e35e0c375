//! Memberships: who belongs to which organization, with which role, and
//! what they hold; the organization row counts them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::{DomainError, Role, SeatTier};
use crate::db::schema::{memberships, users};
use crate::db::{Conn, with_conn};

mod listing;

pub use listing::{MemberFilter, MemberOrder, MemberOrderField, count, list, of_user};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub credits: i32,
    /// Of credits, what is held for work under way (events recorded before
    /// holds existed have none).
    #[serde(default)]
    pub credits_held: i32,
    #[serde(default)]
    pub credits_spent: i32,
    pub seat: SeatTier,
    pub joined_at: NaiveDateTime,
}

impl Membership {
    /// What can be held, spent or reclaimed now.
    pub fn credits_available(&self) -> i32 {
        self.credits - self.credits_held
    }
}

#[derive(Insertable)]
#[diesel(table_name = memberships)]
pub struct NewMembership {
    pub organization_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub joined_at: NaiveDateTime,
    /// The user's email and name: the keys of the EMAIL and NAME orders.
    pub user_email: String,
    pub user_name: String,
}

/// Adds a member and counts them on the organization row, in the caller's
/// transaction.
pub async fn add(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
    role: Role,
) -> Result<Membership, DomainError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    // The user's email and name are copied in the same statement.
    let user = users::table.filter(users::id.eq(user_id)).select((
        organization_id.into_sql::<BigInt>(),
        users::id,
        role.into_sql::<Text>(),
        super::now().into_sql::<Timestamp>(),
        users::email,
        users::name,
    ));
    let insert = diesel::insert_into(memberships::table)
        .values(user)
        .into_columns((
            memberships::organization_id,
            memberships::user_id,
            memberships::role,
            memberships::joined_at,
            memberships::user_email,
            memberships::user_name,
        ));
    let membership = with_conn!(tx, |c| insert
        .returning(Membership::as_returning())
        .get_result(c)
        .await)?;
    adjust_counters(tx, organization_id, &[(role, 1)]).await?;
    Ok(membership)
}

/// Keeps the member counters of the organization row true; every change of
/// membership or role calls this in its transaction with the members each
/// role gains (or, negative, loses).
pub async fn adjust_counters(
    tx: &mut Conn<'_>,
    organization_id: i64,
    changes: &[(Role, i32)],
) -> Result<(), DomainError> {
    use crate::db::schema::organizations::dsl::*;
    let delta = |role: Option<Role>| -> i32 {
        changes
            .iter()
            .filter(|(r, _)| role.is_none_or(|role| *r == role))
            .map(|(_, n)| n)
            .sum()
    };
    let update = diesel::update(organizations.find(organization_id)).set((
        member_count.eq(member_count + delta(None)),
        admin_count.eq(admin_count + delta(Some(Role::Admin))),
        manager_count.eq(manager_count + delta(Some(Role::Manager))),
        basic_member_count.eq(basic_member_count + delta(Some(Role::Member))),
    ));
    match with_conn!(tx, |c| update.execute(c).await)? {
        1 => Ok(()),
        _ => Err(DomainError::NotFound("organization")),
    }
}

/// The memberships `user_id` holds in each of `organization_ids`.
pub async fn of_user_in(
    conn: &mut Conn<'_>,
    user_id: i64,
    organization_ids: &[i64],
) -> Result<Vec<Membership>, DomainError> {
    let query = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::organization_id.eq_any(organization_ids));
    Ok(with_conn!(conn, |c| query
        .select(Membership::as_select())
        .load(c)
        .await)?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<Membership>, DomainError> {
    let query = memberships::table.filter(memberships::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(Membership::as_select())
        .load(c)
        .await)?)
}

/// How many organizations `user_id` belongs to.
pub async fn count_of_user(conn: &mut Conn<'_>, user_id: i64) -> Result<i64, DomainError> {
    let query = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}

/// The owner's membership of each of `organization_ids`.
pub async fn owners_of(
    conn: &mut Conn<'_>,
    organization_ids: &[i64],
) -> Result<Vec<Membership>, DomainError> {
    let query = memberships::table
        .filter(memberships::organization_id.eq_any(organization_ids))
        .filter(memberships::role.eq(Role::Owner));
    Ok(with_conn!(conn, |c| query
        .select(Membership::as_select())
        .load(c)
        .await)?)
}

/// Whether users `a` and `b` are members of some organization together.
pub async fn share_an_organization(
    conn: &mut Conn<'_>,
    a: i64,
    b: i64,
) -> Result<bool, DomainError> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let query = diesel::select(diesel::dsl::exists(
        mine.inner_join(
            theirs.on(theirs
                .field(memberships::organization_id)
                .eq(mine.field(memberships::organization_id))),
        )
        .filter(mine.field(memberships::user_id).eq(a))
        .filter(theirs.field(memberships::user_id).eq(b)),
    ));
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}

/// Locks a membership for the rest of the transaction. PostgreSQL takes a
/// row lock; SQLite needs none, its write transactions run one at a time.
///
/// Every operation locks memberships before it touches their organization
/// row, so two transactions never wait on each other in opposite orders.
pub async fn lock(tx: &mut Conn<'_>, member_id: i64) -> Result<Membership, DomainError> {
    let query = memberships::table.find(member_id);
    let found = match tx {
        Conn::Postgres(c, _) => query
            .select(Membership::as_select())
            .for_update()
            .first(*c)
            .await
            .optional()?,
        Conn::Sqlite(c, _) => query
            .select(Membership::as_select())
            .first(*c)
            .await
            .optional()?,
    };
    found.ok_or(DomainError::NotFound("member"))
}
