//! Live membership events: each stream filters the event bus for what its
//! principal may see, and ends when the principal loses access.

use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription as SubscriptionRoot};
use futures_util::Stream;
use futures_util::stream::unfold;
use tokio::sync::broadcast::error::RecvError;

use super::context::{context, require_principal};
use super::ids::{self, Kind};
use super::loaders::Loaders;
use super::types::{MembershipEvent, Organization};
use crate::domain::DomainError;
use crate::domain::access::{self, Readable};
use crate::domain::live_events::MembershipEvent as DomainEvent;

pub struct Subscription;

/// What a stream does with the next event of the bus.
enum Step {
    Skip,
    Send,
    /// Send it, then end: the principal has lost access.
    SendAndEnd,
}

/// The bus as a stream of what `step` keeps. A subscriber that falls more
/// than the bus's capacity behind is told so and its stream ends.
fn events(
    ctx: &Context<'_>,
    step: impl FnMut(&DomainEvent) -> Step + Send + 'static,
) -> impl Stream<Item = Result<MembershipEvent>> + 'static {
    let state = context(ctx);
    let receiver = state.services.events.membership_events();
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
                    let end = match step(&event) {
                        Step::Skip => continue,
                        Step::Send => false,
                        Step::SendAndEnd => true,
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
        let principal = require_principal(ctx)?;
        Ok(events(ctx, move |event| {
            match principal.user_id() == Some(event.user_id) {
                true => Step::Send,
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
        let principal = require_principal(ctx)?;
        let organization_id = ids::decode(&organization_id, Kind::Organization)?;
        Organization::standing(ctx, organization_id)
            .await?
            .may_read(Readable::Members)?;
        // Access is checked again with every event: the principal's own
        // events say when it ends.
        Ok(events(ctx, move |event| {
            if event.organization_id != organization_id {
                Step::Skip
            } else if access::keeps_watching(&principal, event) {
                Step::Send
            } else {
                Step::SendAndEnd
            }
        }))
    }
}
