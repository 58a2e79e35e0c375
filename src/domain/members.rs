use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::organizations::Organization;
use super::pagination::{Page, PageArgs};
use super::users::User;
use super::{DomainError, Role, SeatTier};
use crate::db::Conn;
use crate::db::schema::{memberships, users};
use crate::with_conn;

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub credits: i32,
    pub seat: SeatTier,
    pub joined_at: NaiveDateTime,
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
    count_members(tx, organization_id, &[(role, 1)]).await?;
    Ok(membership)
}

/// Keeps the member counters of the organization row true; every change of
/// membership or role calls this in its transaction with the members each
/// role gains (or, negative, loses).
pub async fn count_members(
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberOrderField {
    #[default]
    JoinedAt,
    Email,
    Name,
    Role,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct MemberOrder {
    pub field: MemberOrderField,
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub role: Option<Role>,
    /// Case-insensitive substring of the email or the name.
    pub query: Option<String>,
}

impl MemberFilter {
    /// The LIKE pattern of `query`, lower-cased, its wildcards escaped.
    fn pattern(&self) -> Option<String> {
        let query = self.query.as_deref()?.trim();
        if query.is_empty() {
            return None;
        }
        let escaped = query
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        Some(format!("%{escaped}%"))
    }
}

/// A member listing's cursor: the sort key of its order, and the membership
/// id that breaks ties.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum MemberKey {
    #[serde(rename = "j")]
    JoinedAt(NaiveDateTime, i64),
    #[serde(rename = "e")]
    Email(String, i64),
    #[serde(rename = "n")]
    Name(String, i64),
    #[serde(rename = "r")]
    Role(i32, i64),
}

impl MemberKey {
    fn of(field: MemberOrderField, (membership, user): &(Membership, User)) -> MemberKey {
        match field {
            MemberOrderField::JoinedAt => MemberKey::JoinedAt(membership.joined_at, membership.id),
            MemberOrderField::Email => MemberKey::Email(user.email.clone(), membership.id),
            MemberOrderField::Name => MemberKey::Name(user.name.clone(), membership.id),
            MemberOrderField::Role => MemberKey::Role(role_rank(membership.role), membership.id),
        }
    }

    fn field(&self) -> MemberOrderField {
        match self {
            MemberKey::JoinedAt(..) => MemberOrderField::JoinedAt,
            MemberKey::Email(..) => MemberOrderField::Email,
            MemberKey::Name(..) => MemberOrderField::Name,
            MemberKey::Role(..) => MemberOrderField::Role,
        }
    }
}

/// The database's `role_rank` (a generated column): owner first.
fn role_rank(role: Role) -> i32 {
    match role {
        Role::Owner => 0,
        Role::Admin => 1,
        Role::Manager => 2,
        Role::Member => 3,
    }
}

/// One page of an organization's members with their users, in one statement.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    filter: &MemberFilter,
    order: MemberOrder,
    page: &PageArgs,
) -> Result<Page<(Membership, User)>, DomainError> {
    let window = page.window::<MemberKey>()?;
    let cursors = window.after.iter().chain(&window.before);
    if cursors.into_iter().any(|key| key.field() != order.field) {
        return Err(DomainError::bad_input(
            "the cursor belongs to another orderBy",
        ));
    }
    let ascending = window.scan_ascending(!order.descending);
    let pattern = filter.pattern();

    // Seeks past a bound in the listing's order; the redundant `>=` / `<=`
    // lets the planner start the index scan at the bound.
    macro_rules! seek {
        ($q:ident, $column:expr, $variant:ident) => {{
            let bounds = [
                (window.after.as_ref(), true),
                (window.before.as_ref(), false),
            ];
            for (bound, later) in bounds {
                if let Some(MemberKey::$variant(value, id)) = bound {
                    let (value, id) = (value.clone(), *id);
                    $q = if later != order.descending {
                        $q.filter(
                            $column
                                .ge(value.clone())
                                .and($column.gt(value).or(memberships::id.gt(id))),
                        )
                    } else {
                        $q.filter(
                            $column
                                .le(value.clone())
                                .and($column.lt(value).or(memberships::id.lt(id))),
                        )
                    };
                }
            }
            $q = if ascending {
                $q.order(($column.asc(), memberships::id.asc()))
            } else {
                $q.order(($column.desc(), memberships::id.desc()))
            };
        }};
    }

    let rows: Vec<(Membership, User)> = with_conn!(conn, |c| {
        let mut query = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(organization_id))
            .select((Membership::as_select(), User::as_select()))
            .into_boxed();
        if let Some(role) = filter.role {
            query = query.filter(memberships::role.eq(role));
        }
        if let Some(pattern) = &pattern {
            query = query.filter(
                users::email
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::name).like(pattern.clone()).escape('\\')),
            );
        }
        match order.field {
            MemberOrderField::JoinedAt => seek!(query, memberships::joined_at, JoinedAt),
            MemberOrderField::Email => seek!(query, memberships::user_email, Email),
            MemberOrderField::Name => seek!(query, memberships::user_name, Name),
            MemberOrderField::Role => seek!(query, memberships::role_rank, Role),
        }
        query.limit(window.limit + 1).load(c).await
    })?;
    Ok(window.page(rows, |row| MemberKey::of(order.field, row)))
}

