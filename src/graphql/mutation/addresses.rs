//! Proving an address: verification mails and their links.

use async_graphql::{Context, InputObject, Object, Result};

use crate::domain::addresses;
use crate::graphql::context::{actor, context, secret_attempt};
use crate::graphql::types::User;

/// The token from the verification mail that sendEmailVerification sent (password accounts).
#[derive(InputObject)]
pub struct VerifyEmailInput {
    pub token: String,
}

/// Proven addresses.
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
}
