//! The event bus: hands the live events of committed transactions to this
//! process's subscriptions, each once and in commit order.
//!
//! Events are announced by the database's commit notifications (SQLite's
//! commits in this process; PostgreSQL's NOTIFY, through one LISTEN
//! connection per instance) and numbered without gaps. One relay task puts
//! them in order: a number beyond the next one expected means announcements
//! were missed (a LISTEN connection that was down, two SQLite commits that
//! announced out of order), and the relay reads the missing events back
//! from their record before going on. It also looks at the last number
//! every second, so nothing waits long on an announcement that never came.

mod listener;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

pub use listener::listen;

use crate::db::{Db, LocalNotifications};
use crate::domain::live_events::{self, LiveEvent, MembershipEvent, Numbered, Replay};
use crate::domain::principal::Ended;

/// How many events a slow subscriber may fall behind before it is told it
/// lagged and is dropped; memory stays bounded whatever subscribers do.
pub const CAPACITY: usize = 4096;
/// How often the relay checks that it has missed nothing.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Events read back per query when catching up.
const CATCH_UP_BATCH: i64 = 500;

/// A membership event as subscribers receive it: shared, not copied, by
/// every subscription that sends it.
#[derive(Debug)]
pub struct Delivered {
    pub seq: i64,
    pub event: Arc<MembershipEvent>,
}

/// Membership events and ended credentials travel apart: every live
/// connection watches for the end of its credential, and should not wake
/// for every membership event to do so.
#[derive(Clone)]
pub struct EventBus {
    memberships: broadcast::Sender<Arc<Delivered>>,
    ended: broadcast::Sender<Ended>,
    announcements: mpsc::UnboundedSender<Announcement>,
}

/// What the relay is told.
enum Announcement {
    /// A commit notification's text.
    Committed(String),
    /// Announcements may have been missed: read the record.
    CatchUp,
}

impl EventBus {
    /// The bus of `db`, and the relay task that feeds it; it starts after the
    /// last event committed so far.
    pub async fn start(db: Db) -> Result<(EventBus, JoinHandle<()>), String> {
        let last = live_events::last_seq(&db)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (announcements, received) = mpsc::unbounded_channel();
        let bus = EventBus {
            memberships: broadcast::channel(CAPACITY).0,
            ended: broadcast::channel(CAPACITY).0,
            announcements,
        };
        let relay = Relay {
            db,
            bus: bus.clone(),
            last,
        };
        Ok((bus, tokio::spawn(relay.run(received))))
    }

    /// The receiver of the notifications of this process's SQLite commits.
    pub fn local_notifications(&self) -> LocalNotifications {
        let bus = self.clone();
        Arc::new(move |payloads| {
            for payload in payloads {
                bus.announce(payload);
            }
        })
    }

    fn announce(&self, payload: String) {
        // Fails only once the relay has stopped (the server is stopping).
        let _ = self.announcements.send(Announcement::Committed(payload));
    }

    /// Announcements may have been missed (a LISTEN connection was down).
    fn catch_up(&self) {
        let _ = self.announcements.send(Announcement::CatchUp);
    }

    pub fn membership_events(&self) -> broadcast::Receiver<Arc<Delivered>> {
        self.memberships.subscribe()
    }

    /// The credentials that stop working (a log-out, a revoked key).
    pub fn ended_credentials(&self) -> broadcast::Receiver<Ended> {
        self.ended.subscribe()
    }

    fn publish(&self, numbered: Numbered) {
        // Sending fails only when nobody listens, which is fine.
        match numbered.event {
            LiveEvent::Membership(event) => {
                let delivered = Arc::new(Delivered {
                    seq: numbered.seq,
                    event,
                });
                let _ = self.memberships.send(delivered);
            }
            LiveEvent::SessionEnded { session_id } => {
                let _ = self.ended.send(Ended::Session(session_id));
            }
            LiveEvent::ServiceKeyRevoked { key_id } => {
                let _ = self.ended.send(Ended::ServiceKey(key_id));
            }
        }
    }
}

/// How often events past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Prunes the record of live events older than `retention`, every minute:
/// cursors older than that cannot resume.
pub fn prune_periodically(db: Db, retention: Duration) -> JoinHandle<()> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            let before = crate::domain::now() - retention;
            match live_events::prune(&db, before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "pruned live events past their retention"),
                Err(error) => error.log_background("cannot prune live events"),
            }
        }
    })
}

/// Puts announced events in order and publishes each once.
struct Relay {
    db: Db,
    bus: EventBus,
    /// The number of the last event published.
    last: i64,
}

impl Relay {
    async fn run(mut self, mut received: mpsc::UnboundedReceiver<Announcement>) {
        let mut check = tokio::time::interval(CHECK_EVERY);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                announcement = received.recv() => match announcement {
                    Some(Announcement::Committed(payload)) => self.committed(&payload).await,
                    Some(Announcement::CatchUp) => self.catch_up().await,
                    None => return,
                },
                _ = check.tick() => self.check().await,
            }
        }
    }

    async fn committed(&mut self, payload: &str) {
        let numbered = match Numbered::from_payload(payload) {
            Ok(numbered) => numbered,
            Err(error) => {
                tracing::error!(%error, payload, "an event this instance cannot read");
                return;
            }
        };
        if numbered.seq <= self.last {
            return; // Published already, by a catch-up.
        }
        if numbered.seq > self.last + 1 {
            self.catch_up().await;
            if numbered.seq <= self.last {
                return;
            }
        }
        if numbered.seq == self.last + 1 {
            self.last = numbered.seq;
            self.bus.publish(numbered);
        }
    }

    /// Publishes every recorded event after the last one published.
    async fn catch_up(&mut self) {
        loop {
            match live_events::since(&self.db, Replay::All, self.last, CATCH_UP_BATCH).await {
                Ok(missed) => {
                    let complete = (missed.len() as i64) < CATCH_UP_BATCH;
                    for numbered in missed {
                        if numbered.seq != self.last + 1 {
                            // Pruned before this instance read it: none of
                            // its subscribers may be told it never happened.
                            tracing::warn!(
                                from = self.last + 1,
                                to = numbered.seq - 1,
                                "live events were pruned before this instance published them"
                            );
                        }
                        self.last = numbered.seq;
                        self.bus.publish(numbered);
                    }
                    if complete {
                        return;
                    }
                }
                Err(error) => {
                    error.log_background(
                        "cannot read the live events to catch up; trying again shortly",
                    );
                    return;
                }
            }
        }
    }

    /// Catches up when the record holds an event no announcement brought.
    async fn check(&mut self) {
        match live_events::last_seq(&self.db).await {
            // Usually an announcement on its way; at worst one that was lost.
            Ok(last) if last > self.last => self.catch_up().await,
            Ok(_) => {}
            Err(error) => tracing::debug!(error = ?error, "cannot read the last live event"),
        }
    }
}
