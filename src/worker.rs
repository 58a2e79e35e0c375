//! The worker of a lease queue (`domain::lease_queue`), one per queue and
//! instance; the mail and webhook workers differ only in their [`Sender`].
//!
//! It first takes back the claims its instance held when it last stopped.
//! Then, until told to stop, it gives each lane with items due a task of its
//! own, which claims a batch of the lane's items, sends them one at a time
//! and records each outcome, until nothing in the lane is due: a slow lane
//! (a webhook endpoint that hangs) delays only itself. In between it waits
//! for a commit that queued work, the next due time, or a lane's task to end.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::db::Db;
use crate::domain::lease_queue::{self, Claimed, Lease, LeaseTable, Outcome, Retry, Settled};

/// The longest the worker sleeps without a commit of this instance waking
/// it: work another instance queued and then could not do waits at most
/// this long. (Retries wake it when they come due.)
const IDLE: Duration = Duration::from_secs(5);
/// Lanes looked at in one round.
const LANES: i64 = 100;
/// How often ended items are pruned, where the queue keeps them for a while.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// What a queue's worker does with its items.
pub trait Sender: Send + Sync + 'static {
    type Queue: LeaseTable;

    /// Attempts one item.
    fn send(&self, item: &Claimed<Item<Self>>) -> impl Future<Output = Outcome> + Send;

    /// Tells (logs, counts) what became of an attempt, once recorded.
    fn report(&self, item: &Claimed<Item<Self>>, outcome: &Outcome, settled: Settled);
}

type Item<S> = <<S as Sender>::Queue as LeaseTable>::Item;

pub struct Worker<S> {
    pub db: Db,
    pub sender: S,
    pub lease: Lease,
    pub retry: Retry,
    /// How long ended items are kept; None: the queue keeps them.
    pub retention: Option<Duration>,
}

/// Stops a worker.
pub struct Handle {
    stop: watch::Sender<bool>,
}

impl Handle {
    /// A handle, and what a loop of its own watches to hear it.
    pub fn new() -> (Handle, watch::Receiver<bool>) {
        let (stop, stopped) = watch::channel(false);
        (Handle { stop }, stopped)
    }

    /// Asks the worker to stop after the attempts in flight.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl<S: Sender> Worker<S> {
    pub fn spawn(self) -> (Handle, JoinHandle<()>) {
        let (handle, stopped) = Handle::new();
        (handle, tokio::spawn(Arc::new(self).run(stopped)))
    }

    async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let queue = S::Queue::WAKES;
        // Claims this instance held when it last stopped died with it.
        match lease_queue::release_claims_of::<S::Queue>(&self.db, &self.lease.instance).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(
                queue,
                released,
                "claims from before a restart are due again"
            ),
            Err(error) => error.log_background("cannot release a queue's old claims"),
        }
        let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let mut lanes = JoinSet::new();
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        let mut queued = self.db.wakes(queue);
        let busy_now =
            || -> Vec<i64> { busy.lock().expect("not poisoned").iter().copied().collect() };
        while !*stopped.borrow() {
            match lease_queue::due_lanes::<S::Queue>(&self.db, busy_now(), LANES).await {
                Ok(due) => {
                    for lane in due {
                        busy.lock().expect("not poisoned").insert(lane);
                        let (worker, busy, stopped) = (self.clone(), busy.clone(), stopped.clone());
                        lanes.spawn(async move {
                            worker.drain(lane, &stopped).await;
                            busy.lock().expect("not poisoned").remove(&lane);
                        });
                    }
                }
                Err(error) => error.log_background("cannot read a queue"),
            }
            let wait = self.until_next_due(busy_now()).await;
            tokio::select! {
                _ = queued.changed() => {
                    // A burst of commits is looked at once.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ = tokio::time::sleep(wait) => {}
                Some(_) = lanes.join_next() => {}
                _ = prune.tick(), if self.retention.is_some() => self.prune().await,
                _ = stopped.changed() => {}
            }
        }
        // The attempts in flight finish (each within its timeout).
        while lanes.join_next().await.is_some() {}
    }

    /// Attempts a lane's due items, batch by batch, one at a time, until
    /// none is due or the worker is told to stop (the rest of its claim then
    /// lapses, or is taken back when this instance starts again).
    async fn drain(&self, lane: i64, stopped: &watch::Receiver<bool>) {
        loop {
            let claimed = match lease_queue::claim::<S::Queue>(&self.db, &self.lease, lane).await {
                Ok(claimed) if !claimed.is_empty() => claimed,
                Ok(_) => return,
                Err(error) => {
                    {
                        let _lane =
                            tracing::info_span!("lane", queue = S::Queue::WAKES, lane).entered();
                        error.log_background("cannot claim from a queue");
                    }
                    // A claim that fails at once is not tried again at once.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return;
                }
            };
            let mut rest: Vec<i64> = claimed.iter().map(|item| item.id).collect();
            for item in claimed {
                if *stopped.borrow() {
                    return;
                }
                rest.retain(|id| *id != item.id);
                let outcome = self.sender.send(&item).await;
                let recorded = lease_queue::record::<S::Queue>(
                    &self.db,
                    &self.lease,
                    self.retry,
                    &item,
                    &outcome,
                    rest.clone(),
                )
                .await;
                match recorded {
                    Ok(settled) => self.sender.report(&item, &outcome, settled),
                    Err(error) => {
                        let _item =
                            tracing::info_span!("item", queue = S::Queue::WAKES, id = item.id)
                                .entered();
                        error.log_background("cannot record an attempt's outcome");
                    }
                }
            }
        }
    }

    /// How long until an item of a lane not in `busy` comes due, at most
    /// [`IDLE`]. (A busy lane's task ending wakes the worker.)
    async fn until_next_due(&self, busy: Vec<i64>) -> Duration {
        match lease_queue::next_due::<S::Queue>(&self.db, busy).await {
            Ok(Some(due)) => (due - crate::domain::now())
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(50), IDLE),
            Ok(None) => IDLE,
            Err(_) => Duration::from_secs(1),
        }
    }

    async fn prune(&self) {
        let Some(retention) = self.retention else {
            return;
        };
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let before = crate::domain::now() - retention;
        match lease_queue::prune::<S::Queue>(&self.db, before).await {
            Ok(0) => {}
            Ok(pruned) => {
                tracing::debug!(
                    queue = S::Queue::WAKES,
                    pruned,
                    "pruned items past their retention"
                )
            }
            Err(error) => error.log_background("cannot prune a queue"),
        }
    }
}
