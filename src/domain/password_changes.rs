//! Getting back in, and changing a password: a reset mailed to a password
//! account's address (the same answer whether there is one or not), the
//! reset itself (which proves the address and ends every other session),
//! and a change that needs the current password.

use std::net::IpAddr;

use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::account_settings::AccountSettings;
use super::account_tokens::{self, Purpose};
use super::addresses::{lock_user, prove};
use super::attempts::Attempts;
use super::principal::Principal;
use super::sessions::{self, SignedIn};
use super::users::{by_ids, normalize_email};
use super::{DomainError, account_mail, now, outbox, passwords};
use crate::db::schema::users;
use crate::db::{Db, with_conn};

/// Reset mails an account (and an address) gets at most in an hour.
const RESETS_PER_HOUR: i64 = 3;

/// Mails a reset link to `email` when a password account has it, at most
/// three an hour. Whether it does is not told: the caller answers the same
/// either way.
pub async fn request_reset(
    db: &Db,
    settings: &AccountSettings,
    email: &str,
) -> Result<(), DomainError> {
    settings.require_password_accounts()?;
    let email = normalize_email(email)?;
    let settings = settings.clone();
    // A write transaction either way, so that an address without an
    // account takes about as long.
    db.write(move |tx| {
        async move {
            let query = users::table
                .filter(users::email.eq(&email))
                .filter(users::password_hash.ne(""))
                .select(users::id);
            let found: Option<i64> = with_conn!(tx, |c| query.first(c).await.optional())?;
            let Some(user_id) = found else {
                tracing::info!("password reset asked for an address with no password account");
                return Ok(());
            };
            lock_user(tx, user_id).await?;
            let purpose = Purpose::ResetPassword;
            let since = now() - Duration::hours(1);
            let recent = account_tokens::issued_since(tx, purpose, user_id, &email, since).await?;
            if recent >= RESETS_PER_HOUR {
                tracing::info!(user_id, "password reset mail throttled: three an hour");
                return Ok(());
            }
            let issued =
                account_tokens::issue(tx, user_id, purpose, &email, settings.reset_ttl).await?;
            let mail = account_mail::compose(&settings.app_url, &email, purpose, &issued);
            outbox::enqueue(tx, vec![mail]).await?;
            tracing::info!(user_id, "password reset mail queued");
            Ok(())
        }
        .boxed()
    })
    .await
}

/// Sets the password of the account a reset link was mailed to, once:
/// proves its address, ends every session it had, and signs it in anew.
pub async fn reset(
    db: &Db,
    settings: &AccountSettings,
    token: &str,
    password: &str,
) -> Result<SignedIn, DomainError> {
    settings.require_password_accounts()?;
    passwords::check_strength(password)?;
    let token = token.to_owned();
    // Hashing is slow: only for a link that works.
    let check = token.clone();
    db.read(move |c| {
        async move { account_tokens::check(c, Purpose::ResetPassword, &check).await }.boxed()
    })
    .await?;
    let password_hash = passwords::hash(password.to_owned()).await?;
    db.write(move |tx| {
        async move {
            let redeemed = account_tokens::redeem(tx, Purpose::ResetPassword, &token).await?;
            let user_id = redeemed.user_id;
            let mut user = by_ids(tx, &[user_id]).await?.remove(0);
            if user.email != redeemed.email {
                return Err(DomainError::bad_input(
                    "this password reset link was mailed to an address the account no longer has",
                ));
            }
            let update = diesel::update(users::table.find(user_id))
                .set(users::password_hash.eq(&password_hash));
            with_conn!(tx, |c| update.execute(c).await)?;
            // The link came back from the address: it is proven.
            user.email_verified = prove(tx, user_id, &user.email).await?;
            let signed_in = sessions::start(tx, user).await?;
            let ended = sessions::end_others(tx, user_id, Some(signed_in.session_id)).await?;
            tracing::info!(user_id, ended_sessions = ended, "password reset");
            Ok(signed_in)
        }
        .boxed()
    })
    .await
}

/// A signed-in user's change of their password.
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    /// The client's address, whose failed attempts count as log-ins do.
    pub client: Option<IpAddr>,
}

/// Changes the principal's password when `current` is right: a wrong one
/// is refused as a log-in is, and counts as a failed log-in. Every other
/// session of the account ends; the one asking stays.
pub async fn change(
    db: &Db,
    settings: &AccountSettings,
    attempts: &Attempts,
    principal: &Principal,
    change: PasswordChange<'_>,
) -> Result<(), DomainError> {
    settings.require_password_accounts()?;
    let user_id = principal.acting_user()?;
    // Signed in with the provider's token, there is no session to keep.
    let keep = principal.session().ok().map(|session| session.id);
    let (email, hash): (String, String) = db
        .read(move |c| {
            async move {
                let query = users::table
                    .find(user_id)
                    .select((users::email, users::password_hash));
                Ok::<_, DomainError>(with_conn!(c, |c| query.first(c).await)?)
            }
            .boxed()
        })
        .await?;
    if hash.is_empty() {
        return Err(DomainError::bad_input(
            "this account signs in at your identity provider and has no password here",
        ));
    }
    attempts.may_log_in(&email, change.client)?;
    passwords::check_strength(change.new)?;
    if !passwords::verify(change.current.to_owned(), Some(hash.clone())).await? {
        attempts.failed_log_in(&email, change.client);
        return Err(DomainError::Unauthenticated(
            "the current password is not correct",
        ));
    }
    let new_hash = passwords::hash(change.new.to_owned()).await?;
    db.write(move |tx| {
        async move {
            // Only over the password just checked: a reset or another change
            // that came first wins.
            let update = diesel::update(users::table.find(user_id))
                .filter(users::password_hash.eq(&hash))
                .set(users::password_hash.eq(&new_hash));
            if with_conn!(tx, |c| update.execute(c).await)? == 0 {
                return Err(DomainError::Conflict(
                    "the password was changed meanwhile: try again with the new one".into(),
                ));
            }
            // Reset links mailed before the change stop working.
            account_tokens::retire(tx, user_id, Purpose::ResetPassword).await?;
            let ended = sessions::end_others(tx, user_id, keep).await?;
            tracing::info!(user_id, ended_sessions = ended, "password changed");
            Ok(())
        }
        .boxed()
    })
    .await
}