/// How many members match `filter`: read from the organization's counters
/// unless a text query forces a count.
pub async fn count(
    conn: &mut Conn<'_>,
    organization: &Organization,
    filter: &MemberFilter,
) -> Result<i64, DomainError> {
    let Some(pattern) = filter.pattern() else {
        return Ok(i64::from(match filter.role {
            Some(role) => organization.members_with_role(role),
            None => organization.member_count,
        }));
    };
    with_conn!(conn, |c| {
        let mut query = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(organization.id))
            .filter(
                users::email
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::name).like(pattern.clone()).escape('\\')),
            )
            .count()
            .into_boxed();
        if let Some(role) = filter.role {
            query = query.filter(memberships::role.eq(role));
        }
        query.get_result(c).await
    })
    .map_err(Into::into)
}

/// One page of a user's own memberships, oldest first.
pub async fn of_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    page: &PageArgs,
) -> Result<Page<Membership>, DomainError> {
    let window = page.window::<i64>()?;
    let ascending = window.scan_ascending(true);
    let rows: Vec<Membership> = with_conn!(conn, |c| {
        let mut query = memberships::table
            .filter(memberships::user_id.eq(user_id))
            .select(Membership::as_select())
            .into_boxed();
        if let Some(after) = window.after {
            query = query.filter(memberships::id.gt(after));
        }
        if let Some(before) = window.before {
            query = query.filter(memberships::id.lt(before));
        }
        query = if ascending {
            query.order(memberships::id.asc())
        } else {
            query.order(memberships::id.desc())
        };
        query.limit(window.limit + 1).load(c).await
    })?;
    Ok(window.page(rows, |m| m.id))
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

/// The viewer's membership, if it grants `permission`. Someone who is not a
/// member learns nothing, not even that the organization exists.
pub fn require(
    viewer: Option<Membership>,
    permission: super::Permission,
) -> Result<Membership, DomainError> {
    match viewer {
        None => Err(DomainError::NotFound("organization")),
        Some(m) if m.role.can(permission) => Ok(m),
        Some(_) => Err(DomainError::MissingPermission(permission)),
    }
}

/// The actor's membership of the organization, if it grants `permission`.
pub async fn authorize(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor_id: i64,
    permission: super::Permission,
) -> Result<Membership, DomainError> {
    require(
        of_user_in(tx, actor_id, &[organization_id]).await?.pop(),
        permission,
    )
}

/// Locks a membership for the rest of the transaction. PostgreSQL takes a
/// row lock; SQLite needs none, its write transactions run one at a time.
///
/// Every operation locks memberships before it touches their organization
/// row, so two transactions never wait on each other in opposite orders.
pub async fn lock(tx: &mut Conn<'_>, member_id: i64) -> Result<Membership, DomainError> {
    let query = memberships::table.find(member_id);
    let found = match tx {
        Conn::Postgres(c) => query
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

/// Locks the member `member_id` and checks that the actor may act on it with
/// `permission`. To someone outside its organization the member does not exist.
pub async fn lock_for(
    tx: &mut Conn<'_>,
    member_id: i64,
    actor_id: i64,
    permission: super::Permission,
) -> Result<Membership, DomainError> {
    let target = lock(tx, member_id).await?;
    match authorize(tx, target.organization_id, actor_id, permission).await {
        Err(DomainError::NotFound(_)) => Err(DomainError::NotFound("member")),
        Err(error) => Err(error),
        Ok(_) => Ok(target),
    }
}
