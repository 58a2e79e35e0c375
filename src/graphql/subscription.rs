//! Live membership events: each stream replays what was committed after the
//! client's cursor (if it gave one), then follows the event bus, keeping
//! what its principal may see, and ends when the principal loses access.

use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::{Context, ID, Result, Subscription as SubscriptionRoot};
use futures_util::Stream;
use futures_util::stream::unfold;
use tokio::sync::broadcast::{self, error::RecvError};

use super::context::{context, require_principal};
use super::ids::{self, Kind};
use super::types::{MembershipEvent, Organization};
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::access::{self, Readable};
use crate::domain::live_events::MembershipEvent as DomainEvent;
use crate::domain::live_events::{self, LiveEvent, Replay};
use crate::domain::pagination::decode_cursor;
use crate::events::Delivered;

/// Events read back per query when replaying.
const REPLAY_BATCH: i64 = 256;

pub struct Subscription;

/// What a stream does with its next event.
enum Step {
    Skip,
    Send,
    /// Send it, then end: the principal has lost access.
    SendAndEnd,
}

/// The events of one subscription, in order and each once: first those
/// recorded after its cursor, then those the bus publishes.
struct Feed {
    db: Db,
    /// Subscribed before the replay is read, so nothing falls in between.
    live: broadcast::Receiver<Arc<Delivered>>,
    /// What is left to replay, and the number to read after; None: live.
    replay: Option<(Replay, i64)>,
    replayed: VecDeque<Arc<Delivered>>,
    /// The number of the last event handed out.
    last: i64,
}

impl Feed {
    async fn next(&mut self) -> Result<Option<Arc<Delivered>>, DomainError> {
        loop {
            if let Some(event) = self.replayed.pop_front() {
                self.last = event.seq;
                return Ok(Some(event));
            }
            if let Some((replay, after)) = self.replay {
                let page = live_events::since(&self.db, replay, after, REPLAY_BATCH).await?;
                self.replay = match page.last() {
                    Some(last) if page.len() as i64 == REPLAY_BATCH => Some((replay, last.seq)),
                    _ => None,
                };
                self.replayed =
                    page.into_iter()
                        .filter_map(|numbered| match numbered.event {
                            LiveEvent::Membership(event) => Some(Arc::new(Delivered {
                                seq: numbered.seq,
                                event,
                            })),
                            LiveEvent::SessionEnded { .. }
                            | LiveEvent::ServiceKeyRevoked { .. } => None,
                        })
                        .collect();
                continue;
            }
            match self.live.recv().await {
                Ok(event) if event.seq <= self.last => continue,
                Ok(event) => {
                    self.last = event.seq;
                    return Ok(Some(event));
                }
                Err(RecvError::Closed) => return Ok(None),
                Err(RecvError::Lagged(missed)) => {
                    return Err(DomainError::LimitExceeded(format!(
                        "this subscription fell {missed} events behind and was ended; \
                         subscribe again with the last cursor received"
                    )));
                }
            }
        }
    }
}

/// The subscription's stream of what `step` keeps, replaying from `after`
/// (a cursor the client received) first.
async fn events(
    ctx: &Context<'_>,
    replay: Replay,
    after: Option<String>,
    step: impl FnMut(&DomainEvent) -> Step + Send + 'static,
) -> Result<impl Stream<Item = Result<MembershipEvent>> + 'static> {
    let state = context(ctx);
    let live = state.services.events.membership_events();
    let replay = match after {
        Some(cursor) => {
            let after: i64 = decode_cursor(&cursor)?;
            live_events::check_resumable(state.db(), after).await?;
            Some((replay, after))
        }
        None => None,
    };
    let feed = Feed {
        db: state.db().clone(),
        live,
        replay,
        replayed: VecDeque::new(),
        last: replay.map_or(0, |(_, after)| after),
    };
    let loaders = state.loaders.clone();
    Ok(unfold(
        (feed, step, false),
        move |(mut feed, mut step, ended)| {
            let loaders = loaders.clone();
            async move {
                if ended {
                    return None;
                }
                loop {
                    let event = match feed.next().await {
                        Ok(Some(event)) => event,
                        Ok(None) => return None,
                        Err(error) => return Some((Err(error.into()), (feed, step, true))),
                    };
                    let end = match step(&event.event) {
                        Step::Skip => continue,
                        Step::Send => false,
                        Step::SendAndEnd => true,
                    };
                    // Each event is resolved against the database as it is now.
                    loaders.forget_all();
                    return Some((Ok(MembershipEvent(event)), (feed, step, end)));
                }
            }
        },
    ))
}

#[SubscriptionRoot]
impl Subscription {
    /// Every change to the viewer's own memberships, in every organization, pushed as
    /// it commits: a session refreshes its permissions from these without logging in again.
    async fn viewer_membership_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Replay the events committed after this cursor first (within the retention window), then go on live."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<MembershipEvent>>> {
        let principal = require_principal(ctx)?;
        let user_id = principal.acting_user()?;
        events(ctx, Replay::User(user_id), after, move |event| {
            match event.user_id == user_id {
                true => Step::Send,
                false => Step::Skip,
            }
        })
        .await
    }

    /// Every membership change in one organization (requires VIEW_MEMBERS). The stream
    /// ends when the viewer loses access to the organization.
    async fn organization_membership_changed(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<MembershipEvent>>> {
        let principal = require_principal(ctx)?;
        let organization_id = ids::decode(&organization_id, Kind::Organization)?;
        Organization::standing(ctx, organization_id)
            .await?
            .may_read(Readable::Members)?;
        // Access is checked again with every event: the principal's own
        // events say when it ends.
        let replay = Replay::Organization(organization_id);
        events(ctx, replay, after, move |event| {
            if event.organization_id != organization_id {
                Step::Skip
            } else if access::keeps_watching(&principal, event) {
                Step::Send
            } else {
                Step::SendAndEnd
            }
        })
        .await
    }
}
