//! Invitations: by email, with a role, for 7 days, single-use. The token is
//! random and stored only as a hash; the email that carries it is queued in
//! the same transaction as the invitation.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::json;

use super::audit::{self, Target};
use super::events::{MembershipEvent, MembershipEventKind};
use super::members::{self, Membership};
use super::outbox;
use super::pagination::{Page, PageArgs};
use super::users::normalize_email;
use super::{DomainError, Permission, Role, now};
use crate::auth::{hash_token, new_token};
use crate::db::schema::{invitations, memberships, organizations, users};
use crate::db::{Conn, Db};
use crate::events;
use crate::mail::templates;
use crate::with_conn;

/// What invitations need from the configuration.
#[derive(Debug, Clone)]
pub struct InvitationSettings {
    /// Links are `{app_url}/invitations/accept?token=TOKEN`.
    pub app_url: String,
    pub ttl: Duration,
}

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
    /// As stored: PENDING, ACCEPTED or REVOKED; see `status()`.
    #[diesel(column_name = status)]
    pub stored_status: String,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Invitation {
    /// Not yet accepted nor revoked: it may be resent or revoked (an expired
    /// one too).
    pub fn is_open(&self) -> bool {
        self.stored_status == "PENDING"
    }

    /// EXPIRED is a pending invitation past its expiry.
    pub fn status(&self) -> InvitationStatus {
        match self.stored_status.as_str() {
            "ACCEPTED" => InvitationStatus::Accepted,
            "REVOKED" => InvitationStatus::Revoked,
            _ if self.expires_at <= now() => InvitationStatus::Expired,
            _ => InvitationStatus::Pending,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = invitations)]
struct NewInvitation {
    organization_id: i64,
    email: String,
    role: Role,
    token_hash: String,
    invited_by: Option<i64>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// How an invitation came to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Invited,
    /// A pending invitation for the address was refreshed: new token, role and expiry.
    Reinvited,
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
            members::authorize(tx, organization_id, actor_id, Permission::ManageMembers).await?;
            if !existing_members(tx, organization_id, std::slice::from_ref(&email))
                .await?
                .is_empty()
            {
                return Err(DomainError::Conflict(format!(
                    "{email} is already a member"
                )));
            }
            let letter = Letter::load(tx, organization_id, actor_id).await?;
            let (invitation, sent) = issue_one(tx, &settings, &letter, &email, role).await?;
            let action = if sent == Sent::Invited {
                "member.invited"
            } else {
                "member.reinvited"
            };
            audit::record(
                tx,
                organization_id,
                actor_id,
                action,
                Target::Email(&email),
                json!({ "role": role.as_str() }),
            )
            .await?;
            Ok(invitation)
        }
        .boxed()
    })
    .await
}

/// Who invites, to what: the parts of the email that are the same for
/// every invitation one person sends for one organization.
pub(super) struct Letter {
    organization_id: i64,
    organization_name: String,
    inviter_id: i64,
    inviter_name: String,
}

impl Letter {
    pub(super) async fn load(
        tx: &mut Conn<'_>,
        organization_id: i64,
        inviter_id: i64,
    ) -> Result<Letter, DomainError> {
        let organization = organizations::table
            .find(organization_id)
            .select(organizations::name);
        let organization_name: String = with_conn!(tx, |c| organization.first(c).await)?;
        let inviter = users::table.find(inviter_id).select(users::name);
        let inviter_name: String = with_conn!(tx, |c| inviter.first(c).await)?;
        Ok(Letter {
            organization_id,
            organization_name,
            inviter_id,
            inviter_name,
        })
    }
}

