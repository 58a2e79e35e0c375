//! Notify on commit: a transaction stages opaque text notifications that
//! leave the database if, and only if, it commits. PostgreSQL carries them
//! with NOTIFY (sent at commit) to the LISTEN connection of every instance;
//! SQLite, one process, hands them to a local receiver after the commit.

use std::sync::Arc;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use super::{Conn, DbError};

/// The NOTIFY channel.
pub const NOTIFY_CHANNEL: &str = "orgql_events";

/// Receives the notifications of each committed SQLite transaction, in the
/// order they were staged.
pub type LocalNotifications = Arc<dyn Fn(Vec<String>) + Send + Sync>;

/// Stages `payload` in the caller's write transaction.
pub async fn notify(tx: &mut Conn<'_>, payload: String) -> Result<(), DbError> {
    match tx {
        Conn::Postgres(c) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(NOTIFY_CHANNEL)
                .bind::<Text, _>(payload)
                .execute(*c)
                .await?;
        }
        Conn::Sqlite(_, Some(staged)) => staged.push(payload),
        Conn::Sqlite(_, None) => return Err(DbError::NotifyOutsideTransaction),
    }
    Ok(())
}
