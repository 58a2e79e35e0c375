//! The event bus. A transaction stages its events; they reach the
//! subscriptions of every server instance if and only if it commits:
//! PostgreSQL carries them with NOTIFY (sent at commit) to every instance's
//! LISTEN connection; SQLite, one process, publishes them after commit.

mod listener;

use std::sync::Arc;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use listener::listen;

use crate::db::Conn;
use crate::domain::DomainError;
use crate::domain::events::MembershipEvent;

/// The NOTIFY channel.
const CHANNEL: &str = "orgql_events";

/// How many events a slow subscriber may fall behind before it is told it
/// lagged and is dropped; memory stays bounded whatever subscribers do.
pub const CAPACITY: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BusEvent {
    /// Shared, not copied, by every subscription that sends it.
    Membership(Arc<MembershipEvent>),
    /// A session ended (log-out): its live connections close.
    SessionEnded { session_id: i64 },
}

/// Membership events and session ends travel apart: every live connection
/// watches for the end of its session, and should not wake for every
/// membership event to do so.
#[derive(Clone)]
pub struct EventBus {
    memberships: broadcast::Sender<Arc<MembershipEvent>>,
    ended_sessions: broadcast::Sender<i64>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            memberships: broadcast::channel(CAPACITY).0,
            ended_sessions: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// Hands committed events to this process's subscribers (none is fine).
    pub fn deliver(&self, events: impl IntoIterator<Item = BusEvent>) {
        for event in events {
            // Sending fails only when nobody listens, which is fine.
            match event {
                BusEvent::Membership(event) => drop(self.memberships.send(event)),
                BusEvent::SessionEnded { session_id } => drop(self.ended_sessions.send(session_id)),
            }
        }
    }

    pub fn membership_events(&self) -> broadcast::Receiver<Arc<MembershipEvent>> {
        self.memberships.subscribe()
    }

    /// The ids of sessions that end (log-out).
    pub fn ended_sessions(&self) -> broadcast::Receiver<i64> {
        self.ended_sessions.subscribe()
    }
}

/// Stages an event in the caller's write transaction: it is published if,
/// and when, the transaction commits.
pub async fn stage(tx: &mut Conn<'_>, event: impl Into<BusEvent>) -> Result<(), DomainError> {
    let event = event.into();
    match tx {
        Conn::Postgres(c) => {
            let payload =
                serde_json::to_string(&event).map_err(|e| DomainError::Internal(e.into()))?;
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(payload)
                .execute(*c)
                .await?;
        }
        Conn::Sqlite(_, Some(staged)) => staged.push(event),
        Conn::Sqlite(_, None) => {
            return Err(DomainError::Internal(anyhow::anyhow!(
                "an event staged outside a write transaction"
            )));
        }
    }
    Ok(())
}

impl From<MembershipEvent> for BusEvent {
    fn from(event: MembershipEvent) -> Self {
        BusEvent::Membership(Arc::new(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::MembershipEventKind;
    use crate::domain::members::Membership;
    use crate::domain::{Role, SeatTier, now};

    fn member() -> Membership {
        Membership {
            id: i64::MAX,
            organization_id: i64::MAX,
            user_id: i64::MAX,
            role: Role::Manager,
            credits: i32::MAX,
            seat: SeatTier::Standard,
            joined_at: now(),
        }
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_delivered_after_they_subscribe() {
        let bus = EventBus::default();
        bus.deliver([MembershipEvent::about(MembershipEventKind::Joined, &member(), 3).into()]);
        let mut receiver = bus.membership_events();
        let mut sessions = bus.ended_sessions();
        bus.deliver([
            MembershipEvent::removed(&member(), 9).into(),
            BusEvent::SessionEnded { session_id: 5 },
        ]);
        let event = receiver.recv().await.unwrap();
        assert_eq!(sessions.recv().await.unwrap(), 5);
        assert_eq!(event.kind, MembershipEventKind::Removed);
        assert_eq!(event.actor_id, Some(9));
        assert!(event.permissions().is_empty());
        assert!(
            receiver.try_recv().is_err(),
            "nothing from before the subscription"
        );
    }

    /// NOTIFY payloads are limited to 8000 bytes; an event has no free text,
    /// so even the largest stays far below (no overflow path is needed).
    #[test]
    fn the_largest_event_fits_a_notify_payload() {
        let event = MembershipEvent::about(
            MembershipEventKind::OwnershipTransferred,
            &member(),
            i64::MAX,
        )
        .with_previous_role(Role::Admin);
        let payload = serde_json::to_string(&BusEvent::from(event)).unwrap();
        assert!(payload.len() < 1000, "{} bytes: {payload}", payload.len());
    }
}
