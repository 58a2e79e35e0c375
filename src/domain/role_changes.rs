//! Role changes and ownership transfer. The member counters move with every
//! role, and the database's one-owner index holds at every instant.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::live_events::{MembershipEvent, MembershipEventKind};
use super::members::{self, Membership, adjust_counters};
use super::recorder::{self, Action, Change, Target};
use super::{DomainError, Permission, Role, access};
use crate::db::schema::memberships;
use crate::db::{Conn, Db, with_conn};

/// Gives a member another role. The owner's role moves only by transfer.
pub async fn update_role(
    db: &Db,
    actor_id: i64,
    member_id: i64,
    role: Role,
) -> Result<Membership, DomainError> {
    if role == Role::Owner {
        return Err(DomainError::bad_input(
            "OWNER is not assignable: use transferOwnership",
        ));
    }
    db.write(move |tx| {
        async move {
            let member =
                access::lock_member_for(tx, member_id, actor_id, Permission::ManageMembers).await?;
            if member.role == Role::Owner {
                return Err(DomainError::Conflict(
                    "the owner's role changes only by transferOwnership".into(),
                ));
            }
            if member.role == role {
                return Ok(member);
            }
            let changed = set_role(tx, &member, role).await?;
            let event =
                MembershipEvent::about(MembershipEventKind::RoleChanged, &changed, actor_id)
                    .with_previous_role(member.role);
            let change = Change::new(member.organization_id, actor_id, Action::MemberRoleChanged)
                .about(Target::member(&changed).with_previous_role(member.role))
                .details(json!({ "from": member.role.as_str(), "to": role.as_str() }))
                .live(event);
            recorder::record(tx, change).await?;
            Ok(changed)
        }
        .boxed()
    })
    .await
}

/// Sets a locked member's role and moves the counters with it.
async fn set_role(
    tx: &mut Conn<'_>,
    member: &Membership,
    role: Role,
) -> Result<Membership, DomainError> {
    let update = diesel::update(memberships::table.find(member.id)).set(memberships::role.eq(role));
    with_conn!(tx, |c| update.execute(c).await)?;
    adjust_counters(tx, member.organization_id, &[(member.role, -1), (role, 1)]).await?;
    Ok(Membership {
        role,
        ..member.clone()
    })
}

#[derive(Debug, Clone)]
pub struct OwnershipTransfer {
    pub previous_owner: Membership,
    pub new_owner: Membership,
}

/// Hands the organization to another member; the owner becomes ADMIN.
pub async fn transfer_ownership(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    member_id: i64,
) -> Result<OwnershipTransfer, DomainError> {
    db.write(move |tx| transfer_in(tx, actor_id, organization_id, member_id).boxed())
        .await
}

async fn transfer_in(
    tx: &mut Conn<'_>,
    actor_id: i64,
    organization_id: i64,
    member_id: i64,
) -> Result<OwnershipTransfer, DomainError> {
    let permission = Permission::TransferOwnership;
    let owner = access::authorize(tx, organization_id, actor_id, permission).await?;
    // Both rows, in id order: two transfers cannot deadlock.
    let (first, second) = (owner.id.min(member_id), owner.id.max(member_id));
    let mut locked = vec![members::lock(tx, first).await?];
    if second != first {
        locked.push(members::lock(tx, second).await?);
    }
    let locked_row = |id: i64| locked.iter().find(|m| m.id == id).cloned().expect("locked");
    let (owner, heir) = (locked_row(owner.id), locked_row(member_id));
    // Someone else's transfer may have committed while we waited.
    if owner.role != Role::Owner {
        return Err(DomainError::MissingPermission(permission));
    }
    if heir.organization_id != organization_id {
        return Err(DomainError::NotFound("member"));
    }
    if heir.id == owner.id {
        return Err(DomainError::bad_input("you already own this organization"));
    }
    // Demote first: the one-owner index never sees two.
    let previous_owner = set_role(tx, &owner, Role::Admin).await?;
    let new_owner = set_role(tx, &heir, Role::Owner).await?;
    let kind = MembershipEventKind::OwnershipTransferred;
    let demoted = MembershipEvent::about(kind, &previous_owner, actor_id);
    let promoted = MembershipEvent::about(kind, &new_owner, actor_id);
    let change = Change::new(organization_id, actor_id, Action::OwnershipTransferred)
        .about(Target::member(&new_owner).with_previous_role(heir.role))
        .details(json!({
            "previousOwnerUserId": owner.user_id,
            "newOwnerPreviousRole": heir.role.as_str(),
        }))
        .live(demoted.with_previous_role(Role::Owner))
        .live(promoted.with_previous_role(heir.role));
    recorder::record(tx, change).await?;
    Ok(OwnershipTransfer {
        previous_owner,
        new_owner,
    })
}
