//! Password accounts: sign-up (optionally accepting an invitation in the
//! same transaction, else mailing a verification link) and log-in, with
//! argon2 hashes.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

pub use super::account_settings::AccountSettings;
use super::attempts::Attempts;
use super::members::Membership;
use super::sessions::{self, SignedIn};
use super::users::{User, by_ids, holders, normalize_email, normalize_name};
use super::{DomainError, addresses, invitations, now, passwords};
use crate::db::schema::users;
use crate::db::{Db, with_conn};

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    email: &'a str,
    /// Unproven until a link mailed to it comes back.
    email_verified: bool,
    name: &'a str,
    password_hash: &'a str,
    created_at: NaiveDateTime,
}

pub struct SignUp<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
}

/// Checks a new account's fields and hashes its password: everything
/// sign-up does before it opens a transaction.
struct NewAccount {
    email: String,
    name: String,
    password_hash: String,
}

impl NewAccount {
    async fn prepare(input: SignUp<'_>) -> Result<NewAccount, DomainError> {
        let email = normalize_email(input.email)?;
        let name = normalize_name(input.name, "name")?;
        passwords::check_strength(input.password)?;
        let password_hash = passwords::hash(input.password.to_owned()).await?;
        Ok(NewAccount {
            email,
            name,
            password_hash,
        })
    }

    /// Creates the user and a first session, in the caller's transaction.
    /// An address that an account has proven, or that is another password
    /// account's login, is taken.
    async fn create(&self, tx: &mut crate::db::Conn<'_>) -> Result<SignedIn, DomainError> {
        if !holders(tx, &self.email).await?.is_empty() {
            return Err(DomainError::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        let new = NewUser {
            email: &self.email,
            email_verified: false,
            name: &self.name,
            password_hash: &self.password_hash,
            created_at: now(),
        };
        let insert = diesel::insert_into(users::table).values(&new);
        let user = with_conn!(tx, |c| insert
            .returning(User::as_returning())
            .get_result(c)
            .await)?;
        sessions::start(tx, user).await
    }
}

/// Creates an account and signs it in; with an invitation token, accepts
/// the invitation in the same transaction (both happen, or neither), which
/// proves the address it was mailed to. Without one, the address gets a
/// verification mail.
pub async fn sign_up(
    db: &Db,
    settings: &AccountSettings,
    input: SignUp<'_>,
    invitation_token: Option<String>,
) -> Result<(SignedIn, Option<Membership>), DomainError> {
    settings.require_password_accounts()?;
    let account = NewAccount::prepare(input).await?;
    let settings = settings.clone();
    db.write(move |tx| {
        async move {
            let mut signed_in = account.create(tx).await?;
            let user_id = signed_in.user.id;
            let joined = match invitation_token {
                Some(token) => {
                    let joined = invitations::accept_in(tx, user_id, &token).await?;
                    signed_in.user = by_ids(tx, &[user_id]).await?.remove(0);
                    Some(joined)
                }
                None => {
                    addresses::mail_verification(tx, &settings, user_id, &account.email).await?;
                    None
                }
            };
            tracing::info!(user_id, "password account created");
            Ok((signed_in, joined))
        }
        .boxed()
    })
    .await
}

/// Who tries to log in: the address, and the limits on attempts.
pub struct LogIn<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub client: Option<IpAddr>,
}

/// Signs in with email and password. The error is the same whether or not
/// the email has a password account, and so is the time it takes. An
/// account that took too many failed log-ins cools off first (see
/// `attempts`).
pub async fn log_in(
    db: &Db,
    settings: &AccountSettings,
    attempts: &Attempts,
    log_in: LogIn<'_>,
) -> Result<SignedIn, DomainError> {
    const BAD_CREDENTIALS: DomainError = DomainError::Unauthenticated("invalid email or password");
    settings.require_password_accounts()?;
    let email = normalize_email(log_in.email)?;
    attempts.may_log_in(&email, log_in.client)?;
    let account = email.clone();
    let found = db
        .read(move |c| {
            async move {
                // A provider's user has no password (''): no account to log
                // in to. One password account per address, proven or not.
                let query = users::table
                    .filter(users::email.eq(email))
                    .filter(users::password_hash.ne(""));
                Ok::<_, DomainError>(with_conn!(c, |c| query
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
    let matches = passwords::verify(log_in.password.to_owned(), hash).await?;
    match user {
        Some(user) if matches => {
            db.write(move |tx| async move { sessions::start(tx, user).await }.boxed())
                .await
        }
        _ => {
            attempts.failed_log_in(&account, log_in.client);
            Err(BAD_CREDENTIALS)
        }
    }
}