/// Creates the invitation of each (address, role), or refreshes the pending
/// one of that address, each with a new token, and queues the emails that
/// carry the tokens. A batch costs the same few statements as one
/// invitation, plus one per refreshed invitation.
pub(super) async fn issue(
    tx: &mut Conn<'_>,
    settings: &InvitationSettings,
    letter: &Letter,
    people: &[(String, Role)],
) -> Result<Vec<(Invitation, Sent)>, DomainError> {
    let created_at = now();
    let expires_at = created_at + settings.ttl;
    let emails: Vec<&str> = people.iter().map(|(email, _)| email.as_str()).collect();
    let pending = invitations::table
        .filter(invitations::organization_id.eq(letter.organization_id))
        .filter(invitations::email.eq_any(emails))
        .filter(invitations::status.eq("PENDING"));
    let pending: Vec<Invitation> = with_conn!(tx, |c| pending
        .select(Invitation::as_select())
        .load(c)
        .await)?;

    let mut issued = Vec::with_capacity(people.len());
    let mut tokens = Vec::with_capacity(people.len());
    let mut new_rows = Vec::new();
    for (email, role) in people {
        let token = new_token();
        let token_hash = hash_token(&token);
        match pending.iter().find(|p| &p.email == email) {
            Some(existing) => {
                let refresh = diesel::update(invitations::table.find(existing.id)).set((
                    invitations::role.eq(*role),
                    invitations::token_hash.eq(token_hash),
                    invitations::invited_by.eq(Some(letter.inviter_id)),
                    invitations::expires_at.eq(expires_at),
                ));
                let refreshed = with_conn!(tx, |c| refresh
                    .returning(Invitation::as_returning())
                    .get_result(c)
                    .await)?;
                issued.push((refreshed, Sent::Reinvited));
            }
            None => new_rows.push(NewInvitation {
                organization_id: letter.organization_id,
                email: email.clone(),
                role: *role,
                token_hash,
                invited_by: Some(letter.inviter_id),
                created_at,
                expires_at,
            }),
        }
        tokens.push((email.clone(), *role, token));
    }
    if !new_rows.is_empty() {
        let created: Vec<Invitation> = crate::insert_all!(tx, invitations::table, new_rows, returning Invitation::as_returning())?;
        issued.extend(
            created
                .into_iter()
                .map(|invitation| (invitation, Sent::Invited)),
        );
    }
    // The database returns inserted rows in no promised order.
    issued.sort_by_key(|(invitation, _)| {
        people
            .iter()
            .position(|(email, _)| *email == invitation.email)
    });

    let app_url = settings.app_url.trim_end_matches('/');
    let mails = tokens
        .iter()
        .map(|(email, role, token)| {
            templates::invitation(&templates::InvitationMail {
                recipient: email,
                organization_name: &letter.organization_name,
                inviter_name: &letter.inviter_name,
                role: role.as_str(),
                link: &format!("{app_url}/invitations/accept?token={token}"),
                expires_at,
            })
        })
        .collect();
    outbox::enqueue(tx, mails).await?;
    Ok(issued)
}

async fn issue_one(
    tx: &mut Conn<'_>,
    settings: &InvitationSettings,
    letter: &Letter,
    email: &str,
    role: Role,
) -> Result<(Invitation, Sent), DomainError> {
    let mut issued = issue(tx, settings, letter, &[(email.to_owned(), role)]).await?;
    issued
        .pop()
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("an invitation was not issued")))
}

