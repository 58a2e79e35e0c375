//! Notify on commit: a transaction stages opaque text notifications that
//! leave the database if, and only if, it commits. PostgreSQL carries them
//! with NOTIFY (sent at commit) to the LISTEN connection of every instance;
//! SQLite, one process, hands them to a local receiver after the commit.
//! A transaction that queues work for a worker of this process stages a
//! wake of that queue the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use tokio::sync::watch;

use super::{Conn, DbError};

/// The NOTIFY channel.
pub const NOTIFY_CHANNEL: &str = "orgql_events";

/// Receives the notifications of each committed SQLite transaction, in the
/// order they were staged.
pub type LocalNotifications = Arc<dyn Fn(Vec<String>) + Send + Sync>;

/// What a write transaction has staged for its commit.
#[derive(Default)]
pub struct Staged {
    /// SQLite's notifications (PostgreSQL's are NOTIFYs in the transaction).
    pub(super) notifications: Vec<String>,
    /// The queues whose workers the commit wakes.
    pub(super) wakes: Vec<&'static str>,
}

/// Stages `payload` in the caller's write transaction.
pub async fn notify(tx: &mut Conn<'_>, payload: String) -> Result<(), DbError> {
    match tx {
        Conn::Postgres(c, _) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(NOTIFY_CHANNEL)
                .bind::<Text, _>(payload)
                .execute(*c)
                .await?;
        }
        Conn::Sqlite(_, Some(staged)) => staged.notifications.push(payload),
        Conn::Sqlite(_, None) => return Err(DbError::StagedOutsideTransaction),
    }
    Ok(())
}

/// Has the caller's write transaction, once it commits, wake this process's
/// worker of `queue` (see [`super::Db::wakes`]).
pub fn wake_on_commit(tx: &mut Conn<'_>, queue: &'static str) -> Result<(), DbError> {
    let (Conn::Postgres(_, Some(staged)) | Conn::Sqlite(_, Some(staged))) = tx else {
        return Err(DbError::StagedOutsideTransaction);
    };
    if !staged.wakes.contains(&queue) {
        staged.wakes.push(queue);
    }
    Ok(())
}

/// Each queue's wake: a counter its worker watches.
#[derive(Default)]
pub(super) struct Wakes(Mutex<HashMap<&'static str, watch::Sender<u64>>>);

impl Wakes {
    pub(super) fn sender(&self, queue: &'static str) -> watch::Sender<u64> {
        let mut queues = self.0.lock().expect("not poisoned");
        queues
            .entry(queue)
            .or_insert_with(|| watch::Sender::new(0))
            .clone()
    }

    pub(super) fn wake(&self, queues: &[&'static str]) {
        if queues.is_empty() {
            return;
        }
        let senders = self.0.lock().expect("not poisoned");
        for sender in queues.iter().filter_map(|queue| senders.get(queue)) {
            sender.send_modify(|count| *count += 1);
        }
    }
}
