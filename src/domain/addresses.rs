//! Proven addresses. An address is proven by a provider token that says
//! `email_verified` (see `identities`), by accepting an invitation mailed
//! to it (see `invitations`), or by the link of a verification mail, which
//! password accounts ask for here (and get at sign-up). One account at most
//! has proven an address; only a proven address links a provider identity
//! to an account.

use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::account_settings::AccountSettings;
use super::account_tokens::{self, Purpose};
use super::users::{User, by_ids, holders};
use super::{DomainError, account_mail, now, outbox};
use crate::db::schema::users;
use crate::db::{Conn, Db, with_conn};

/// At most one verification mail a minute per account.
const VERIFICATION_EVERY: Duration = Duration::minutes(1);

/// Queues a verification mail to `email`, the address of `user_id`, in the
/// caller's transaction.
pub(super) async fn mail_verification(
    tx: &mut Conn<'_>,
    settings: &AccountSettings,
    user_id: i64,
    email: &str,
) -> Result<(), DomainError> {
    let purpose = Purpose::VerifyEmail;
    let issued =
        account_tokens::issue(tx, user_id, purpose, email, settings.verification_ttl).await?;
    let mail = account_mail::compose(&settings.app_url, email, purpose, &issued);
    outbox::enqueue(tx, vec![mail]).await?;
    tracing::info!(user_id, "verification mail queued");
    Ok(())
}

/// The account's standing: its address, proven or not, and whether it has
/// a password (a provider's user has none).
#[derive(Queryable)]
struct Standing {
    email: String,
    proven: bool,
    has_password: bool,
}

/// Locks the user's row on PostgreSQL until the end of the transaction, so
/// that an account's throttled requests count one after another (SQLite's
/// write transactions run one at a time).
pub(super) async fn lock_user(tx: &mut Conn<'_>, user_id: i64) -> Result<(), DomainError> {
    if let Conn::Postgres(c, _) = tx {
        let lock = users::table.find(user_id).select(users::id).for_update();
        lock.first::<i64>(*c).await?;
    }
    Ok(())
}

/// Mails the signed-in user a verification link, unless their address is
/// proven already or one was mailed in the last minute: the answer is the
/// same either way. A provider's user proves their address at the provider.
pub async fn send_verification(
    db: &Db,
    settings: &AccountSettings,
    user_id: i64,
) -> Result<(), DomainError> {
    let settings = settings.clone();
    db.write(move |tx| {
        async move {
            lock_user(tx, user_id).await?;
            let query = users::table.find(user_id).select((
                users::email,
                users::email_verified,
                users::password_hash.ne(""),
            ));
            let standing: Standing = with_conn!(tx, |c| query.first(c).await)?;
            if !standing.has_password {
                return Err(DomainError::bad_input(
                    "this account's address is your identity provider's to verify: verify it \
                     there, then sign in again",
                ));
            }
            if standing.proven {
                tracing::info!(
                    user_id,
                    "verification asked for a proven address: none sent"
                );
                return Ok(());
            }
            let since = now() - VERIFICATION_EVERY;
            let recent = account_tokens::issued_since(
                tx,
                Purpose::VerifyEmail,
                user_id,
                &standing.email,
                since,
            )
            .await?;
            if recent > 0 {
                tracing::info!(user_id, "verification mail throttled: one a minute");
                return Ok(());
            }
            mail_verification(tx, &settings, user_id, &standing.email).await
        }
        .boxed()
    })
    .await
}

/// Proves the address a verification link was mailed to, once; the user as
/// it is now.
pub async fn verify(db: &Db, token: &str) -> Result<User, DomainError> {
    let token = token.to_owned();
    db.write(move |tx| {
        async move {
            let redeemed = account_tokens::redeem(tx, Purpose::VerifyEmail, &token).await?;
            let user_id = redeemed.user_id;
            let email: String = with_conn!(tx, |c| users::table
                .find(user_id)
                .select(users::email)
                .first(c)
                .await)?;
            if email != redeemed.email {
                return Err(DomainError::bad_input(
                    "this verification link was mailed to an address the account no longer has",
                ));
            }
            if !prove(tx, user_id, &email).await? {
                return Err(DomainError::Conflict(
                    "another account has proven this address: sign in with that one".into(),
                ));
            }
            Ok(by_ids(tx, &[user_id]).await?.remove(0))
        }
        .boxed()
    })
    .await
}

/// Marks `email`, the address of `user_id`, proven, in the caller's
/// transaction, unless another account has proven it: whether it is now.
pub(super) async fn prove(
    tx: &mut Conn<'_>,
    user_id: i64,
    email: &str,
) -> Result<bool, DomainError> {
    let held = holders(tx, email).await?;
    if held.iter().any(|h| h.proven && h.user_id != user_id) {
        tracing::warn!(
            user_id,
            "an address another account has proven stays unproven on this one"
        );
        return Ok(false);
    }
    if held.iter().any(|h| h.proven && h.user_id == user_id) {
        return Ok(true);
    }
    let update = diesel::update(users::table.find(user_id))
        .filter(users::email.eq(email))
        .set(users::email_verified.eq(true));
    let updated = with_conn!(tx, |c| update.execute(c).await)?;
    if updated == 1 {
        tracing::info!(user_id, "address proven");
    }
    Ok(updated == 1)
}
