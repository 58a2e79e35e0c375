//! Listing an organization's invitations, newest first, by status.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Invitation, InvitationState, InvitationStatus};
use crate::db::schema::invitations;
use crate::db::{Conn, with_conn};
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::{DomainError, now};

/// Narrows a boxed invitations query to one status (EXPIRED is a pending
/// invitation past `at`).
macro_rules! with_status {
    ($query:expr, $status:expr, $at:expr) => {
        match $status {
            None => $query,
            Some(InvitationStatus::Pending) => $query
                .filter(invitations::status.eq(InvitationState::Pending))
                .filter(invitations::expires_at.gt($at)),
            Some(InvitationStatus::Expired) => $query
                .filter(invitations::status.eq(InvitationState::Pending))
                .filter(invitations::expires_at.le($at)),
            Some(InvitationStatus::Accepted) => {
                $query.filter(invitations::status.eq(InvitationState::Accepted))
            }
            Some(InvitationStatus::Revoked) => {
                $query.filter(invitations::status.eq(InvitationState::Revoked))
            }
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
    let at = now();
    let rows = with_conn!(conn, |c| {
        let query = invitations::table
            .filter(invitations::organization_id.eq(organization_id))
            .select(Invitation::as_select())
            .into_boxed();
        let query = with_status!(query, status, at);
        id_window!(query, invitations::id, window, newest_first = true)
            .load(c)
            .await
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
