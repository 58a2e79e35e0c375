//! Invitations: by email, with a role, for 7 days, single-use. The token is
//! random and stored only as a hash; the email that carries it is queued in
//! the same transaction as the invitation.

mod email;
mod issuing;
mod listing;

use chrono::{Duration, NaiveDateTime};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

pub(super) use email::Letter;
pub use issuing::Sent;
pub(super) use issuing::{existing_members, issue};
pub use listing::{by_ids, count, list};

use super::live_events::{MembershipEvent, MembershipEventKind};
use super::members::{self, Membership};
use super::recorder::{self, Action, Change, Target};
use super::text_enum::text_enum;
use super::tokens::hash_token;
use super::users::normalize_email;
use super::{DomainError, Permission, Role, access, addresses, now};
use crate::db::schema::{invitations, organizations, users};
use crate::db::{Conn, Db, with_conn};

/// What invitations need from the configuration.
#[derive(Debug, Clone)]
pub struct InvitationSettings {
    /// Links are `{app_url}/invitations/accept?token=TOKEN`.
    pub app_url: String,
    pub ttl: Duration,
}

/// Where an invitation stands as stored; EXPIRED is derived (see
/// [`Invitation::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
}
text_enum!(InvitationState { Pending = "PENDING", Accepted = "ACCEPTED", Revoked = "REVOKED" });

/// Where an invitation stands, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: i64,
    pub organization_id: i64,
    pub email: String,
    pub role: Role,
    #[diesel(column_name = status)]
    pub state: InvitationState,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Invitation {
    /// Not yet accepted nor revoked: it may be resent or revoked (an expired
    /// one too).
    pub fn is_open(&self) -> bool {
        self.state == InvitationState::Pending
    }

    /// EXPIRED is a pending invitation past its expiry.
    pub fn status(&self) -> InvitationStatus {
        match self.state {
            InvitationState::Accepted => InvitationStatus::Accepted,
            InvitationState::Revoked => InvitationStatus::Revoked,
            InvitationState::Pending if self.expires_at <= now() => InvitationStatus::Expired,
            InvitationState::Pending => InvitationStatus::Pending,
        }
    }
}

/// Invites `email` with `role`, or refreshes the pending invitation of that
/// address; queues the email.
pub async fn invite(
    db: &Db,
    settings: &InvitationSettings,
    actor_id: i64,
    organization_id: i64,
    email: &str,
    role: Role,
) -> Result<Invitation, DomainError> {
    let email = normalize_email(email)?;
    let settings = settings.clone();
    db.write(move |tx| {
        async move {
            access::authorize(tx, organization_id, actor_id, Permission::ManageMembers).await?;
            let taken = existing_members(tx, organization_id, std::slice::from_ref(&email)).await?;
            if !taken.is_empty() {
                return Err(DomainError::Conflict(format!(
                    "{email} is already a member"
                )));
            }
            let letter = Letter::load(tx, organization_id, actor_id).await?;
            let (invitation, sent) =
                issuing::issue_one(tx, &settings, &letter, &email, role).await?;
            let action = match sent {
                Sent::Invited => Action::MemberInvited,
                Sent::Reinvited => Action::MemberReinvited,
            };
            let change = Change::new(organization_id, actor_id, action)
                .about(Target::Email(&email))
                .details(json!({ "role": role.as_str() }));
            recorder::record(tx, change).await?;
            Ok(invitation)
        }
        .boxed()
    })
    .await
}

/// A new token for a pending (or expired) invitation, a new email, and a
/// new expiry; the old token stops working.
pub async fn resend(
    db: &Db,
    settings: &InvitationSettings,
    actor_id: i64,
    invitation_id: i64,
) -> Result<Invitation, DomainError> {
    let settings = settings.clone();
    db.write(move |tx| {
        async move {
            let invitation = manageable(tx, invitation_id, actor_id).await?;
            if !invitation.is_open() {
                return Err(DomainError::Conflict(
                    "only a pending or expired invitation can be resent".into(),
                ));
            }
            let letter = Letter::load(tx, invitation.organization_id, actor_id).await?;
            let (invitation, _) =
                issuing::issue_one(tx, &settings, &letter, &invitation.email, invitation.role)
                    .await?;
            let change = Change::new(
                invitation.organization_id,
                actor_id,
                Action::InvitationResent,
            );
            let change = change.about(Target::Email(&invitation.email));
            recorder::record(tx, change.details(json!({}))).await?;
            Ok(invitation)
        }
        .boxed()
    })
    .await
}

/// Withdraws a pending invitation: its token stops working.
pub async fn revoke(db: &Db, actor_id: i64, invitation_id: i64) -> Result<Invitation, DomainError> {
    db.write(move |tx| {
        async move {
            let invitation = manageable(tx, invitation_id, actor_id).await?;
            if !invitation.is_open() {
                return Err(DomainError::Conflict(
                    "only a pending invitation can be revoked".into(),
                ));
            }
            let update = diesel::update(invitations::table.find(invitation_id))
                .set(invitations::status.eq(InvitationState::Revoked));
            with_conn!(tx, |c| update.execute(c).await)?;
            let change = Change::new(
                invitation.organization_id,
                actor_id,
                Action::InvitationRevoked,
            );
            let change = change.about(Target::Email(&invitation.email));
            recorder::record(tx, change.details(json!({}))).await?;
            Ok(Invitation {
                state: InvitationState::Revoked,
                ..invitation
            })
        }
        .boxed()
    })
    .await
}

