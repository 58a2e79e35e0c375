use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use crate::domain::accounts::{self, LogIn, SignUp};
use crate::domain::sessions::{self, SignedIn};
use crate::graphql::context::{context, require_principal, secret_attempt};
use crate::graphql::types::{Member, User};

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    pub name: String,
    /// At least 8 characters.
    pub password: String,
    /// Accept this invitation in the same step.
    pub invitation_token: Option<String>,
}

#[derive(InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
}

/// token is a bearer token: send `Authorization: Bearer <token>` over HTTP, and {"authorization": "Bearer <token>"} in the WebSocket connection_init payload.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub user: User,
    /// Set when signUp accepted an invitation.
    pub member: Option<Member>,
}

impl From<SignedIn> for AuthPayload {
    fn from(signed_in: SignedIn) -> Self {
        AuthPayload {
            token: signed_in.token,
            user: User(signed_in.user),
            member: None,
        }
    }
}

/// Accounts and sessions.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. Its address is unproven (User.emailVerified false) until the link of the verification mail it is sent comes back (verifyEmail); with an invitationToken for the same address, accepting the invitation proves it, and no mail is sent.
    #[graphql(guard = "secret_attempt")]
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let state = context(ctx);
        let signup = SignUp {
            email: &input.email,
            name: &input.name,
            password: &input.password,
        };
        let (signed_in, joined) = accounts::sign_up(
            state.db(),
            &state.services.accounts,
            signup,
            input.invitation_token,
        )
        .await?;
        let mut payload = AuthPayload::from(signed_in);
        if let Some(joined) = joined {
            // The payload is read as the new account sees it.
            let organization_id = joined.organization_id;
            state
                .loaders
                .viewer_memberships
                .feed_one(organization_id, joined.clone())
                .await;
            payload.member = Some(Member::from(joined));
        }
        Ok(payload)
    }

    #[graphql(guard = "secret_attempt")]
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        let state = context(ctx);
        let log_in = LogIn {
            email: &input.email,
            password: &input.password,
            client: state.client_ip,
        };
        let services = &state.services;
        let signed_in =
            accounts::log_in(state.db(), &services.accounts, &services.attempts, log_in).await?;
        Ok(signed_in.into())
    }

    /// Ends the current session; its subscriptions are closed.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        sessions::log_out(context(ctx).db(), &require_principal(ctx)?).await?;
        Ok(true)
    }
}
