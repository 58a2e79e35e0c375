//! The expiry of credit holds. Every instance runs this loop: a hold ends
//! only if it is still HELD, so two instances never expire one twice. It
//! sleeps until the next hold is due, and wakes sooner when this instance
//! places a hold (one due sooner than it knew) and at least every
//! [`IDLE`], for holds other instances placed.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::db::Db;
use crate::domain::credits::{holds, spending};
use crate::domain::now;
use crate::worker::Handle;

/// The longest the loop sleeps without looking at the holds again.
const IDLE: Duration = Duration::from_secs(5);
/// Holds expired in one round.
const BATCH: i64 = 100;

pub struct HoldExpiry {
    pub db: Db,
}

impl HoldExpiry {
    pub fn spawn(self) -> (Handle, JoinHandle<()>) {
        let (handle, mut stopped) = Handle::new();
        let task = tokio::spawn(async move {
            let mut placed = self.db.wakes(spending::HOLDS_PLACED);
            while !*stopped.borrow() {
                let wait = match spending::expire_due(&self.db, BATCH).await {
                    Ok(expired) if expired as i64 == BATCH => Duration::ZERO,
                    Ok(expired) => {
                        if expired > 0 {
                            tracing::info!(expired, "credit holds expired");
                        }
                        self.until_next_due().await
                    }
                    Err(error) => {
                        error.log_background("cannot expire credit holds");
                        IDLE
                    }
                };
                tokio::select! {
                    _ = placed.changed() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        (handle, task)
    }

    async fn until_next_due(&self) -> Duration {
        let next = self
            .db
            .read_borrowing(async |c| holds::next_expiry(c).await)
            .await;
        match next {
            // Not less than a moment: a hold that could not be expired is
            // not retried in a busy loop.
            Ok(Some(at)) => (at - now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(50), IDLE),
            Ok(None) => IDLE,
            Err(error) => {
                error.log_background("cannot read when the next credit hold expires");
                IDLE
            }
        }
    }
}
