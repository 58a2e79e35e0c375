//! The audit log: one row per change, written in the change's transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use super::members::Membership;
use super::pagination::{Page, PageArgs, id_window};
use super::{DomainError, Role, webhooks};
use crate::db::schema::{audit_events, users};
use crate::db::{Conn, with_conn};

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    organization_id: i64,
    actor_id: Option<i64>,
    action: &'a str,
    target_user_id: Option<i64>,
    target_email: Option<&'a str>,
    details: Option<String>,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub organization_id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_user_id: Option<i64>,
    pub target_email: Option<String>,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Every action the audit log records: the event types of webhooks too.
pub const ACTIONS: &[&str] = &[
    "organization.created",
    "organization.updated",
    "credits.added",
    "credits.distributed",
    "credits.reclaimed",
    "seats.limits_set",
    "seat.assigned",
    "member.invited",
    "member.reinvited",
    "member.invitation_resent",
    "member.invitation_revoked",
    "member.bulk_invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "member.left",
    "ownership.transferred",
    "service_key.created",
    "service_key.revoked",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.deleted",
];

/// Who a change was about: a member, or just an address.
pub enum Target<'a> {
    Nobody,
    /// A member as the change left them (a removed one: as they were).
    Member {
        member: &'a Membership,
        /// Their user's address, when the caller has it at hand.
        email: Option<&'a str>,
        /// The role the change moved them from.
        previous_role: Option<Role>,
    },
    Email(&'a str),
}

impl<'a> Target<'a> {
    pub fn member(member: &'a Membership) -> Target<'a> {
        Target::Member {
            member,
            email: None,
            previous_role: None,
        }
    }

    pub fn with_previous_role(self, role: Role) -> Target<'a> {
        match self {
            Target::Member { member, email, .. } => Target::Member {
                member,
                email,
                previous_role: Some(role),
            },
            other => other,
        }
    }

    pub fn with_email(self, address: &'a str) -> Target<'a> {
        match self {
            Target::Member {
                member,
                previous_role,
                ..
            } => Target::Member {
                member,
                email: Some(address),
                previous_role,
            },
            other => other,
        }
    }
}

/// Records `action` by `actor_id` in the organization, in the caller's
/// transaction (`details` is stored as JSON text), and queues it for every
/// webhook endpoint of the organization that wants it, in the same
/// transaction: a change and its deliveries commit together, or neither.
pub async fn record(
    tx: &mut Conn<'_>,
    organization_id: i64,
    actor_id: i64,
    action: &'static str,
    target: Target<'_>,
    details: Value,
) -> Result<(), DomainError> {
    debug_assert!(ACTIONS.contains(&action), "{action} is not in ACTIONS");
    let (target_user_id, target_email) = match &target {
        Target::Nobody => (None, None),
        Target::Member { member, email, .. } => {
            let email = match email {
                Some(email) => (*email).to_owned(),
                None => member_email(tx, member).await?,
            };
            (Some(member.user_id), Some(email))
        }
        Target::Email(email) => (None, Some((*email).to_owned())),
    };
    let created_at = super::now();
    let entry = NewAuditEvent {
        organization_id,
        actor_id: Some(actor_id),
        action,
        target_user_id,
        target_email: target_email.as_deref(),
        details: (!details.is_null()).then(|| details.to_string()),
        created_at,
    };
    let insert = diesel::insert_into(audit_events::table).values(&entry);
    with_conn!(tx, |c| insert.execute(c).await)?;
    let change = Change {
        organization_id,
        actor_id,
        action,
        target: &target,
        target_email: target_email.as_deref(),
        details: &details,
        at: created_at,
    };
    webhooks::enqueue(tx, &change).await
}

/// A recorded change, as webhooks describe it.
pub struct Change<'a> {
    pub organization_id: i64,
    pub actor_id: i64,
    pub action: &'static str,
    pub target: &'a Target<'a>,
    pub target_email: Option<&'a str>,
    pub details: &'a Value,
    pub at: NaiveDateTime,
}

/// The email of a member's user, for the audit row that names them.
async fn member_email(tx: &mut Conn<'_>, member: &Membership) -> Result<String, DomainError> {
    let query = users::table.find(member.user_id).select(users::email);
    Ok(with_conn!(tx, |c| query.first(c).await)?)
}

/// One page of an organization's audit log, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    page: &PageArgs,
) -> Result<Page<AuditEvent>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = audit_events::table
            .filter(audit_events::organization_id.eq(organization_id))
            .select(AuditEvent::as_select())
            .into_boxed();
        id_window!(query, audit_events::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |event| event.id))
}

pub async fn count(conn: &mut Conn<'_>, organization_id: i64) -> Result<i64, DomainError> {
    let query = audit_events::table
        .filter(audit_events::organization_id.eq(organization_id))
        .count();
    Ok(with_conn!(conn, |c| query.get_result(c).await)?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<AuditEvent>, DomainError> {
    let query = audit_events::table.filter(audit_events::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(AuditEvent::as_select())
        .load(c)
        .await)?)
}
