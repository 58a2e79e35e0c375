//! Credits: the organization's pool, what each member holds, and what the
//! product's services hold and spend of it. Every movement goes through
//! [`apply`]: conditional updates of the member's row and then the pool's,
//! so `added = available + distributed + spent` and no balance goes negative
//! under any interleaving (the database's constraints say the same), and a
//! ledger row with the balances after it.

pub mod holds;
pub mod ledger;
pub mod requests;
pub mod spending;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

pub use ledger::{EntryKind, LedgerEntry};

use super::live_events::{MembershipEvent, MembershipEventKind};
use super::members::Membership;
use super::organizations::{self, Organization};
use super::recorder::{self, Action, Actor, Change, Target};
use super::{DomainError, Permission, access};
use crate::db::schema::{memberships, organizations as orgs};
use crate::db::{Conn, Db, with_conn};

/// The pool as clients see it: total = available + distributed, and what
/// was ever added = available + distributed + spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditPool {
    pub available: i32,
    pub distributed: i32,
    pub held: i32,
    pub spent: i32,
    pub added: i32,
}

impl CreditPool {
    pub fn of(organization: &Organization) -> CreditPool {
        CreditPool {
            available: organization.credits_available,
            distributed: organization.credits_distributed,
            held: organization.credits_held,
            spent: organization.credits_spent,
            added: organization.credits_available
                + organization.credits_distributed
                + organization.credits_spent,
        }
    }

    pub fn total(&self) -> i64 {
        i64::from(self.available) + i64::from(self.distributed)
    }
}

pub(super) fn positive(amount: i32) -> Result<i32, DomainError> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err(DomainError::bad_input(format!(
            "the amount must be a positive whole number, got {amount}"
        )))
    }
}

/// What a movement is about besides its amount: the ledger row's context.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct About<'a> {
    pub hold_id: Option<i64>,
    pub idempotency_key: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// A movement as it committed: the member and the pool after it, and its
/// ledger entry.
#[derive(Debug, Clone)]
pub struct Moved {
    /// None for ADDED.
    pub member: Option<Membership>,
    pub organization: Organization,
    pub entry: LedgerEntry,
}

/// Why a movement could not be made.
enum Shortfall {
    /// The member's available credits (credits - held) fall short.
    Member,
    /// The pool's available credits fall short, or it would pass `i32::MAX`.
    Pool,
}

/// How a kind of movement changes the member's and the pool's balances,
/// and what each side must have available for it.
struct Deltas {
    credits: i32,
    held: i32,
    spent: i32,
    member_needs: i32,
    pool_available: i32,
    pool_distributed: i32,
    pool_needs: i32,
    added: i32,
}

impl Deltas {
    fn of(kind: EntryKind, a: i32) -> Deltas {
        let none = Deltas {
            credits: 0,
            held: 0,
            spent: 0,
            member_needs: 0,
            pool_available: 0,
            pool_distributed: 0,
            pool_needs: 0,
            added: 0,
        };
        match kind {
            EntryKind::Added => Deltas {
                pool_available: a,
                added: a,
                ..none
            },
            EntryKind::Distributed => Deltas {
                credits: a,
                pool_available: -a,
                pool_distributed: a,
                pool_needs: a,
                ..none
            },
            EntryKind::Reclaimed | EntryKind::Returned => Deltas {
                credits: -a,
                member_needs: a,
                pool_available: a,
                pool_distributed: -a,
                ..none
            },
            EntryKind::Held => Deltas {
                held: a,
                member_needs: a,
                ..none
            },
            EntryKind::Released => Deltas { held: -a, ..none },
            // What a settled hold used leaves both its hold and the member.
            EntryKind::Settled => Deltas {
                credits: -a,
                held: -a,
                spent: a,
                pool_distributed: -a,
                ..none
            },
            EntryKind::Spent => Deltas {
                credits: -a,
                spent: a,
                member_needs: a,
                pool_distributed: -a,
                ..none
            },
        }
    }
}

