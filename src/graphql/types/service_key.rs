use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Organization, User, timestamp};
use crate::domain::service_keys;
use crate::graphql::ids::{self, Kind};

/// A credential for one of the product's back-end services, bound to one organization.
/// Sent as `Authorization: Bearer <secret>`, it may read that organization (members
/// included), run checkPermissions for its users and subscribe to
/// organizationMembershipChanged for it; every mutation refuses it (FORBIDDEN).
/// Revoking it takes effect on the next request and closes its subscriptions.
#[derive(Clone)]
pub struct ServiceKey(pub service_keys::ServiceKey);

#[Object]
impl ServiceKey {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::ServiceKey, self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        Organization::require_visible(ctx, self.0.organization_id).await
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The first characters of the secret, to recognise it; the secret itself is never stored.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.created_by).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(timestamp)
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(timestamp)
    }
}
