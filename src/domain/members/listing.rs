//! Listing an organization's members: filters, four orders, keyset cursors.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::expression::{
    AppearsOnTable, AsExpression, Expression, TypedExpressionType, ValidGrouping,
};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, SqlType};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::Membership;
use crate::db::schema::{memberships, users};
use crate::db::{Conn, with_conn};
use crate::domain::organizations::Organization;
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::text;
use crate::domain::users::User;
use crate::domain::{DomainError, Role};

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

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

/// The longest text `query` a member listing takes (SQLite refuses far
/// longer LIKE patterns, and no name or address is longer).
pub const MAX_QUERY_CHARS: usize = 254;

impl MemberFilter {
    /// The LIKE pattern of `query` in the form addresses are stored in
    /// (NFC, lower-cased), its wildcards escaped.
    fn pattern(&self) -> Result<Option<String>, DomainError> {
        let Some(query) = self.query.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if query.is_empty() {
            return Ok(None);
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(DomainError::bad_input(format!(
                "query must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let escaped = text::fold(query)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        Ok(Some(format!("%{escaped}%")))
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
    let pattern = filter.pattern()?;

    // Seeks past a bound in the listing's order.
    macro_rules! seek {
        ($q:ident, $column:expr, $variant:ident) => {{
            let bounds = [
                (window.after.as_ref(), true),
                (window.before.as_ref(), false),
            ];
            for (bound, later) in bounds {
                if let Some(MemberKey::$variant(value, id)) = bound {
                    let later = later != order.descending;
                    $q = $q.filter(Beyond::new($column, value.clone(), *id, later));
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

/// `(column, memberships.id) > (value, id)`, or `<` when not `later`: a
/// row comparison, which PostgreSQL answers by seeking the listing's index
/// to the bound, even past many members tied on `column` (a bulk that
/// joined at once). SQLite seeks on `column` and filters the ties.
struct Beyond<C, V> {
    column: C,
    value: V,
    id: i64,
    later: bool,
}

impl<C: Expression, V> Beyond<C, V> {
    fn new<T>(column: C, value: T, id: i64, later: bool) -> Self
    where
        C::SqlType: SqlType + TypedExpressionType,
        T: AsExpression<C::SqlType, Expression = V>,
    {
        Beyond {
            column,
            value: value.as_expression(),
            id,
            later,
        }
    }
}

impl<C, V> Expression for Beyond<C, V> {
    type SqlType = Bool;
}

impl<C, V, QS> AppearsOnTable<QS> for Beyond<C, V>
where
    C: AppearsOnTable<QS>,
    V: AppearsOnTable<QS>,
{
}

impl<C: ValidGrouping<()>, V> ValidGrouping<()> for Beyond<C, V> {
    type IsAggregate = C::IsAggregate;
}

/// The SQL differs with `later`, which the type does not show: no static id.
impl<C, V> QueryId for Beyond<C, V> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C, V, DB> QueryFragment<DB> for Beyond<C, V>
where
    DB: Backend,
    C: QueryFragment<DB>,
    V: QueryFragment<DB>,
    memberships::id: QueryFragment<DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(");
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        memberships::id.walk_ast(out.reborrow())?;
        out.push_sql(if self.later { ") > (" } else { ") < (" });
        self.value.walk_ast(out.reborrow())?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, i64>(&self.id)?;
        out.push_sql(")");
        Ok(())
    }
}

/// How many members match `filter`: read from the organization's counters
/// unless a text query forces a count.
pub async fn count(
    conn: &mut Conn<'_>,
    organization: &Organization,
    filter: &MemberFilter,
) -> Result<i64, DomainError> {
    let Some(pattern) = filter.pattern()? else {
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
    let rows: Vec<Membership> = with_conn!(conn, |c| {
        let query = memberships::table
            .filter(memberships::user_id.eq(user_id))
            .select(Membership::as_select())
            .into_boxed();
        id_window!(query, memberships::id, window, newest_first = false)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |m| m.id))
}
