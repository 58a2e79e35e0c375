//! Subscription seats: STANDARD and PRO, each with a limit; a member holds
//! at most one. The counters on the organization row are checked against
//! the limits by the database, so no interleaving assigns past a limit.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::live_events::{MembershipEvent, MembershipEventKind};
use super::members::Membership;
use super::organizations::{self, Organization};
use super::recorder::{self, Action, Change, Target};
use super::{DomainError, Permission, SeatTier, access};
use crate::db::schema::{memberships, organizations as orgs};
use crate::db::{Conn, Db, with_conn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatCount {
    pub limit: i32,
    pub assigned: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatInventory {
    pub standard: SeatCount,
    pub pro: SeatCount,
}

impl SeatInventory {
    pub fn of(organization: &Organization) -> SeatInventory {
        SeatInventory {
            standard: SeatCount {
                limit: organization.standard_seat_limit,
                assigned: organization.standard_seats_used,
            },
            pro: SeatCount {
                limit: organization.pro_seat_limit,
                assigned: organization.pro_seats_used,
            },
        }
    }
}

/// Sets both seat limits; a limit below the seats already assigned is refused.
pub async fn set_limits(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    standard: i32,
    pro: i32,
) -> Result<Organization, DomainError> {
    if standard < 0 || pro < 0 {
        return Err(DomainError::bad_input("seat limits cannot be negative"));
    }
    db.write(move |tx| {
        async move {
            access::authorize(tx, organization_id, actor_id, Permission::ManageBilling).await?;
            let update = diesel::update(orgs::table.find(organization_id))
                .filter(orgs::standard_seats_used.le(standard))
                .filter(orgs::pro_seats_used.le(pro))
                .set((
                    orgs::standard_seat_limit.eq(standard),
                    orgs::pro_seat_limit.eq(pro),
                ));
            let updated = with_conn!(tx, |c| update.execute(c).await)?;
            let organization = organizations::get(tx, organization_id).await?;
            if updated == 0 {
                let seats = SeatInventory::of(&organization);
                let (standard, pro) = (seats.standard.assigned, seats.pro.assigned);
                return Err(DomainError::Conflict(format!(
                    "{standard} STANDARD and {pro} PRO seats are assigned; \
                     release seats before lowering a limit below that"
                )));
            }
            let change = Change::new(organization_id, actor_id, Action::SeatLimitsSet)
                .details(json!({ "standard": standard, "pro": pro }));
            recorder::record(tx, change).await?;
            Ok(organization)
        }
        .boxed()
    })
    .await
}

/// Gives a member a seat of `tier` (releasing the one they held), or
/// releases their seat with `SeatTier::None`.
pub async fn assign(
    db: &Db,
    actor_id: i64,
    member_id: i64,
    tier: SeatTier,
) -> Result<Membership, DomainError> {
    db.write(move |tx| {
        async move {
            let member =
                access::lock_member_for(tx, member_id, actor_id, Permission::UpdateMembers).await?;
            if member.seat == tier {
                return Ok(member);
            }
            let update =
                diesel::update(memberships::table.find(member_id)).set(memberships::seat.eq(tier));
            with_conn!(tx, |c| update.execute(c).await)?;
            release(tx, member.organization_id, member.seat).await?;
            if !take(tx, member.organization_id, tier).await? {
                return Err(DomainError::LimitExceeded(format!(
                    "every {} seat is assigned; raise the limit or release one first",
                    tier.as_str()
                )));
            }
            let previous = member.seat;
            let member = Membership {
                seat: tier,
                ..member
            };
            let event = MembershipEvent::about(MembershipEventKind::SeatChanged, &member, actor_id);
            let change = Change::new(member.organization_id, actor_id, Action::SeatAssigned)
                .about(Target::member(&member))
                .details(json!({ "from": previous.as_str(), "to": tier.as_str() }))
                .live(event);
            recorder::record(tx, change).await?;
            Ok(member)
        }
        .boxed()
    })
    .await
}

/// Counts a seat of `tier` as taken, if the limit allows; NONE always fits.
async fn take(
    tx: &mut Conn<'_>,
    organization_id: i64,
    tier: SeatTier,
) -> Result<bool, DomainError> {
    let target = orgs::table.find(organization_id);
    let updated = match tier {
        SeatTier::None => return Ok(true),
        SeatTier::Standard => with_conn!(tx, |c| diesel::update(target)
            .filter(orgs::standard_seats_used.lt(orgs::standard_seat_limit))
            .set(orgs::standard_seats_used.eq(orgs::standard_seats_used + 1))
            .execute(c)
            .await)?,
        SeatTier::Pro => with_conn!(tx, |c| diesel::update(target)
            .filter(orgs::pro_seats_used.lt(orgs::pro_seat_limit))
            .set(orgs::pro_seats_used.eq(orgs::pro_seats_used + 1))
            .execute(c)
            .await)?,
    };
    Ok(updated == 1)
}

/// Counts a seat of `tier` as free again, in the caller's transaction.
pub async fn release(
    tx: &mut Conn<'_>,
    organization_id: i64,
    tier: SeatTier,
) -> Result<(), DomainError> {
    let target = orgs::table.find(organization_id);
    match tier {
        SeatTier::None => 0,
        SeatTier::Standard => with_conn!(tx, |c| diesel::update(target)
            .set(orgs::standard_seats_used.eq(orgs::standard_seats_used - 1))
            .execute(c)
            .await)?,
        SeatTier::Pro => with_conn!(tx, |c| diesel::update(target)
            .set(orgs::pro_seats_used.eq(orgs::pro_seats_used - 1))
            .execute(c)
            .await)?,
    };
    Ok(())
}
