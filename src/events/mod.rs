//! The event bus: hands the live events of committed transactions to this
//! process's subscriptions. They arrive as the database's commit
//! notifications: from SQLite's commits in this process, or from
//! PostgreSQL's NOTIFY through one LISTEN connection per instance.

mod listener;

use std::sync::Arc;

use tokio::sync::broadcast;

pub use listener::listen;

use crate::db::LocalNotifications;
use crate::domain::live_events::{LiveEvent, MembershipEvent};

/// How many events a slow subscriber may fall behind before it is told it
/// lagged and is dropped; memory stays bounded whatever subscribers do.
pub const CAPACITY: usize = 4096;

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
    /// Hands a committed event to this process's subscribers (none is fine).
    pub fn deliver(&self, event: LiveEvent) {
        // Sending fails only when nobody listens, which is fine.
        match event {
            LiveEvent::Membership(event) => drop(self.memberships.send(event)),
            LiveEvent::SessionEnded { session_id } => drop(self.ended_sessions.send(session_id)),
        }
    }

    /// Delivers a commit notification's event.
    fn deliver_payload(&self, payload: &str) {
        match LiveEvent::from_payload(payload) {
            Ok(event) => self.deliver(event),
            Err(error) => tracing::error!(%error, payload, "an event this instance cannot read"),
        }
    }

    /// The receiver of the notifications of this process's SQLite commits.
    pub fn local_notifications(&self) -> LocalNotifications {
        let bus = self.clone();
        Arc::new(move |payloads| {
            for payload in payloads {
                bus.deliver_payload(&payload);
            }
        })
    }

    pub fn membership_events(&self) -> broadcast::Receiver<Arc<MembershipEvent>> {
        self.memberships.subscribe()
    }

    /// The ids of sessions that end (log-out).
    pub fn ended_sessions(&self) -> broadcast::Receiver<i64> {
        self.ended_sessions.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::live_events::MembershipEventKind;
    use crate::domain::members::Membership;
    use crate::domain::{Role, SeatTier, now};

    fn member() -> Membership {
        Membership {
            id: 1,
            organization_id: 2,
            user_id: 3,
            role: Role::Manager,
            credits: 0,
            seat: SeatTier::None,
            joined_at: now(),
        }
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_delivered_after_they_subscribe() {
        let bus = EventBus::default();
        let deliver = bus.local_notifications();
        deliver(vec![
            LiveEvent::from(MembershipEvent::about(
                MembershipEventKind::Joined,
                &member(),
                3,
            ))
            .to_payload(),
        ]);
        let mut receiver = bus.membership_events();
        let mut sessions = bus.ended_sessions();
        deliver(vec![
            LiveEvent::from(MembershipEvent::removed(&member(), 9)).to_payload(),
            LiveEvent::SessionEnded { session_id: 5 }.to_payload(),
        ]);
        let event = receiver.recv().await.unwrap();
        assert_eq!(sessions.recv().await.unwrap(), 5);
        assert_eq!(event.kind, MembershipEventKind::Removed);
        assert_eq!(event.actor_id, Some(9));
        assert!(
            receiver.try_recv().is_err(),
            "nothing from before the subscription"
        );
    }
}
