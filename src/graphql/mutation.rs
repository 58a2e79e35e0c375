use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::types::{Member, Organization, User};
use super::{context, require_viewer};
use crate::auth::{self, SignUp, SignedIn};
use crate::domain::{DomainError, organizations};

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

#[derive(InputObject)]
pub struct CreateOrganizationInput {
    pub name: String,
    /// Lower-case letters, digits and hyphens; derived from the name when not given.
    pub slug: Option<String>,
}

#[derive(SimpleObject)]
pub struct OrganizationPayload {
    pub organization: Organization,
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        if input.invitation_token.is_some() {
            return Err(DomainError::bad_input(
                "accepting an invitation at sign-up is not available yet",
            )
            .into());
        }
        let signup = SignUp {
            email: &input.email,
            name: &input.name,
            password: &input.password,
        };
        Ok(auth::sign_up(&context(ctx).db, signup).await?.into())
    }

    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        Ok(
            auth::log_in(&context(ctx).db, &input.email, &input.password)
                .await?
                .into(),
        )
    }

    /// Ends the current session; its subscriptions are closed.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool> {
        auth::log_out(&context(ctx).db, require_viewer(ctx)?).await?;
        Ok(true)
    }

    /// The caller becomes the OWNER.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> Result<OrganizationPayload> {
        let viewer = require_viewer(ctx)?;
        let state = context(ctx);
        let (organization, owner) = organizations::create(
            &state.db,
            viewer.user_id,
            &input.name,
            input.slug.as_deref(),
        )
        .await?;
        state
            .loaders
            .viewer_memberships
            .feed_one(organization.id, owner.clone())
            .await;
        Ok(OrganizationPayload {
            organization: Organization {
                organization,
                viewer: owner,
            },
        })
    }
}
