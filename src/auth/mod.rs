//! Accounts and sessions: argon2 password hashes, random bearer tokens
//! stored only as SHA-256 hashes, and the request's [`Viewer`].

mod passwords;
mod tokens;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use crate::db::schema::{sessions, users};
use crate::db::{Conn, Db};
use crate::domain::invitations;
use crate::domain::members::Membership;
use crate::domain::users::{User, normalize_email, normalize_name};
use crate::domain::{DomainError, now};
use crate::events::{self, BusEvent};
use crate::with_conn;

pub use passwords::hash as hash_password;
pub use tokens::{hash_token, new_token};

/// How long a session lasts after log-in.
pub const SESSION_TTL: Duration = Duration::days(30);
pub const MIN_PASSWORD_LENGTH: usize = 8;
/// Argon2 of a megabyte of password is wasted work: refuse it early.
const MAX_PASSWORD_LENGTH: usize = 1024;

/// Who is asking: the user behind a valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub session_id: i64,
    pub session_expires_at: NaiveDateTime,
}

/// A new session: the bearer token (shown to the client once, never stored)
/// and the signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
    pub session_id: i64,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    email: &'a str,
    name: &'a str,
    password_hash: &'a str,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    user_id: i64,
    token_hash: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

pub struct SignUp<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
}

/// Checks a new account's fields and hashes its password: everything
/// sign-up does before it opens a transaction.
pub struct NewAccount {
    email: String,
    name: String,
    password_hash: String,
}

impl NewAccount {
    pub async fn prepare(input: SignUp<'_>) -> Result<NewAccount, DomainError> {
        let email = normalize_email(input.email)?;
        let name = normalize_name(input.name, "name")?;
        let length = input.password.chars().count();
        if length < MIN_PASSWORD_LENGTH {
            return Err(DomainError::bad_input(format!(
                "the password must be at least {MIN_PASSWORD_LENGTH} characters"
            )));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(DomainError::bad_input(format!(
                "the password must be at most {MAX_PASSWORD_LENGTH} characters"
            )));
        }
        let password_hash = passwords::hash(input.password.to_owned()).await?;
        Ok(NewAccount {
            email,
            name,
            password_hash,
        })
    }

    /// Creates the user and a first session, in the caller's transaction.
    pub async fn create(&self, tx: &mut Conn<'_>) -> Result<SignedIn, DomainError> {
        let new = NewUser {
            email: &self.email,
            name: &self.name,
            password_hash: &self.password_hash,
            created_at: now(),
        };
        let insert = diesel::insert_into(users::table).values(&new);
        let user = with_conn!(tx, |c| insert
            .returning(User::as_returning())
            .get_result(c)
            .await)?;
        start_session(tx, user).await
    }
}

/// Creates an account and signs it in; with an invitation token, accepts
/// the invitation in the same transaction (both happen, or neither).
pub async fn sign_up(
    db: &Db,
    input: SignUp<'_>,
    invitation_token: Option<String>,
) -> Result<(SignedIn, Option<Membership>), DomainError> {
    let account = NewAccount::prepare(input).await?;
    db.write(move |tx| {
        async move {
            let signed_in = account.create(tx).await?;
            let joined = match invitation_token {
                Some(token) => Some(invitations::accept_in(tx, signed_in.user.id, &token).await?),
                None => None,
            };
            Ok((signed_in, joined))
        }
        .boxed()
    })
    .await
}

/// Signs in with email and password. The error is the same whether or not
/// the email has an account, and so is the time it takes.
pub async fn log_in(db: &Db, email: &str, password: &str) -> Result<SignedIn, DomainError> {
    const BAD_CREDENTIALS: DomainError = DomainError::Unauthenticated("invalid email or password");
    let email = email.trim().to_lowercase();
    let found = db
        .read(move |c| {
            async move {
                let query = users::table.filter(users::email.eq(email));
                Ok(with_conn!(c, |c| query
                    .select((User::as_select(), users::password_hash))
                    .first::<(User, String)>(c)
                    .await
                    .optional())?)
            }
            .boxed()
        })
        .await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = passwords::verify(password.to_owned(), hash).await?;
    match user {
        Some(user) if matches => {
            db.write(move |tx| async move { start_session(tx, user).await }.boxed())
                .await
        }
        _ => Err(BAD_CREDENTIALS),
    }
}

/// Opens a session for `user` in the caller's transaction.
pub async fn start_session(tx: &mut Conn<'_>, user: User) -> Result<SignedIn, DomainError> {
    let token = new_token();
    let created_at = now();
    let new = NewSession {
        user_id: user.id,
        token_hash: &hash_token(&token),
        created_at,
        expires_at: created_at + SESSION_TTL,
    };
    let insert = diesel::insert_into(sessions::table)
        .values(&new)
        .returning(sessions::id);
    let session_id = with_conn!(tx, |c| insert.get_result(c).await)?;
    Ok(SignedIn {
        token,
        user,
        session_id,
    })
}

/// Ends a session: its token stops working at once, and its live
/// connections close (on every instance).
pub async fn log_out(db: &Db, viewer: Viewer) -> Result<(), DomainError> {
    db.write(move |tx| {
        async move {
            let delete = diesel::delete(sessions::table.find(viewer.session_id));
            with_conn!(tx, |c| delete.execute(c).await)?;
            events::stage(
                tx,
                BusEvent::SessionEnded {
                    session_id: viewer.session_id,
                },
            )
            .await
        }
        .boxed()
    })
    .await
}

/// The viewer a bearer token stands for, if it is a live session.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Viewer>, DomainError> {
    let token_hash = hash_token(token);
    db.read(move |c| {
        async move {
            let query = sessions::table
                .filter(sessions::token_hash.eq(token_hash))
                .filter(sessions::expires_at.gt(now()))
                .select((sessions::user_id, sessions::id, sessions::expires_at));
            let found = with_conn!(c, |c| query
                .first::<(i64, i64, NaiveDateTime)>(c)
                .await
                .optional())?;
            Ok(
                found.map(|(user_id, session_id, session_expires_at)| Viewer {
                    user_id,
                    session_id,
                    session_expires_at,
                }),
            )
        }
        .boxed()
    })
    .await
}

/// The token of an `Authorization: Bearer <token>` value (the scheme in any
/// case, as HTTP's auth schemes are).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