/// Moves `amount` credits of `kind` for the member who is `user_id` in the
/// organization (None only for ADDED) in the caller's transaction, and
/// writes its ledger row. The member's row is updated before the
/// organization's: the lock order of every operation. Not a member:
/// NOT_FOUND.
pub(super) async fn apply(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
    kind: EntryKind,
    amount: i32,
    actor: Actor,
    about: About<'_>,
) -> Result<Moved, DomainError> {
    match try_apply(tx, organization_id, user_id, kind, amount, actor, about).await? {
        Ok(moved) => Ok(moved),
        Err(Shortfall::Member) => {
            let available = match user_id {
                Some(user_id) => available_of(tx, organization_id, user_id).await?,
                None => None,
            }
            .ok_or(DomainError::NotFound("member"))?;
            Err(DomainError::short_of_credits(
                format!("the member has {available} credits available, fewer than {amount}"),
                available,
            ))
        }
        Err(Shortfall::Pool) => {
            let organization = organizations::get(tx, organization_id).await?;
            match kind {
                EntryKind::Added => Err(DomainError::LimitExceeded(format!(
                    "the pool cannot take in more than {} credits in all",
                    i32::MAX
                ))),
                _ => Err(DomainError::short_of_credits(
                    format!(
                        "the pool holds {} credits, fewer than {amount}",
                        organization.credits_available
                    ),
                    organization.credits_available,
                )),
            }
        }
    }
}

async fn try_apply(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
    kind: EntryKind,
    amount: i32,
    actor: Actor,
    about: About<'_>,
) -> Result<Result<Moved, Shortfall>, DomainError> {
    let d = Deltas::of(kind, amount);
    let member = match user_id {
        Some(user_id) => {
            // A SUSPENDED member's credits cannot be held or spent: with
            // suspension, that is one more filter here for those kinds.
            let update = diesel::update(memberships::table)
                .filter(memberships::organization_id.eq(organization_id))
                .filter(memberships::user_id.eq(user_id))
                .filter((memberships::credits - memberships::credits_held).ge(d.member_needs))
                .set((
                    memberships::credits.eq(memberships::credits + d.credits),
                    memberships::credits_held.eq(memberships::credits_held + d.held),
                    memberships::credits_spent.eq(memberships::credits_spent + d.spent),
                ));
            let after = with_conn!(tx, |c| update
                .returning(Membership::as_returning())
                .get_result(c)
                .await
                .optional())?;
            match after {
                Some(after) => Some(after),
                None => return Ok(Err(Shortfall::Member)),
            }
        }
        None => None,
    };
    let update = diesel::update(orgs::table.find(organization_id))
        .filter(orgs::credits_available.ge(d.pool_needs))
        // What was ever added must still fit the API's Int.
        .filter(
            (orgs::credits_available + orgs::credits_distributed + orgs::credits_spent)
                .le(i32::MAX - d.added),
        )
        .set((
            orgs::credits_available.eq(orgs::credits_available + d.pool_available),
            orgs::credits_distributed.eq(orgs::credits_distributed + d.pool_distributed),
            orgs::credits_held.eq(orgs::credits_held + d.held),
            orgs::credits_spent.eq(orgs::credits_spent + d.spent),
        ));
    let after = with_conn!(tx, |c| update
        .returning(Organization::as_returning())
        .get_result(c)
        .await
        .optional())?;
    let Some(organization) = after else {
        return Ok(Err(Shortfall::Pool));
    };
    let entry = ledger::write(
        tx,
        ledger::NewEntry {
            organization_id,
            user_id: member.as_ref().map(|m| m.user_id),
            actor_id: actor.user_id(),
            service_key_id: actor.service_key_id(),
            kind,
            amount,
            member_credits_after: member.as_ref().map(|m| m.credits),
            pool_available_after: organization.credits_available,
            hold_id: about.hold_id,
            idempotency_key: about.idempotency_key,
            description: about.description,
            created_at: super::now(),
        },
    )
    .await?;
    Ok(Ok(Moved {
        member,
        organization,
        entry,
    }))
}

