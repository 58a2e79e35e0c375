//! Issuing invitations, one or a batch (bulk invitations use it): a new
//! token for each, the invitation created or refreshed, and its email queued.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::email::{InvitationMail, Letter};
use super::{Invitation, InvitationSettings, InvitationState};
use crate::db::schema::{invitations, memberships, users};
use crate::db::{Conn, insert_all, with_conn};
use crate::domain::tokens::{hash_token, new_token};
use crate::domain::{DomainError, Role, now, outbox};

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

/// Creates the invitation of each (address, role), or refreshes the pending
/// one of that address, each with a new token, and queues the emails that
/// carry the tokens. A batch costs the same few statements as one
/// invitation, plus one per refreshed invitation.
pub(in crate::domain) async fn issue(
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
        .filter(invitations::status.eq(InvitationState::Pending));
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
        let created: Vec<Invitation> = insert_all!(
            tx,
            invitations::table,
            new_rows,
            returning Invitation::as_returning()
        )?;
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
            letter.compose(&InvitationMail {
                recipient: email,
                role: *role,
                link: &format!("{app_url}/invitations/accept?token={token}"),
                expires_at,
            })
        })
        .collect();
    outbox::enqueue(tx, mails).await?;
    Ok(issued)
}

pub(super) async fn issue_one(
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
pub(in crate::domain) async fn existing_members(
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
