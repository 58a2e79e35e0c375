//! Live membership events: each stream filters the event bus for what its
//! viewer may see, and ends when the viewer loses access.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, Subscription as SubscriptionRoot};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use futures_util::stream::unfold;
use tokio::sync::broadcast::error::RecvError;

use super::ids::{self, Kind};
use super::loaders::Loaders;
use super::types::{Member, Organization, Permission, Role, User, timestamp};
use super::{context, require_viewer};
use crate::domain::events::MembershipEvent as DomainEvent;
use crate::domain::{DomainError, Permission as DomainPermission, members};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::events::MembershipEventKind")]
pub enum MembershipEventKind {
    Joined,
    RoleChanged,
    Removed,
    CreditsChanged,
    SeatChanged,
    OwnershipTransferred,
}

/// A change to one membership, as it committed.
pub struct MembershipEvent(Arc<DomainEvent>);

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
        self.0.permissions().into_iter().map(Into::into).collect()
    }
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor_id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(context(ctx)
            .loaders
            .users
            .load_one(actor_id)
            .await?
            .map(User))
    }
    async fn at(&self) -> DateTime<Utc> {
        timestamp(self.0.at)
    }
}

pub struct Subscription;

/// What a stream does with the next event of the bus.
enum Step {
    Skip,
    Send(Arc<DomainEvent>),
    /// Send it, then end: the viewer has lost access.
    SendAndEnd(Arc<DomainEvent>),
}

/// The bus as a stream of what `step` keeps. A subscriber that falls more
/// than the bus's capacity behind is told so and its stream ends.
fn events(
    ctx: &Context<'_>,
    step: impl FnMut(&Arc<DomainEvent>) -> Step + Send + 'static,
) -> impl Stream<Item = Result<MembershipEvent>> + 'static {
    let state = context(ctx);
    let receiver = state.db.events().membership_events();
    let loaders: Arc<Loaders> = state.loaders.clone();
    unfold(
        (receiver, step, false),
        move |(mut receiver, mut step, ended)| {
            let loaders = loaders.clone();
            async move {
                if ended {
                    return None;
                }
                loop {
                    let event = match receiver.recv().await {
                        Ok(event) => event,
                        Err(RecvError::Closed) => return None,
                        Err(RecvError::Lagged(missed)) => {
                            let error = DomainError::LimitExceeded(format!(
                                "this subscription fell {missed} events behind and was ended; subscribe again"
                            ));
                            return Some((Err(error.into()), (receiver, step, true)));
                        }
                    };
                    let (event, end) = match step(&event) {
                        Step::Skip => continue,
                        Step::Send(event) => (event, false),
                        Step::SendAndEnd(event) => (event, true),
                    };
                    // Each event is resolved against the database as it is now.
                    loaders.forget_all();
                    return Some((Ok(MembershipEvent(event)), (receiver, step, end)));
                }
            }
        },
    )
}

#[SubscriptionRoot]
impl Subscription {
    /// Every change to the viewer's own memberships, in every organization, pushed as
    /// it commits: a session refreshes its permissions from these without logging in again.
    async fn viewer_membership_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<MembershipEvent>>> {
        let viewer = require_viewer(ctx)?;
        Ok(events(ctx, move |event| {
            match event.user_id == viewer.user_id {
                true => Step::Send(event.clone()),
                false => Step::Skip,
            }
        }))
    }

    /// Every membership change in one organization (requires VIEW_MEMBERS). The stream
    /// ends when the viewer loses access to the organization.
    async fn organization_membership_changed(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
    ) -> Result<impl Stream<Item = Result<MembershipEvent>>> {
        let viewer = require_viewer(ctx)?;
        let organization_id = ids::decode(&organization_id, Kind::Organization)?;
        let organization = Organization::visible(ctx, organization_id).await?;
        members::require(
            organization.and_then(|o| o.viewer),
            DomainPermission::ViewMembers,
        )?;
        // Access is checked again with every event: the viewer's own events
        // say when it ends.
        Ok(events(ctx, move |event| {
            if event.organization_id != organization_id {
                return Step::Skip;
            }
            let lost_access = event.user_id == viewer.user_id
                && !event
                    .role()
                    .is_some_and(|role| role.can(DomainPermission::ViewMembers));
            if lost_access {
                Step::SendAndEnd(event.clone())
            } else {
                Step::Send(event.clone())
            }
        }))
    }
}
