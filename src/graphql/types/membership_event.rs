use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{Member, MembershipEventKind, Permission, Role, User, enums, timestamp};
use crate::domain::pagination::encode_cursor;
use crate::events::Delivered;
use crate::graphql::ids::{self, Kind};

/// A change to one membership, as it committed.
pub struct MembershipEvent(pub Arc<Delivered>);

#[Object]
impl MembershipEvent {
    async fn kind(&self) -> MembershipEventKind {
        self.0.event.kind.into()
    }
    async fn organization_id(&self) -> ID {
        ids::encode(Kind::Organization, self.0.event.organization_id)
    }
    async fn user_id(&self) -> ID {
        ids::encode(Kind::User, self.0.event.user_id)
    }
    /// Null after REMOVED.
    async fn member(&self) -> Option<Member> {
        self.0.event.member.clone().map(Member::from)
    }
    async fn role(&self) -> Option<Role> {
        self.0.event.role().map(Into::into)
    }
    async fn previous_role(&self) -> Option<Role> {
        self.0.event.previous_role.map(Into::into)
    }
    /// The member's permissions after the change; empty after REMOVED.
    async fn permissions(&self) -> Vec<Permission> {
        enums::permissions(self.0.event.permissions())
    }
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::load_optional(ctx, self.0.event.actor_id).await
    }
    async fn at(&self) -> DateTime<Utc> {
        timestamp(self.0.event.at)
    }
    /// Opaque. Pass the last one received as `after` to resume without missing an event.
    async fn cursor(&self) -> String {
        encode_cursor(&self.0.seq)
    }
}
