//! The PostgreSQL side of the bus: one LISTEN connection per instance that
//! hands every commit notification to the relay, and that reconnects
//! promptly when the database goes away, then has the relay catch up on
//! what was committed meanwhile.

use std::pin::pin;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::EventBus;
use crate::db::NOTIFY_CHANNEL;

/// How often an idle listening connection is checked.
const HEALTH_CHECK: Duration = Duration::from_secs(5);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(1);

/// Starts listening: returns once LISTEN is in place.
pub async fn listen(url: String, bus: EventBus) -> Result<JoinHandle<()>, String> {
    let conn = connect(&url).await?;
    Ok(tokio::spawn(async move {
        let mut conn = Some(conn);
        loop {
            if let Some(mut listening) = conn.take() {
                relay(&mut listening, &bus).await;
                tracing::warn!("the event listener lost its database connection; reconnecting");
            }
            let lost_at = Instant::now();
            let mut wait = FIRST_RETRY;
            while conn.is_none() {
                tokio::time::sleep(wait).await;
                match connect(&url).await {
                    Ok(listening) => {
                        let gap_ms = lost_at.elapsed().as_millis() as u64;
                        tracing::info!(gap_ms, "the event listener is back; catching up");
                        bus.catch_up();
                        conn = Some(listening);
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?wait, "the event listener cannot reconnect yet");
                        wait = (wait * 2).min(MAX_RETRY);
                    }
                }
            }
        }
    }))
}

async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Hands notifications to the relay until the connection fails.
async fn relay(conn: &mut AsyncPgConnection, bus: &EventBus) {
    loop {
        {
            let mut notifications = pin!(conn.notifications_stream());
            let check = tokio::time::sleep(HEALTH_CHECK);
            let mut check = pin!(check);
            loop {
                tokio::select! {
                    notification = notifications.next() => match notification {
                        Some(Ok(notification)) => bus.announce(notification.payload),
                        _ => return,
                    },
                    _ = &mut check => break,
                }
            }
        }
        // The notification stream never ends on its own: ask the server.
        if conn.batch_execute("SELECT 1").await.is_err() {
            return;
        }
    }
}
