//! Removal and leaving: in one transaction the membership goes, its credits
//! return to the pool, its seat is released, and one audit row says so.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::live_events::MembershipEvent;
use super::members::{self, Membership, adjust_counters};
use super::organizations::{self, Organization};
use super::recorder::{self, Action, Change, Target};
use super::{DomainError, Permission, Role, SeatTier, access, credits, seats};
use crate::db::schema::{memberships, organizations as orgs};
use crate::db::{Conn, Db, with_conn};

#[derive(Debug, Clone)]
pub struct Removal {
    pub member: Membership,
    pub credits_returned: i32,
    pub seat_released: SeatTier,
    pub organization: Organization,
}

/// Removes another member (MANAGE_MEMBERS). The owner cannot be removed.
pub async fn remove(db: &Db, actor_id: i64, member_id: i64) -> Result<Removal, DomainError> {
    db.write(move |tx| {
        async move {
            let member =
                access::lock_member_for(tx, member_id, actor_id, Permission::ManageMembers).await?;
            if member.role == Role::Owner {
                return Err(DomainError::Conflict(
                    "the owner cannot be removed; transfer ownership first".into(),
                ));
            }
            end_membership(tx, member, actor_id, Action::MemberRemoved).await
        }
        .boxed()
    })
    .await
}

/// The viewer leaves an organization. The owner cannot leave.
pub async fn leave(db: &Db, user_id: i64, organization_id: i64) -> Result<Removal, DomainError> {
    db.write(move |tx| {
        async move {
            let mine =
                access::authorize(tx, organization_id, user_id, Permission::ViewMembers).await?;
            let member = members::lock(tx, mine.id).await?;
            if member.role == Role::Owner {
                return Err(DomainError::Conflict(
                    "the owner cannot leave; transfer ownership first".into(),
                ));
            }
            end_membership(tx, member, user_id, Action::MemberLeft).await
        }
        .boxed()
    })
    .await
}

async fn end_membership(
    tx: &mut Conn<'_>,
    member: Membership,
    actor_id: i64,
    action: Action,
) -> Result<Removal, DomainError> {
    let organization_id = member.organization_id;
    let delete = diesel::delete(memberships::table.find(member.id));
    with_conn!(tx, |c| delete.execute(c).await)?;
    if member.credits > 0 {
        let update = diesel::update(orgs::table.find(organization_id)).set((
            orgs::credits_available.eq(orgs::credits_available + member.credits),
            orgs::credits_distributed.eq(orgs::credits_distributed - member.credits),
        ));
        with_conn!(tx, |c| update.execute(c).await)?;
        credits::record_movement(
            tx,
            organization_id,
            Some(member.user_id),
            actor_id,
            "returned",
            member.credits,
        )
        .await?;
    }
    seats::release(tx, organization_id, member.seat).await?;
    adjust_counters(tx, organization_id, &[(member.role, -1)]).await?;
    let change = Change::new(organization_id, actor_id, action)
        .about(Target::member(&member).with_previous_role(member.role))
        .details(json!({
            "role": member.role.as_str(),
            "creditsReturned": member.credits,
            "seatReleased": member.seat.as_str(),
        }))
        .live(MembershipEvent::removed(&member, actor_id));
    recorder::record(tx, change).await?;
    let organization = organizations::get(tx, organization_id).await?;
    Ok(Removal {
        credits_returned: member.credits,
        seat_released: member.seat,
        member,
        organization,
    })
}
