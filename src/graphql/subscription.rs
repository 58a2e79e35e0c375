//! Live membership events. Each resolver checks who may subscribe, and
//! hands the subscription's feed to the WebSocket transport through
//! `live`, which renders each event once for all who may see it alike; a
//! render runs the same resolver for one event.

use async_graphql::{Context, ID, Result, Subscription as SubscriptionRoot};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::context::{context, require_principal};
use super::ids::{self, Kind};
use super::live::{Live, LiveSlot, RenderOne, Watch};
use super::types::{MembershipEvent, Organization};
use crate::domain::DomainError;
use crate::domain::access::Readable;
use crate::domain::live_events;
use crate::domain::pagination::decode_cursor;

pub struct Subscription;

type Events = BoxStream<'static, Result<MembershipEvent>>;

/// The one event of a render, if this execution is one.
fn rendered(ctx: &Context<'_>) -> Option<Events> {
    let RenderOne(event) = ctx.data_opt::<RenderOne>()?;
    Some(stream::once(std::future::ready(Ok(MembershipEvent(event.clone())))).boxed())
}

/// Opens the subscription's feed, replaying from `after` (a cursor the
/// client received) first, and hands it to the transport.
async fn open(ctx: &Context<'_>, watch: Watch, after: Option<String>) -> Result<Events> {
    let state = context(ctx);
    let slot = ctx.data_opt::<std::sync::Arc<LiveSlot>>().ok_or_else(|| {
        DomainError::bad_input("subscriptions run over WebSocket: connect to /graphql/ws")
    })?;
    let after = match after {
        Some(cursor) => {
            let after: i64 = decode_cursor(&cursor)?;
            live_events::check_resumable(state.db(), after).await?;
            Some(after)
        }
        None => None,
    };
    let bus = state.services.events.membership_events();
    slot.fill(Live::new(state.db(), bus, watch, after));
    Ok(stream::empty().boxed())
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
    ) -> Result<Events> {
        if let Some(event) = rendered(ctx) {
            return Ok(event);
        }
        let user_id = require_principal(ctx)?.acting_user()?;
        open(ctx, Watch::Own { user_id }, after).await
    }

    /// Every membership change in one organization (requires VIEW_MEMBERS). The stream
    /// ends when the viewer loses access to the organization.
    async fn organization_membership_changed(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        after: Option<String>,
    ) -> Result<Events> {
        if let Some(event) = rendered(ctx) {
            return Ok(event);
        }
        let principal = require_principal(ctx)?;
        let organization_id = ids::decode(&organization_id, Kind::Organization)?;
        let standing = Organization::standing(ctx, organization_id).await?;
        standing.may_read(Readable::Members)?;
        // Access is checked again with every event: the principal's own
        // events say when it ends.
        let watch = Watch::Organization {
            organization_id,
            principal,
            role: standing.role(),
        };
        open(ctx, watch, after).await
    }
}
