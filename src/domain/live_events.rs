//! Live events: what a change did to one member, or the end of a session.
//! Each is recorded by the transaction that made the change, numbered in
//! commit order, and announced when it commits; the record lets a listener
//! that missed announcements, and a client that lost its connection, catch
//! up from the last number it saw, for as long as events are kept.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};

use super::changes::Actor;
use super::members::Membership;
use super::{DomainError, Permission, Role, now};
use crate::db::schema::{live_event_sequence, live_events};
use crate::db::{self, Conn, Db, with_conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipEventKind {
    Joined,
    RoleChanged,
    Removed,
    CreditsChanged,
    SeatChanged,
    OwnershipTransferred,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipEvent {
    pub kind: MembershipEventKind,
    pub organization_id: i64,
    pub user_id: i64,
    /// The membership after the change; None after removal.
    pub member: Option<Membership>,
    pub previous_role: Option<Role>,
    pub actor_id: Option<i64>,
    pub at: NaiveDateTime,
}

impl MembershipEvent {
    /// An event about `member` as it is after the change.
    pub fn about(kind: MembershipEventKind, member: &Membership, actor: impl Into<Actor>) -> Self {
        MembershipEvent {
            kind,
            organization_id: member.organization_id,
            user_id: member.user_id,
            member: Some(member.clone()),
            previous_role: None,
            actor_id: actor.into().user_id(),
            at: super::now(),
        }
    }

    pub fn with_previous_role(mut self, role: Role) -> Self {
        self.previous_role = Some(role);
        self
    }

    /// The member's removal: no membership, no permissions.
    pub fn removed(member: &Membership, actor: impl Into<Actor>) -> Self {
        MembershipEvent {
            member: None,
            previous_role: Some(member.role),
            ..Self::about(MembershipEventKind::Removed, member, actor)
        }
    }

    pub fn role(&self) -> Option<Role> {
        self.member.as_ref().map(|m| m.role)
    }

    /// The member's permissions after the change; none after removal.
    pub fn permissions(&self) -> Vec<Permission> {
        self.role().map(Role::permissions).unwrap_or_default()
    }
}

/// What the event bus carries between transactions and subscriptions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LiveEvent {
    /// Shared, not copied, by every subscription that sends it.
    Membership(Arc<MembershipEvent>),
    /// A session ended (log-out): its live connections close.
    SessionEnded { session_id: i64 },
    /// A service key was revoked: its live connections close.
    ServiceKeyRevoked { key_id: i64 },
}

impl From<MembershipEvent> for LiveEvent {
    fn from(event: MembershipEvent) -> Self {
        LiveEvent::Membership(Arc::new(event))
    }
}

impl LiveEvent {
    /// The organization and user it is about, which replays filter by.
    fn subject(&self) -> (Option<i64>, Option<i64>) {
        match self {
            LiveEvent::Membership(event) => (Some(event.organization_id), Some(event.user_id)),
            LiveEvent::SessionEnded { .. } | LiveEvent::ServiceKeyRevoked { .. } => (None, None),
        }
    }
}

/// An event with its number: what a commit announces, and what catching up
/// reads back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Numbered {
    pub seq: i64,
    pub event: LiveEvent,
}

impl Numbered {
    /// As a commit notification's text.
    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("live events serialize")
    }

    pub fn from_payload(payload: &str) -> Result<Numbered, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

#[derive(Insertable)]
#[diesel(table_name = live_events)]
struct NewLiveEvent {
    seq: i64,
    organization_id: Option<i64>,
    user_id: Option<i64>,
    payload: String,
    created_at: NaiveDateTime,
}

/// Records an event in the caller's write transaction, to be announced if,
/// and when, it commits.
///
/// Its number comes from one counter row, whose lock the transaction holds
/// until it commits: a later number never commits before an earlier one, and
/// a rolled-back transaction takes its number back, so the numbers that
/// commit have no gaps. Stage events last in a transaction: the lock is held
/// from here to the commit.
pub async fn stage(tx: &mut Conn<'_>, event: impl Into<LiveEvent>) -> Result<(), DomainError> {
    let event = event.into();
    let next = diesel::update(live_event_sequence::table.find(1))
        .set(live_event_sequence::last_seq.eq(live_event_sequence::last_seq + 1))
        .returning(live_event_sequence::last_seq);
    let seq: i64 = with_conn!(tx, |c| next.get_result(c).await)?;
    let (organization_id, user_id) = event.subject();
    let row = NewLiveEvent {
        seq,
        organization_id,
        user_id,
        payload: serde_json::to_string(&event).expect("live events serialize"),
        created_at: now(),
    };
    let insert = diesel::insert_into(live_events::table).values(&row);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok(db::notify(tx, Numbered { seq, event }.to_payload()).await?)
}