/// An invitation the actor may manage; to others it does not exist.
async fn manageable(
    tx: &mut Conn<'_>,
    invitation_id: i64,
    actor_id: i64,
) -> Result<Invitation, DomainError> {
    let invitation = lock(tx, invitation_id)
        .await?
        .ok_or(DomainError::NotFound("invitation"))?;
    let organization_id = invitation.organization_id;
    access::authorize_on(
        tx,
        organization_id,
        actor_id,
        Permission::ManageMembers,
        "invitation",
    )
    .await?;
    Ok(invitation)
}

/// Loads one invitation and, on PostgreSQL, locks it until the end of the
/// transaction (SQLite's write transactions run one at a time).
async fn lock(tx: &mut Conn<'_>, invitation_id: i64) -> Result<Option<Invitation>, DomainError> {
    let query = invitations::table.find(invitation_id);
    Ok(match tx {
        Conn::Postgres(c, _) => query
            .select(Invitation::as_select())
            .for_update()
            .first(*c)
            .await
            .optional()?,
        Conn::Sqlite(c, _) => query
            .select(Invitation::as_select())
            .first(*c)
            .await
            .optional()?,
    })
}

/// What the holder of a token may see before accepting.
#[derive(Debug, Clone)]
pub struct Preview {
    pub invitation: Invitation,
    pub organization_name: String,
    pub invited_by_name: Option<String>,
    pub account_exists: bool,
}

/// The invitation a token stands for, for anyone holding it.
pub async fn preview(db: &Db, token: &str) -> Result<Option<Preview>, DomainError> {
    let token_hash = hash_token(token);
    db.read(move |c| {
        async move {
            let query = invitations::table
                .inner_join(organizations::table)
                .left_join(users::table.on(invitations::invited_by.eq(users::id.nullable())))
                .filter(invitations::token_hash.eq(token_hash));
            let found: Option<(Invitation, String, Option<String>)> = with_conn!(c, |c| query
                .select((
                    Invitation::as_select(),
                    organizations::name,
                    users::name.nullable()
                ))
                .first(c)
                .await
                .optional())?;
            let Some((invitation, organization_name, invited_by_name)) = found else {
                return Ok(None);
            };
            // An account that could accept it: one that proved the address,
            // or the password account whose login it is.
            let account = users::table
                .filter(users::email.eq(invitation.email.clone()))
                .filter(users::email_verified.or(users::password_hash.ne("")))
                .count();
            let accounts: i64 = with_conn!(c, |c| account.get_result(c).await)?;
            Ok(Some(Preview {
                invitation,
                organization_name,
                invited_by_name,
                account_exists: accounts > 0,
            }))
        }
        .boxed()
    })
    .await
}

/// The signed-in user accepts the invitation a token stands for.
pub async fn accept(db: &Db, user_id: i64, token: &str) -> Result<Membership, DomainError> {
    let token = token.to_owned();
    db.write(move |tx| async move { accept_in(tx, user_id, &token).await }.boxed())
        .await
}

/// Accepts in the caller's transaction (sign-up uses it to create the
/// account and the membership together).
pub async fn accept_in(
    tx: &mut Conn<'_>,
    user_id: i64,
    token: &str,
) -> Result<Membership, DomainError> {
    let invalid = || DomainError::bad_input("this invitation link is not valid");
    let by_token = invitations::table
        .filter(invitations::token_hash.eq(hash_token(token)))
        .select(invitations::id);
    let id: Option<i64> = with_conn!(tx, |c| by_token.first(c).await.optional())?;
    let invitation = lock(tx, id.ok_or_else(invalid)?)
        .await?
        .ok_or_else(invalid)?;
    let refusal = match invitation.status() {
        InvitationStatus::Pending => None,
        InvitationStatus::Accepted => Some("this invitation has already been used"),
        InvitationStatus::Revoked => Some("this invitation has been revoked"),
        InvitationStatus::Expired => Some("this invitation has expired; ask for a new one"),
    };
    if let Some(refusal) = refusal {
        return Err(DomainError::Conflict(refusal.into()));
    }
    let email_query = users::table.find(user_id).select((
        users::email,
        users::email_verified,
        users::password_hash.ne(""),
    ));
    let (email, verified, has_password): (String, bool, bool) =
        with_conn!(tx, |c| email_query.first(c).await)?;
    // A password account's address is its login, and the token was mailed
    // to it: accepting proves it. A provider's user has the provider's word
    // on their address, and an unverified one is not taken as theirs.
    if !verified && !has_password {
        return Err(DomainError::Forbidden(
            "your identity provider has not verified your email address, so it cannot accept \
             an invitation: verify it there, then sign in again"
                .into(),
        ));
    }
    if email != invitation.email {
        return Err(DomainError::Forbidden(format!(
            "this invitation is for {}; sign in with that address to accept it",
            invitation.email
        )));
    }
    if !verified {
        addresses::prove(tx, user_id, &email).await?;
    }
    let member = members::add(tx, invitation.organization_id, user_id, invitation.role).await?;
    let update = diesel::update(invitations::table.find(invitation.id))
        .set(invitations::status.eq(InvitationState::Accepted));
    with_conn!(tx, |c| update.execute(c).await)?;
    let change = Change::new(invitation.organization_id, user_id, Action::MemberJoined)
        .about(Target::member(&member).with_email(&email))
        .details(json!({ "role": invitation.role.as_str(), "invitedBy": invitation.invited_by }))
        .live(MembershipEvent::about(
            MembershipEventKind::Joined,
            &member,
            user_id,
        ));
    recorder::record(tx, change).await?;
    Ok(member)
}
