use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::timestamp;
use crate::domain::{self, DomainError};
use crate::graphql::context::context;
use crate::graphql::ids::{self, Kind};

#[derive(Clone)]
pub struct User(pub domain::users::User);

#[Object]
impl User {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::User, self.0.id)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    /// Whether the user has proven they receive mail at email: their identity provider says it is verified, they accepted an invitation mailed to it, or they followed the link of a verification mail (sendEmailVerification) or of a password reset mail.
    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }
}

impl User {
    pub async fn load(ctx: &Context<'_>, id: i64) -> Result<User> {
        let user = context(ctx).loaders.users.load_one(id).await?;
        Ok(User(user.ok_or(DomainError::NotFound("user"))?))
    }

    /// The user of an optional reference (an actor, an inviter).
    pub async fn load_optional(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
        let Some(id) = id else { return Ok(None) };
        Ok(context(ctx).loaders.users.load_one(id).await?.map(User))
    }
}
