//! Removal and leaving: in one transaction the membership goes, its credits
//! return to the pool, its pending credit request is cancelled, its seat is
//! released, and one audit row says so.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::credits::{requests, spending};
use super::live_events::MembershipEvent;
use super::members::{self, Membership, adjust_counters};
use super::organizations::{self, Organization};
use super::recorder::{self, Action, Actor, Change, Target};
use super::{DomainError, Permission, Role, SeatTier, access, credits, seats};
use crate::db::schema::memberships;
use crate::db::{Conn, Db, with_conn};
use crate::ids::{self, Kind};

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
    // Open holds are released, then every credit returns to the pool.
    let actor = Actor::User(actor_id);
    let member = spending::release_all_of(tx, &member, actor).await?;
    if member.credits > 0 {
        credits::return_all(tx, &member, actor).await?;
    }
    let cancelled = requests::cancel_pending_of(tx, &member, actor_id).await?;
    let delete = diesel::delete(memberships::table.find(member.id));
    with_conn!(tx, |c| delete.execute(c).await)?;
    seats::release(tx, organization_id, member.seat).await?;
    adjust_counters(tx, organization_id, &[(member.role, -1)]).await?;
    let mut details = json!({
        "role": member.role.as_str(),
        "creditsReturned": member.credits,
        "seatReleased": member.seat.as_str(),
    });
    // The cancellation comes with the removal, as its releases do.
    if let Some(request) = cancelled {
        details["creditRequestCancelled"] = json!(ids::encode(Kind::CreditRequest, request.id));
    }
    let change = Change::new(organization_id, actor_id, action)
        .about(Target::member(&member).with_previous_role(member.role))
        .details(details)
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
