use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::DomainError;
use crate::db::schema::users;
use crate::db::{Conn, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<User>, DomainError> {
    Ok(with_conn!(conn, |c| users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(c)
        .await)?)
}

/// Trims and lower-cases an address, and checks its syntax.
pub fn normalize_email(raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
        return Err(DomainError::bad_input(format!(
            "{:?} is not a valid email address",
            raw.trim()
        )));
    }
    Ok(email)
}

/// A display name: trimmed, 1 to 100 characters.
pub fn normalize_name(raw: &str, what: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    match name.chars().count() {
        0 => Err(DomainError::bad_input(format!("{what} must not be empty"))),
        1..=100 => Ok(name.to_owned()),
        _ => Err(DomainError::bad_input(format!(
            "{what} must be at most 100 characters"
        ))),
    }
}
