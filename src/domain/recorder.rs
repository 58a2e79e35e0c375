//! The one way a change is recorded: its audit row, its webhook deliveries
//! and its live events, in that order, in the caller's transaction, so a
//! change and everything that tells of it commit together or not at all.

use serde_json::Value;

pub use super::changes::{Action, Actor, Target};

use super::DomainError;
use super::audit;
use super::changes::Recorded;
use super::live_events::{self, LiveEvent};
use super::webhooks::queue;
use crate::db::Conn;

/// A change to record: what was done, by whom, to whom, with what details,
/// and the live events it sends to the sessions it affects.
pub struct Change<'a> {
    organization_id: i64,
    actor: Actor,
    action: Action,
    target: Target<'a>,
    details: Value,
    live: Vec<LiveEvent>,
}

impl<'a> Change<'a> {
    pub fn new(organization_id: i64, actor: impl Into<Actor>, action: Action) -> Change<'a> {
        Change {
            organization_id,
            actor: actor.into(),
            action,
            target: Target::Nobody,
            details: Value::Null,
            live: Vec::new(),
        }
    }

    /// Whom the change was about.
    pub fn about(self, target: Target<'a>) -> Change<'a> {
        Change { target, ..self }
    }

    /// What else the audit row and the webhook's `change` say.
    pub fn details(self, details: Value) -> Change<'a> {
        Change { details, ..self }
    }

    /// A live event the change sends (in the order given).
    pub fn live(mut self, event: impl Into<LiveEvent>) -> Change<'a> {
        self.live.push(event.into());
        self
    }
}

/// Records `change` in the caller's transaction.
pub async fn record(tx: &mut Conn<'_>, change: Change<'_>) -> Result<(), DomainError> {
    let Change {
        organization_id,
        actor,
        action,
        target,
        details,
        live,
    } = change;
    let (target_email, at) =
        audit::write(tx, organization_id, actor, action, &target, &details).await?;
    let recorded = Recorded {
        organization_id,
        actor,
        action,
        target: &target,
        target_email: target_email.as_deref(),
        details: &details,
        at,
    };
    queue::enqueue(tx, &recorded).await?;
    for event in live {
        live_events::stage(tx, event).await?;
    }
    Ok(())
}
