use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Member, MembershipEventKind, Permission, Role, User, enums, timestamp};
use crate::domain::live_events;
use crate::graphql::ids::{self, Kind};

/// A change to one membership, as it committed.
pub struct MembershipEvent(pub Arc<live_events::MembershipEvent>);

#[Object]
impl MembershipEvent {
    async fn kind(&self) -> MembershipEventKind {
        self.0.kind.into()
    }
    async fn organization_id(&self) -> ID {
        ids::encode(Kind::Organization, self.0.organization_id)
    }
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, self.0.user_id)
    }
    /// Null after REMOVED.
    async fn member(&self) -> Option<Member> {
        self.0.member.clone().map(Member)
    }
    async fn role(&self) -> Option<Role> {
        self.0.role().map(Into::into)
    }
    async fn previous_role(&self) -> Option<Role> {
        self.0.previous_role.map(Into::into)
    }
    /// The member's permissions after the change; empty after REMOVED.
    async fn permissions(&self) -> Vec<Permission> {
        enums::permissions(self.0.permissions())
    }
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.actor_id).await
    }
    async fn at(&self) -> DateTime<Utc> {
        timestamp(self.0.at)
    }
}
