//! orgql's own sessions: a random bearer token, stored only as its hash,
//! that stands for a signed-in user until it expires or is logged out.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::live_events::{self, LiveEvent};
use super::principal::{Credential, Principal, SessionRef};
use super::tokens::{hash_token, new_token};
use super::users::User;
use super::{DomainError, now};
use crate::db::schema::sessions;
use crate::db::{Conn, Db, with_conn};

/// How long a session lasts after log-in.
pub const SESSION_TTL: Duration = Duration::days(30);

/// A new session: the bearer token (shown to the client once, never stored)
/// and the signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
    pub session_id: i64,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    user_id: i64,
    token_hash: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Opens a session for `user` in the caller's transaction.
pub async fn start(tx: &mut Conn<'_>, user: User) -> Result<SignedIn, DomainError> {
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

/// Ends the principal's session: its token stops working at once, and its
/// live connections close (on every instance).
pub async fn log_out(db: &Db, principal: &Principal) -> Result<(), DomainError> {
    let session_id = principal.session()?.id;
    db.write(move |tx| {
        async move {
            let delete = diesel::delete(sessions::table.find(session_id));
            with_conn!(tx, |c| delete.execute(c).await)?;
            live_events::stage(tx, LiveEvent::SessionEnded { session_id }).await
        }
        .boxed()
    })
    .await
}

/// Ends every session of `user_id` but `keep`, in the caller's transaction:
/// their tokens stop working, and their live connections close once it
/// commits (on every instance). How many ended.
pub async fn end_others(
    tx: &mut Conn<'_>,
    user_id: i64,
    keep: Option<i64>,
) -> Result<usize, DomainError> {
    let query = sessions::table
        .filter(sessions::user_id.eq(user_id))
        // Ids start at 1: with nothing to keep, none is kept.
        .filter(sessions::id.ne(keep.unwrap_or(0)))
        .select(sessions::id);
    let ended: Vec<i64> = with_conn!(tx, |c| query.load(c).await)?;
    if ended.is_empty() {
        return Ok(0);
    }
    let delete = diesel::delete(sessions::table.filter(sessions::id.eq_any(&ended)));
    with_conn!(tx, |c| delete.execute(c).await)?;
    for &session_id in &ended {
        live_events::stage(tx, LiveEvent::SessionEnded { session_id }).await?;
    }
    Ok(ended.len())
}

/// The principal a session token stands for, if it is a live session.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Principal>, DomainError> {
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
            Ok(found.map(|(user_id, id, expires_at)| Principal::User {
                user_id,
                credential: Credential::Session(SessionRef { id, expires_at }),
            }))
        }
        .boxed()
    })
    .await
}
