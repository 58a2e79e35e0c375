//! Proving an address, and getting back into an account: verification
//! mails, password resets and changes.

use async_graphql::{Context, InputObject, Object, Result};

use super::account::AuthPayload;
use crate::domain::addresses;
use crate::domain::password_changes::{self, PasswordChange};
use crate::graphql::context::{actor, context, require_principal, secret_attempt};
use crate::graphql::types::User;

/// The token from the verification mail that sendEmailVerification sent (password accounts).
#[derive(InputObject)]
pub struct VerifyEmailInput {
    pub token: String,
}

#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    pub email: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token of the reset mail's link ({APP_URL}/reset-password?token=TOKEN).
    pub token: String,
    /// The new password: at least 8 characters.
    pub password: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    /// At least 8 characters.
    pub new_password: String,
}

/// Proven addresses, password resets and changes.
#[derive(Default)]
pub struct AddressMutation;

#[Object]
impl AddressMutation {
    /// Mails the signed-in password account a link that proves its address ({APP_URL}/verify-email?token=TOKEN, good for 24 hours by default). True whether or not a mail goes out: none does when the address is proven already, or when one went out in the last minute. A user of the identity provider proves their address there: BAD_USER_INPUT.
    async fn send_email_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        let (user_id, state) = actor(ctx)?;
        addresses::send_verification(state.db(), &state.services.accounts, user_id).await?;
        Ok(true)
    }

    /// Proves the address the verification mail was sent to, and returns its user. A link works once: a used, expired or unknown token is BAD_USER_INPUT.
    #[graphql(guard = "secret_attempt")]
    async fn verify_email(&self, ctx: &Context<'_>, input: VerifyEmailInput) -> Result<User> {
        let state = context(ctx);
        let user = state
            .change(async |db| addresses::verify(db, &input.token).await)
            .await?;
        Ok(User(user))
    }

    /// Mails a reset link when a password account has this address; the same answer (true) either way.
    ///
    /// The link ({APP_URL}/reset-password?token=TOKEN) works once, for an hour by default. An account gets at most three an hour; a request past that, past the client's attempts, or for an address with no password account (an identity provider's user) mails nothing and answers true as well.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> Result<bool> {
        // Past the client's attempts, nothing happens, and the answer is the
        // same as ever.
        if secret_attempt(ctx).is_err() {
            tracing::info!("password reset throttled: the client's attempts are spent");
            return Ok(true);
        }
        let state = context(ctx);
        password_changes::request_reset(state.db(), &state.services.accounts, &input.email).await?;
        Ok(true)
    }

    /// Sets the password, proves the address, ends every other session of the account.
    ///
    /// The token is the reset mail's; it works once. A used, expired or unknown token is BAD_USER_INPUT. Returns a new session; every session the account had is ended, and their live connections are closed.
    #[graphql(guard = "secret_attempt")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> Result<AuthPayload> {
        let state = context(ctx);
        let services = &state.services;
        let signed_in = state
            .change(async |db| {
                password_changes::reset(db, &services.accounts, &input.token, &input.password).await
            })
            .await?;
        Ok(signed_in.into())
    }

    /// Changes the signed-in user's password. The current one is required: a wrong one is UNAUTHENTICATED, as at logIn, and counts as a failed log-in. Every other session of the account ends (their live connections close); this one stays. An account of the identity provider has no password: BAD_USER_INPUT.
    #[graphql(guard = "secret_attempt")]
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        let principal = require_principal(ctx)?;
        let state = context(ctx);
        let services = &state.services;
        let change = PasswordChange {
            current: &input.current_password,
            new: &input.new_password,
            client: state.client_ip,
        };
        password_changes::change(
            state.db(),
            &services.accounts,
            &services.attempts,
            &principal,
            change,
        )
        .await?;
        Ok(true)
    }
}
