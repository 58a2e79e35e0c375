//! The tokens that verification and password-reset mails carry: random,
//! stored only as their hash, each for the address it was mailed to, good
//! once and until it expires. An account's recent tokens are also its
//! throttle: counting them needs no state outside the database, so every
//! instance counts the same.

use chrono::{Duration, NaiveDateTime};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::text_enum::text_enum;
use super::tokens::{hash_token, new_token};
use super::{DomainError, now};
use crate::db::schema::account_tokens;
use crate::db::{Conn, with_conn};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}
text_enum!(Purpose { VerifyEmail = "VERIFY_EMAIL", ResetPassword = "RESET_PASSWORD" });

impl Purpose {
    /// The web app's page the mail links to: `{APP_URL}/{page}?token=TOKEN`.
    pub fn page(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify-email",
            Purpose::ResetPassword => "reset-password",
        }
    }

    /// How a refusal names the link.
    fn link(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verification link",
            Purpose::ResetPassword => "password reset link",
        }
    }
}

/// Used and expired tokens are kept this long, so that their links are
/// refused as used or expired rather than unknown; then they are dropped.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(7);

#[derive(Insertable)]
#[diesel(table_name = account_tokens)]
struct NewToken<'a> {
    user_id: i64,
    purpose: Purpose,
    email: &'a str,
    token_hash: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// A token just issued: the secret for the link (never stored), and when
/// it stops working.
pub struct Issued {
    pub token: String,
    pub expires_at: NaiveDateTime,
}

/// Issues a token of `purpose` for `user_id`'s `email`, good for `ttl`, in
/// the caller's transaction; drops the account's tokens of that purpose
/// long past their expiry.
pub async fn issue(
    tx: &mut Conn<'_>,
    user_id: i64,
    purpose: Purpose,
    email: &str,
    ttl: Duration,
) -> Result<Issued, DomainError> {
    let created_at = now();
    let stale = diesel::delete(account_tokens::table)
        .filter(account_tokens::user_id.eq(user_id))
        .filter(account_tokens::purpose.eq(purpose))
        .filter(account_tokens::expires_at.lt(created_at - KEPT_AFTER_EXPIRY));
    with_conn!(tx, |c| stale.execute(c).await)?;
    let token = new_token();
    let expires_at = created_at + ttl;
    let new = NewToken {
        user_id,
        purpose,
        email,
        token_hash: &hash_token(&token),
        created_at,
        expires_at,
    };
    let insert = diesel::insert_into(account_tokens::table).values(&new);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok(Issued { token, expires_at })
}

/// How many tokens of `purpose` were issued since `since` to `user_id` or
/// to `email`.
pub async fn issued_since(
    tx: &mut Conn<'_>,
    purpose: Purpose,
    user_id: i64,
    email: &str,
    since: NaiveDateTime,
) -> Result<i64, DomainError> {
    let query = account_tokens::table
        .filter(account_tokens::purpose.eq(purpose))
        .filter(account_tokens::created_at.gt(since))
        .filter(
            account_tokens::user_id
                .eq(user_id)
                .or(account_tokens::email.eq(email)),
        )
        .count();
    Ok(with_conn!(tx, |c| query.get_result(c).await)?)
}

/// Whose a redeemed token was, and the address it was mailed to.
#[derive(Debug, Clone, Queryable)]
pub struct Redeemed {
    pub user_id: i64,
    pub email: String,
}

#[derive(Queryable)]
struct Stored {
    user_id: i64,
    email: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
}

/// Refuses a token of `purpose` that is unknown, used or expired
/// (BAD_USER_INPUT), without using it up: a check before slow work (a
/// password's hash) that only a good token deserves.
pub async fn check(conn: &mut Conn<'_>, purpose: Purpose, token: &str) -> Result<(), DomainError> {
    find(conn, purpose, token, false).await.map(drop)
}

/// Uses up the token of `purpose` that `token` is, in the caller's
/// transaction, with the account's other open tokens of that purpose: an
/// unknown, used or expired one is refused (BAD_USER_INPUT).
pub async fn redeem(
    tx: &mut Conn<'_>,
    purpose: Purpose,
    token: &str,
) -> Result<Redeemed, DomainError> {
    let stored = find(tx, purpose, token, true).await?;
    retire(tx, stored.user_id, purpose).await?;
    Ok(Redeemed {
        user_id: stored.user_id,
        email: stored.email,
    })
}

/// The open token `token` is; `lock`ed on PostgreSQL, so that of two
/// redemptions at once the second waits and finds it used (SQLite's write
/// transactions run one at a time).
async fn find(
    conn: &mut Conn<'_>,
    purpose: Purpose,
    token: &str,
    lock: bool,
) -> Result<Stored, DomainError> {
    let query = account_tokens::table
        .filter(account_tokens::token_hash.eq(hash_token(token)))
        .filter(account_tokens::purpose.eq(purpose))
        .select((
            account_tokens::user_id,
            account_tokens::email,
            account_tokens::expires_at,
            account_tokens::used_at,
        ));
    let found: Option<Stored> = match conn {
        Conn::Postgres(c, _) if lock => query.for_update().first(*c).await.optional()?,
        Conn::Postgres(c, _) => query.first(*c).await.optional()?,
        Conn::Sqlite(c, _) => query.first(*c).await.optional()?,
    };
    let link = purpose.link();
    let stored =
        found.ok_or_else(|| DomainError::bad_input(format!("this {link} is not valid")))?;
    if stored.used_at.is_some() {
        return Err(DomainError::bad_input(format!(
            "this {link} has already been used"
        )));
    }
    if stored.expires_at <= now() {
        return Err(DomainError::bad_input(format!(
            "this {link} has expired: ask for a new one"
        )));
    }
    Ok(stored)
}

/// Uses up every open token of `purpose` of the account: their links stop
/// working (after a password change, the reset links mailed before it).
pub async fn retire(tx: &mut Conn<'_>, user_id: i64, purpose: Purpose) -> Result<(), DomainError> {
    let update = diesel::update(account_tokens::table)
        .filter(account_tokens::user_id.eq(user_id))
        .filter(account_tokens::purpose.eq(purpose))
        .filter(account_tokens::used_at.is_null())
        .set(account_tokens::used_at.eq(Some(now())));
    with_conn!(tx, |c| update.execute(c).await)?;
    Ok(())
}
