use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{DomainError, text};
use crate::db::schema::users;
use crate::db::{Conn, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    /// Whether the user has shown they receive mail at `email` (a
    /// provider's `email_verified`, an accepted invitation, a verification
    /// link).
    pub email_verified: bool,
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<User>, DomainError> {
    Ok(with_conn!(conn, |c| users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(c)
        .await)?)
}

/// An account that holds an address so that others may not: by having
/// proven it (one account per address), or as a password account's login
/// (one password account per address), proven or not.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct Holder {
    pub user_id: i64,
    pub proven: bool,
    pub has_password: bool,
}

/// The accounts that hold `address` (at most two: the one that proved it,
/// and a password account whose login it is).
pub async fn holders(conn: &mut Conn<'_>, address: &str) -> Result<Vec<Holder>, DomainError> {
    let query = users::table
        .filter(users::email.eq(address))
        .filter(users::email_verified.or(users::password_hash.ne("")))
        .select((
            users::id,
            users::email_verified,
            users::password_hash.ne(""),
        ));
    Ok(with_conn!(conn, |c| query.load(c).await)?)
}

/// Trims an address, puts it in the one form addresses are stored and
/// compared in ([`text::fold`]: NFC, lower-cased), and checks its syntax.
/// Line breaks, controls, invisible and bidirectional control characters
/// are refused: they exist to spoof. Every address a client sends is its
/// input's `email` field.
pub fn normalize_email(raw: &str) -> Result<String, DomainError> {
    let email = text::fold(raw.trim());
    let invalid = email.len() > 254
        || email.chars().any(|c| text::out_of_line(c).is_some())
        || email.parse::<lettre::Address>().is_err();
    if invalid {
        return Err(DomainError::BadField {
            field: "email",
            message: format!("{:?} is not a valid email address", raw.trim()),
        });
    }
    Ok(email)
}

/// A display name: trimmed, 1 to 100 characters, one line of visible text
/// (see [`text::stray_in_line`]). Every name a client sets is its input's
/// `name` field, which the refusal names for a form to point at.
pub fn normalize_name(raw: &str, what: &str) -> Result<String, DomainError> {
    let refuse = |message: String| DomainError::BadField {
        field: "name",
        message,
    };
    // Checked before trimming: a line break at either end is one too.
    if let Some((c, kind)) = text::stray_in_line(raw) {
        return Err(refuse(format!(
            "{what} contains U+{:04X} ({kind}): names are one line of visible text",
            u32::from(c)
        )));
    }
    let name = raw.trim();
    match name.chars().count() {
        0 => Err(refuse(format!("{what} must not be empty"))),
        1..=100 => Ok(name.to_owned()),
        _ => Err(refuse(format!("{what} must be at most 100 characters"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_stored_in_one_form() {
        let composed = normalize_email(" Zo\u{00EB}@Example.com ").unwrap();
        let decomposed = normalize_email("zoe\u{0308}@example.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed, "zo\u{00EB}@example.com");
        assert_eq!(
            normalize_email("J\u{030C}@example.com").unwrap(),
            "\u{01F0}@example.com"
        );
        for spoof in [
            "a\u{202E}b@example.com",
            "a\u{200B}b@example.com",
            "a\u{2028}b@example.com",
        ] {
            assert!(normalize_email(spoof).is_err(), "{spoof:?}");
        }
    }

    #[test]
    fn a_name_is_one_line_of_visible_text() {
        let Err(DomainError::BadField { field, message }) = normalize_name("Ada\u{202E}", "name")
        else {
            panic!("refused");
        };
        assert_eq!(field, "name");
        assert_eq!(
            message,
            "name contains U+202E (a bidirectional control): names are one line of visible text"
        );
        assert!(matches!(
            normalize_name("  ", "organization name"),
            Err(DomainError::BadField { field: "name", .. })
        ));
        assert_eq!(normalize_name(" Zoë 🎉 ", "name").unwrap(), "Zoë 🎉");
    }
}