/// The addresses of `emails` that already belong to members.
pub(super) async fn existing_members(
    tx: &mut Conn<'_>,
    organization_id: i64,
    emails: &[String],
) -> Result<Vec<String>, DomainError> {
    let query = users::table
        .inner_join(memberships::table)
        .filter(memberships::organization_id.eq(organization_id))
        .filter(users::email.eq_any(emails))
        .select(users::email);
    Ok(with_conn!(tx, |c| query.load(c).await)?)
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
                issue_one(tx, &settings, &letter, &invitation.email, invitation.role).await?;
            let target = Target::Email(&invitation.email);
            audit::record(
                tx,
                invitation.organization_id,
                actor_id,
                "member.invitation_resent",
                target,
                json!({}),
            )
            .await?;
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
                .set(invitations::status.eq("REVOKED"));
            with_conn!(tx, |c| update.execute(c).await)?;
            let target = Target::Email(&invitation.email);
            audit::record(
                tx,
                invitation.organization_id,
                actor_id,
                "member.invitation_revoked",
                target,
                json!({}),
            )
            .await?;
            Ok(Invitation {
                stored_status: "REVOKED".into(),
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
    match members::authorize(
        tx,
        invitation.organization_id,
        actor_id,
        Permission::ManageMembers,
    )
    .await
    {
        Err(DomainError::NotFound(_)) => Err(DomainError::NotFound("invitation")),
        Err(error) => Err(error),
        Ok(_) => Ok(invitation),
    }
}

/// Loads one invitation and, on PostgreSQL, locks it until the end of the
/// transaction (SQLite's write transactions run one at a time).
async fn lock(tx: &mut Conn<'_>, invitation_id: i64) -> Result<Option<Invitation>, DomainError> {
    let query = invitations::table.find(invitation_id);
    Ok(match tx {
        Conn::Postgres(c) => query
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
            let account = users::table
                .filter(users::email.eq(invitation.email.clone()))
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
    match invitation.status() {
        InvitationStatus::Pending => {}
        InvitationStatus::Accepted => {
            return Err(DomainError::Conflict(
                "this invitation has already been used".into(),
            ));
        }
        InvitationStatus::Revoked => {
            return Err(DomainError::Conflict(
                "this invitation has been revoked".into(),
            ));
        }
        InvitationStatus::Expired => {
            return Err(DomainError::Conflict(
                "this invitation has expired; ask for a new one".into(),
            ));
        }
    }
    let email_query = users::table.find(user_id).select(users::email);
    let email: String = with_conn!(tx, |c| email_query.first(c).await)?;
    if email != invitation.email {
        return Err(DomainError::Forbidden(format!(
            "this invitation is for {}; sign in with that address to accept it",
            invitation.email
        )));
    }
    let member = members::add(tx, invitation.organization_id, user_id, invitation.role).await?;
    let update = diesel::update(invitations::table.find(invitation.id))
        .set(invitations::status.eq("ACCEPTED"));
    with_conn!(tx, |c| update.execute(c).await)?;
    let target = Target::User {
        id: user_id,
        email: &email,
    };
    let details = json!({ "role": invitation.role.as_str(), "invitedBy": invitation.invited_by });
    audit::record(
        tx,
        invitation.organization_id,
        user_id,
        "member.joined",
        target,
        details,
    )
    .await?;
    events::stage(
        tx,
        MembershipEvent::about(MembershipEventKind::Joined, &member, user_id),
    )
    .await?;
    Ok(member)
}

/// Narrows a boxed invitations query to one status (EXPIRED is a pending
/// invitation past `at`).
macro_rules! with_status {
    ($query:expr, $status:expr, $at:expr) => {
        match $status {
            None => $query,
            Some(InvitationStatus::Pending) => $query
                .filter(invitations::status.eq("PENDING"))
                .filter(invitations::expires_at.gt($at)),
            Some(InvitationStatus::Expired) => $query
                .filter(invitations::status.eq("PENDING"))
                .filter(invitations::expires_at.le($at)),
            Some(InvitationStatus::Accepted) => $query.filter(invitations::status.eq("ACCEPTED")),
            Some(InvitationStatus::Revoked) => $query.filter(invitations::status.eq("REVOKED")),
        }
    };
}

/// One page of an organization's invitations, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    status: Option<InvitationStatus>,
    page: &PageArgs,
) -> Result<Page<Invitation>, DomainError> {
    let window = page.window::<i64>()?;
    let ascending = window.scan_ascending(false);
    let at = now();
    let rows = with_conn!(conn, |c| {
        let mut query = invitations::table
            .filter(invitations::organization_id.eq(organization_id))
            .select(Invitation::as_select())
            .into_boxed();
        query = with_status!(query, status, at);
        if let Some(after) = window.after {
            query = query.filter(invitations::id.lt(after));
        }
        if let Some(before) = window.before {
            query = query.filter(invitations::id.gt(before));
        }
        query = if ascending {
            query.order(invitations::id.asc())
        } else {
            query.order(invitations::id.desc())
        };
        query.limit(window.limit + 1).load(c).await
    })?;
    Ok(window.page(rows, |invitation| invitation.id))
}

/// How many invitations of the organization have `status`.
pub async fn count(
    conn: &mut Conn<'_>,
    organization_id: i64,
    status: Option<InvitationStatus>,
) -> Result<i64, DomainError> {
    let at = now();
    let count = with_conn!(conn, |c| {
        let mut query = invitations::table
            .filter(invitations::organization_id.eq(organization_id))
            .count()
            .into_boxed();
        query = with_status!(query, status, at);
        query.get_result(c).await
    })?;
    Ok(count)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<Invitation>, DomainError> {
    let query = invitations::table.filter(invitations::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(Invitation::as_select())
        .load(c)
        .await)?)
}
