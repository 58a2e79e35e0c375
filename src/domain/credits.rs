//! The credit pool and per-member credits. Every move is a conditional
//! update, so `available + distributed = total` and no balance goes
//! negative under any interleaving; each leaves a ledger row.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::live_events::{MembershipEvent, MembershipEventKind};
use super::members::{self, Membership};
use super::organizations::{self, Organization};
use super::recorder::{self, Action, Change, Target};
use super::{DomainError, Permission, access, now};
use crate::db::schema::{credit_ledger, memberships, organizations as orgs};
use crate::db::{Conn, Db, with_conn};

/// The pool as clients see it: total = available + distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditPool {
    pub available: i32,
    pub distributed: i32,
}

impl CreditPool {
    pub fn of(organization: &Organization) -> CreditPool {
        CreditPool {
            available: organization.credits_available,
            distributed: organization.credits_distributed,
        }
    }

    pub fn total(&self) -> i64 {
        i64::from(self.available) + i64::from(self.distributed)
    }
}

#[derive(Insertable)]
#[diesel(table_name = credit_ledger)]
struct LedgerRow<'a> {
    organization_id: i64,
    user_id: Option<i64>,
    actor_id: Option<i64>,
    kind: &'a str,
    amount: i32,
    created_at: chrono::NaiveDateTime,
}

/// Writes the ledger row of a movement of credits.
pub(super) async fn record_movement(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
    actor_id: i64,
    kind: &str,
    amount: i32,
) -> Result<(), DomainError> {
    let row = LedgerRow {
        organization_id,
        user_id,
        actor_id: Some(actor_id),
        kind,
        amount,
        created_at: now(),
    };
    let insert = diesel::insert_into(credit_ledger::table).values(&row);
    with_conn!(tx, |c| insert.execute(c).await)?;
    Ok(())
}

fn positive(amount: i32) -> Result<i32, DomainError> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err(DomainError::bad_input(format!(
            "the amount must be a positive whole number, got {amount}"
        )))
    }
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
            // The total must still fit the API's Int.
            let update = diesel::update(orgs::table.find(organization_id))
                .filter((orgs::credits_available + orgs::credits_distributed).le(i32::MAX - amount))
                .set(orgs::credits_available.eq(orgs::credits_available + amount));
            if with_conn!(tx, |c| update.execute(c).await)? == 0 {
                return Err(DomainError::LimitExceeded(format!(
                    "the pool cannot hold more than {} credits",
                    i32::MAX
                )));
            }
            record_movement(tx, organization_id, None, actor_id, "added", amount).await?;
            let change = Change::new(organization_id, actor_id, Action::CreditsAdded)
                .details(json!({ "amount": amount }));
            recorder::record(tx, change).await?;
            organizations::get(tx, organization_id).await
        }
        .boxed()
    })
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

/// Moves `amount` credits between the pool and a member.
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
            let organization_id = member.organization_id;
            // Member first, then the organization: the lock order of every
            // operation. Each update only applies if the balance suffices.
            let target = memberships::table.find(member_id);
            let moved = match direction {
                Direction::ToMember => {
                    let update = diesel::update(target)
                        .set(memberships::credits.eq(memberships::credits + amount));
                    with_conn!(tx, |c| update.execute(c).await)?
                        + with_conn!(tx, |c| diesel::update(orgs::table.find(organization_id))
                            .filter(orgs::credits_available.ge(amount))
                            .set((
                                orgs::credits_available.eq(orgs::credits_available - amount),
                                orgs::credits_distributed.eq(orgs::credits_distributed + amount),
                            ))
                            .execute(c)
                            .await)?
                }
                Direction::ToPool => {
                    let update = diesel::update(target)
                        .filter(memberships::credits.ge(amount))
                        .set(memberships::credits.eq(memberships::credits - amount));
                    let member_had_enough = with_conn!(tx, |c| update.execute(c).await)?;
                    if member_had_enough == 0 {
                        return Err(DomainError::LimitExceeded(format!(
                            "the member holds {} credits, fewer than {amount}",
                            member.credits
                        )));
                    }
                    1 + with_conn!(tx, |c| diesel::update(orgs::table.find(organization_id))
                        .set((
                            orgs::credits_available.eq(orgs::credits_available + amount),
                            orgs::credits_distributed.eq(orgs::credits_distributed - amount),
                        ))
                        .execute(c)
                        .await)?
                }
            };
            let organization = organizations::get(tx, organization_id).await?;
            if moved != 2 {
                return Err(DomainError::LimitExceeded(format!(
                    "the pool holds {} credits, fewer than {amount}",
                    organization.credits_available
                )));
            }
            let (kind, action) = match direction {
                Direction::ToMember => ("distributed", Action::CreditsDistributed),
                Direction::ToPool => ("reclaimed", Action::CreditsReclaimed),
            };
            record_movement(
                tx,
                organization_id,
                Some(member.user_id),
                actor_id,
                kind,
                amount,
            )
            .await?;
            let member = members::lock(tx, member_id).await?;
            let event =
                MembershipEvent::about(MembershipEventKind::CreditsChanged, &member, actor_id);
            let change = Change::new(organization_id, actor_id, action)
                .about(Target::member(&member))
                .details(json!({ "amount": amount, "balance": member.credits }))
                .live(event);
            recorder::record(tx, change).await?;
            Ok(CreditMove {
                member,
                pool: CreditPool::of(&organization),
            })
        }
        .boxed()
    })
    .await
}