/// The number of the last event committed.
pub async fn last_seq(db: &Db) -> Result<i64, DomainError> {
    db.read(|c| {
        async move {
            let query = live_event_sequence::table
                .find(1)
                .select(live_event_sequence::last_seq);
            Ok(with_conn!(c, |c| query.get_result(c).await)?)
        }
        .boxed()
    })
    .await
}

/// Which recorded events a replay reads.
#[derive(Debug, Clone, Copy)]
pub enum Replay {
    /// Every event: a listener catching up.
    All,
    Organization(i64),
    User(i64),
}

/// Up to `limit` recorded events numbered after `after`, in order.
pub async fn since(
    db: &Db,
    replay: Replay,
    after: i64,
    limit: i64,
) -> Result<Vec<Numbered>, DomainError> {
    db.read(move |c| {
        async move {
            let rows: Vec<(i64, String)> = with_conn!(c, |c| {
                let mut query = live_events::table
                    .filter(live_events::seq.gt(after))
                    .select((live_events::seq, live_events::payload))
                    .order(live_events::seq)
                    .limit(limit)
                    .into_boxed();
                query = match replay {
                    Replay::All => query,
                    Replay::Organization(id) => query.filter(live_events::organization_id.eq(id)),
                    Replay::User(id) => query.filter(live_events::user_id.eq(id)),
                };
                query.load(c).await
            })?;
            rows.into_iter()
                .map(|(seq, payload)| {
                    let event = serde_json::from_str(&payload)
                        .map_err(|e| DomainError::Internal(e.into()))?;
                    Ok(Numbered { seq, event })
                })
                .collect()
        }
        .boxed()
    })
    .await
}

/// Checks that every event after `after` is still kept: a cursor older than
/// the retention window cannot resume (the client refetches, then
/// subscribes afresh), and one from the future is not a cursor of ours.
pub async fn check_resumable(db: &Db, after: i64) -> Result<(), DomainError> {
    let (last, pruned_through) = db
        .read(|c| {
            async move {
                let query = live_event_sequence::table.find(1).select((
                    live_event_sequence::last_seq,
                    live_event_sequence::pruned_through,
                ));
                Ok::<(i64, i64), DomainError>(with_conn!(c, |c| query.get_result(c).await)?)
            }
            .boxed()
        })
        .await?;
    if after < pruned_through {
        return Err(DomainError::CursorExpired);
    }
    if after > last || after < 0 {
        return Err(DomainError::bad_input(
            "this cursor is not one of this server's events",
        ));
    }
    Ok(())
}

/// Forgets events recorded before `before`; returns how many.
pub async fn prune(db: &Db, before: NaiveDateTime) -> Result<usize, DomainError> {
    db.write(move |tx| {
        async move {
            let newest_old = live_events::table
                .filter(live_events::created_at.lt(before))
                .select(diesel::dsl::max(live_events::seq));
            let Some(through) = with_conn!(tx, |c| newest_old.get_result::<Option<i64>>(c).await)?
            else {
                return Ok(0);
            };
            let delete = diesel::delete(live_events::table.filter(live_events::seq.le(through)));
            let deleted = with_conn!(tx, |c| delete.execute(c).await)?;
            let mark = diesel::update(live_event_sequence::table.find(1))
                .filter(live_event_sequence::pruned_through.lt(through))
                .set(live_event_sequence::pruned_through.eq(through));
            with_conn!(tx, |c| mark.execute(c).await)?;
            Ok(deleted)
        }
        .boxed()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SeatTier, now};

    fn member() -> Membership {
        Membership {
            id: i64::MAX,
            organization_id: i64::MAX,
            user_id: i64::MAX,
            role: Role::Manager,
            credits: i32::MAX,
            credits_held: i32::MAX,
            credits_spent: i32::MAX,
            seat: SeatTier::Standard,
            joined_at: now(),
        }
    }

    /// NOTIFY payloads are limited to 8000 bytes; an event has no free text,
    /// so even the largest stays far below (no overflow path is needed).
    #[test]
    fn the_largest_event_fits_a_notify_payload() {
        let event = MembershipEvent::about(
            MembershipEventKind::OwnershipTransferred,
            &member(),
            i64::MAX,
        )
        .with_previous_role(Role::Admin);
        let payload = Numbered {
            seq: i64::MAX,
            event: event.into(),
        }
        .to_payload();
        assert!(payload.len() < 1000, "{} bytes: {payload}", payload.len());
    }

    #[test]
    fn payloads_round_trip() {
        let numbered = Numbered {
            seq: 7,
            event: MembershipEvent::removed(&member(), 9).into(),
        };
        let back = Numbered::from_payload(&numbered.to_payload()).unwrap();
        assert_eq!(back.seq, 7);
        let LiveEvent::Membership(back) = back.event else {
            panic!("a membership event");
        };
        assert_eq!(back.kind, MembershipEventKind::Removed);
        assert_eq!(back.actor_id, Some(9));
        assert!(back.permissions().is_empty());
    }
}
