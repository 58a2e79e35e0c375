use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{User, timestamp};
use crate::domain::audit;
use crate::graphql::ids::{self, Kind};

/// One change, as the audit log recorded it.
#[derive(Clone)]
pub struct AuditEvent(pub audit::AuditEvent);

#[Object]
impl AuditEvent {
    pub(super) async fn id(&self) -> ID {
        ids::encode(Kind::AuditEvent, self.0.id)
    }
    /// e.g. member.invited, member.role_changed, member.removed, credits.distributed
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.actor_id).await
    }
    async fn target_email(&self) -> Option<&str> {
        self.0.target_email.as_deref()
    }
    /// JSON text.
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    async fn at(&self) -> DateTime<Utc> {
        timestamp(self.0.created_at)
    }
}
