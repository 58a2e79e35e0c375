//! The PostgreSQL side of the bus: one LISTEN connection per instance that
//! hands every committed event to this instance's subscribers, and that
//! reconnects (logging the gap) when the database goes away.

use std::pin::pin;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::EventBus;
use crate::db::NOTIFY_CHANNEL;

/// How often an idle listening connection is checked.
const HEALTH_CHECK: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Starts listening: returns once LISTEN is in place, so no event committed
/// after the server starts is missed.
pub async fn listen(url: String, bus: EventBus) -> Result<JoinHandle<()>, String> {
    let conn = connect(&url).await?;
    Ok(tokio::spawn(async move {
        let mut conn = Some(conn);
        let mut backoff = Duration::from_millis(250);
        loop {
            if let Some(mut listening) = conn.take() {
                backoff = Duration::from_millis(250);
                relay(&mut listening, &bus).await;
                tracing::warn!("the event listener lost its database connection; reconnecting");
            }
            let lost_at = Instant::now();
            while conn.is_none() {
                tokio::time::sleep(backoff).await;
                match connect(&url).await {
                    Ok(listening) => {
                        tracing::warn!(
                            gap_ms = lost_at.elapsed().as_millis() as u64,
                            "the event listener is back; events committed during the gap did not reach this instance's subscriptions"
                        );
                        conn = Some(listening);
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in = ?backoff, "the event listener cannot reconnect yet");
                        backoff = (backoff * 2).min(MAX_BACKOFF);
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

/// Hands notifications to the bus until the connection fails.
async fn relay(conn: &mut AsyncPgConnection, bus: &EventBus) {
    loop {
        {
            let mut notifications = pin!(conn.notifications_stream());
            let check = tokio::time::sleep(HEALTH_CHECK);
            let mut check = pin!(check);
            loop {
                tokio::select! {
                    notification = notifications.next() => match notification {
                        Some(Ok(notification)) => bus.deliver_payload(&notification.payload),
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
