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

/// Characters that render as nothing, or reorder the text around them:
/// they exist to make one address look like another.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

/// Trims and lower-cases an address, and checks its syntax. Invisible and
/// bidirectional control characters are refused: they exist to spoof.
pub fn normalize_email(raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    let invalid = email.len() > 254
        || email
            .chars()
            .any(|c| c.is_control() || is_invisible_or_bidi(c))
        || email.parse::<lettre::Address>().is_err();
    if invalid {
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
