//! The event bus: membership events, published after the transaction that
//! made them commits, to every live subscription of this process.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::events::MembershipEvent;

/// How many events a slow subscriber may fall behind before it is told it
/// lagged; memory stays bounded whatever the subscribers do.
const CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<MembershipEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// Delivers committed events to the current subscribers (none is fine).
    pub fn publish(&self, events: impl IntoIterator<Item = MembershipEvent>) {
        for event in events {
            let _ = self.sender.send(Arc::new(event));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<MembershipEvent>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::MembershipEventKind;
    use crate::domain::members::Membership;
    use crate::domain::{Role, SeatTier, now};

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribe() {
        let bus = EventBus::default();
        let member = Membership {
            id: 1,
            organization_id: 2,
            user_id: 3,
            role: Role::Admin,
            credits: 0,
            seat: SeatTier::None,
            joined_at: now(),
        };
        bus.publish([MembershipEvent::about(
            MembershipEventKind::Joined,
            &member,
            3,
        )]);
        let mut receiver = bus.subscribe();
        bus.publish([MembershipEvent::removed(&member, 9)]);
        let event = receiver.recv().await.unwrap();
        assert_eq!(event.kind, MembershipEventKind::Removed);
        assert_eq!(
            (event.organization_id, event.user_id, event.actor_id),
            (2, 3, Some(9))
        );
        assert!(event.permissions().is_empty());
        assert!(
            receiver.try_recv().is_err(),
            "nothing from before the subscription"
        );
    }
}