/// A member's available credits; None if they are not a member.
async fn available_of(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: i64,
) -> Result<Option<i32>, DomainError> {
    let query = memberships::table
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::user_id.eq(user_id))
        .select(memberships::credits - memberships::credits_held);
    Ok(with_conn!(tx, |c| query.first(c).await.optional())?)
}

/// Tops up the organization's pool.
pub async fn add(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    amount: i32,
) -> Result<Organization, DomainError> {
    let amount = positive(amount)?;
    db.write(move |tx| {
        async move {
            access::authorize(tx, organization_id, actor_id, Permission::ManageBilling).await?;
            let actor = Actor::User(actor_id);
            let moved = apply(
                tx,
                organization_id,
                None,
                EntryKind::Added,
                amount,
                actor,
                About::default(),
            )
            .await?;
            let change = Change::new(organization_id, actor, Action::CreditsAdded)
                .details(json!({ "amount": amount }));
            recorder::record(tx, change).await?;
            Ok(moved.organization)
        }
        .boxed()
    })
    .await
}

/// Returns all of a leaving member's credits (none held any more) to the
/// pool, in the caller's transaction; their removal is the change recorded.
pub(in crate::domain) async fn return_all(
    tx: &mut Conn<'_>,
    member: &Membership,
    actor: Actor,
) -> Result<Moved, DomainError> {
    let (organization_id, credits) = (member.organization_id, member.credits);
    apply(
        tx,
        organization_id,
        Some(member.user_id),
        EntryKind::Returned,
        credits,
        actor,
        About::default(),
    )
    .await
}

/// A move of credits between the pool and a member, as it committed.
#[derive(Debug, Clone)]
pub struct CreditMove {
    pub member: Membership,
    pub pool: CreditPool,
}

#[derive(Debug, Clone, Copy)]
pub enum Direction {
    ToMember,
    ToPool,
}

/// Moves `amount` credits between the pool and a member (UPDATE_MEMBERS).
/// Only the member's available credits can go back to the pool.
pub async fn transfer(
    db: &Db,
    actor_id: i64,
    member_id: i64,
    amount: i32,
    direction: Direction,
) -> Result<CreditMove, DomainError> {
    let amount = positive(amount)?;
    db.write(move |tx| {
        async move {
            let member =
                access::lock_member_for(tx, member_id, actor_id, Permission::UpdateMembers).await?;
            let (kind, action) = match direction {
                Direction::ToMember => (EntryKind::Distributed, Action::CreditsDistributed),
                Direction::ToPool => (EntryKind::Reclaimed, Action::CreditsReclaimed),
            };
            let actor = Actor::User(actor_id);
            let moved = move_and_record(tx, &member, kind, amount, actor, action, None).await?;
            Ok(CreditMove {
                member: moved.member.expect("a member's movement"),
                pool: CreditPool::of(&moved.organization),
            })
        }
        .boxed()
    })
    .await
}

/// Moves credits between the pool and a locked member and records the
/// change (its details default to the amount and the member's balance).
pub(super) async fn move_and_record(
    tx: &mut Conn<'_>,
    member: &Membership,
    kind: EntryKind,
    amount: i32,
    actor: Actor,
    action: Action,
    details: Option<serde_json::Value>,
) -> Result<Moved, DomainError> {
    let organization_id = member.organization_id;
    let moved = apply(
        tx,
        organization_id,
        Some(member.user_id),
        kind,
        amount,
        actor,
        About::default(),
    )
    .await?;
    let after = moved.member.as_ref().expect("a member's movement");
    let event = MembershipEvent::about(MembershipEventKind::CreditsChanged, after, actor);
    let details = details.unwrap_or_else(|| json!({ "amount": amount, "balance": after.credits }));
    let change = Change::new(organization_id, actor, action)
        .about(Target::member(after))
        .details(details)
        .live(event);
    recorder::record(tx, change).await?;
    Ok(moved)
}
