//! Credit requests: a member asks the organization for credits; a holder of
//! UPDATE_MEMBERS approves (the amount asked, or less, is distributed from
//! the pool in the same transaction) or declines; the member may cancel.
//! A member has at most one PENDING request, which the database says too
//! (a partial unique index), so two asks at the same moment cannot both be
//! pending.
//!
//! Every operation locks the member first, then changes the request only if
//! it is still PENDING: a decision, a cancellation and a removal (which
//! cancels) meet in one order, and exactly one of them ends the request.

use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::spending::checked_description;
use super::{EntryKind, move_and_record, positive};
use crate::db::schema::credit_requests;
use crate::db::{Conn, Db, with_conn};
use crate::domain::members::{self, Membership};
use crate::domain::pagination::{Page, PageArgs, id_window};
use crate::domain::recorder::{self, Action, Actor, Change, Target};
use crate::domain::text_enum::text_enum;
use crate::domain::{DomainError, Permission, access, now};
use crate::ids::{self, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum RequestStatus {
    Pending,
    Approved,
    Declined,
    Cancelled,
}

text_enum!(RequestStatus {
    Pending = "pending",
    Approved = "approved",
    Declined = "declined",
    Cancelled = "cancelled",
});

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credit_requests)]
pub struct CreditRequest {
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub amount: i32,
    pub reason: Option<String>,
    pub status: RequestStatus,
    /// What was distributed on approval; may be less than asked.
    pub approved_amount: Option<i32>,
    /// Who approved, declined or cancelled it (the member, or whoever
    /// removed them).
    pub decided_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = credit_requests)]
struct NewRequest<'a> {
    organization_id: i64,
    user_id: i64,
    amount: i32,
    reason: Option<&'a str>,
    status: RequestStatus,
    created_at: NaiveDateTime,
}

/// What a holder of UPDATE_MEMBERS decides.
#[derive(Debug, Clone, Copy)]
pub enum Decision {
    /// Distribute this much (None: the amount asked).
    Approve(Option<i32>),
    Decline,
}

/// The viewer asks their organization for `amount` credits.
pub async fn request(
    db: &Db,
    actor_id: i64,
    organization_id: i64,
    amount: i32,
    reason: Option<String>,
) -> Result<CreditRequest, DomainError> {
    let amount = positive(amount).map_err(|e| in_field("amount", e))?;
    let reason = reason
        .map(|raw| checked_description("reason", raw))
        .transpose()?
        .flatten();
    db.write(move |tx| {
        async move {
            // Any member asks, for themselves. A SUSPENDED member may not:
            // with suspension, the refusal goes here.
            let mine = members::of_user_in(tx, actor_id, &[organization_id])
                .await?
                .pop()
                .ok_or(DomainError::NotFound("organization"))?;
            // Locked, so that a removal running now either cancels this
            // request or is seen here as the member being gone.
            let member = members::lock(tx, mine.id).await?;
            if let Some(pending) = pending_of(tx, &member).await? {
                return Err(already_pending(&pending));
            }
            let new = NewRequest {
                organization_id,
                user_id: actor_id,
                amount,
                reason: reason.as_deref(),
                status: RequestStatus::Pending,
                created_at: now(),
            };
            // The partial unique index refuses a second pending request
            // that got past the check above (CONFLICT, see DomainError).
            let insert = diesel::insert_into(credit_requests::table).values(&new);
            let request = with_conn!(tx, |c| insert
                .returning(CreditRequest::as_returning())
                .get_result(c)
                .await)?;
            let change = Change::new(organization_id, actor_id, Action::CreditRequestCreated)
                .about(Target::member(&member))
                .details(details(&request));
            recorder::record(tx, change).await?;
            Ok(request)
        }
        .boxed()
    })
    .await
}

/// The member who asked withdraws a PENDING request.
pub async fn cancel(db: &Db, actor_id: i64, request_id: i64) -> Result<CreditRequest, DomainError> {
    db.write(move |tx| {
        async move {
            let request = get(tx, request_id)
                .await?
                .ok_or(DomainError::NotFound("credit request"))?;
            let organization_id = request.organization_id;
            // To someone outside the organization the request does not exist.
            let mine = members::of_user_in(tx, actor_id, &[organization_id])
                .await?
                .pop()
                .ok_or(DomainError::NotFound("credit request"))?;
            if request.user_id != actor_id {
                return Err(DomainError::Forbidden(
                    "only the member who asked may cancel a credit request".into(),
                ));
            }
            let member = members::lock(tx, mine.id).await?;
            let cancelled = end(tx, &request, RequestStatus::Cancelled, None, actor_id).await?;
            let change = Change::new(organization_id, actor_id, Action::CreditRequestCancelled)
                .about(Target::member(&member))
                .details(details(&cancelled));
            recorder::record(tx, change).await?;
            Ok(cancelled)
        }
        .boxed()
    })
    .await
}

/// Approves (distributing from the pool) or declines a PENDING request
/// (UPDATE_MEMBERS).
pub async fn decide(
    db: &Db,
    actor_id: i64,
    request_id: i64,
    decision: Decision,
) -> Result<CreditRequest, DomainError> {
    db.write(move |tx| {
        async move {
            let request = get(tx, request_id)
                .await?
                .ok_or(DomainError::NotFound("credit request"))?;
            let organization_id = request.organization_id;
            access::authorize_on(
                tx,
                organization_id,
                actor_id,
                Permission::UpdateMembers,
                "credit request",
            )
            .await?;
            let approved = match decision {
                Decision::Approve(amount) => Some(approvable(&request, amount)?),
                Decision::Decline => None,
            };
            // A member who has left had their request cancelled then.
            let member = match members::of_user_in(tx, request.user_id, &[organization_id])
                .await?
                .pop()
            {
                Some(member) => members::lock(tx, member.id).await?,
                None => return Err(not_pending(&request)),
            };
            let actor = Actor::User(actor_id);
            match approved {
                Some(amount) => {
                    let approved = end(
                        tx,
                        &request,
                        RequestStatus::Approved,
                        Some(amount),
                        actor_id,
                    )
                    .await?;
                    // Past the pool this is LIMIT_EXCEEDED, and the request
                    // stays PENDING with everything else.
                    let mut details = details(&approved);
                    details["balance"] = json!(member.credits + amount);
                    move_and_record(
                        tx,
                        &member,
                        EntryKind::Distributed,
                        amount,
                        actor,
                        Action::CreditRequestApproved,
                        Some(details),
                    )
                    .await?;
                    Ok(approved)
                }
                None => {
                    let declined =
                        end(tx, &request, RequestStatus::Declined, None, actor_id).await?;
                    let change = Change::new(organization_id, actor, Action::CreditRequestDeclined)
                        .about(Target::member(&member))
                        .details(details(&declined));
                    recorder::record(tx, change).await?;
                    Ok(declined)
                }
            }
        }
        .boxed()
    })
    .await
}

/// What an approval distributes: the amount asked unless it says less.
fn approvable(request: &CreditRequest, amount: Option<i32>) -> Result<i32, DomainError> {
    let amount = positive(amount.unwrap_or(request.amount)).map_err(|e| in_field("amount", e))?;
    if amount > request.amount {
        return Err(DomainError::BadField {
            field: "amount",
            message: format!(
                "an approval distributes at most the {} credits asked, not {amount}",
                request.amount
            ),
        });
    }
    Ok(amount)
}

/// Cancels the PENDING request of a member who is leaving, in the caller's
/// transaction (the member is locked); their removal is the change
/// recorded. The request cancelled, if there was one.
pub(in crate::domain) async fn cancel_pending_of(
    tx: &mut Conn<'_>,
    member: &Membership,
    actor_id: i64,
) -> Result<Option<CreditRequest>, DomainError> {
    let update = diesel::update(credit_requests::table)
        .filter(credit_requests::organization_id.eq(member.organization_id))
        .filter(credit_requests::user_id.eq(member.user_id))
        .filter(credit_requests::status.eq(RequestStatus::Pending))
        .set((
            credit_requests::status.eq(RequestStatus::Cancelled),
            credit_requests::decided_by.eq(actor_id),
            credit_requests::decided_at.eq(now()),
        ));
    Ok(with_conn!(tx, |c| update
        .returning(CreditRequest::as_returning())
        .get_result(c)
        .await
        .optional())?)
}

/// Ends `request` if it is still PENDING; CONFLICT if it is not (someone
/// else ended it first, whatever the interleaving).
async fn end(
    tx: &mut Conn<'_>,
    request: &CreditRequest,
    status: RequestStatus,
    approved_amount: Option<i32>,
    actor_id: i64,
) -> Result<CreditRequest, DomainError> {
    let update = diesel::update(credit_requests::table.find(request.id))
        .filter(credit_requests::status.eq(RequestStatus::Pending))
        .set((
            credit_requests::status.eq(status),
            credit_requests::approved_amount.eq(approved_amount),
            credit_requests::decided_by.eq(actor_id),
            credit_requests::decided_at.eq(now()),
        ));
    let ended = with_conn!(tx, |c| update
        .returning(CreditRequest::as_returning())
        .get_result(c)
        .await
        .optional())?;
    match ended {
        Some(ended) => Ok(ended),
        None => {
            let now_as = get(tx, request.id).await?;
            Err(not_pending(now_as.as_ref().unwrap_or(request)))
        }
    }
}

fn not_pending(request: &CreditRequest) -> DomainError {
    DomainError::Conflict(format!(
        "the credit request is {}, no longer pending",
        request.status.as_str()
    ))
}

fn already_pending(pending: &CreditRequest) -> DomainError {
    DomainError::Conflict(format!(
        "you have a pending credit request already ({}): cancel it or wait for its decision",
        ids::encode(Kind::CreditRequest, pending.id)
    ))
}

fn in_field(field: &'static str, error: DomainError) -> DomainError {
    match error {
        DomainError::BadInput(message) => DomainError::BadField { field, message },
        other => other,
    }
}

/// What the audit row and the webhook's `change` say of a request.
fn details(request: &CreditRequest) -> Value {
    json!({
        "request": ids::encode(Kind::CreditRequest, request.id),
        "amount": request.amount,
        "approvedAmount": request.approved_amount,
        "reason": request.reason,
        "status": request.status.as_str().to_uppercase(),
    })
}

async fn pending_of(
    tx: &mut Conn<'_>,
    member: &Membership,
) -> Result<Option<CreditRequest>, DomainError> {
    let query = credit_requests::table
        .filter(credit_requests::organization_id.eq(member.organization_id))
        .filter(credit_requests::user_id.eq(member.user_id))
        .filter(credit_requests::status.eq(RequestStatus::Pending));
    Ok(with_conn!(tx, |c| query
        .select(CreditRequest::as_select())
        .first(c)
        .await
        .optional())?)
}

pub async fn get(
    conn: &mut Conn<'_>,
    request_id: i64,
) -> Result<Option<CreditRequest>, DomainError> {
    let query = credit_requests::table.find(request_id);
    Ok(with_conn!(conn, |c| query
        .select(CreditRequest::as_select())
        .first(c)
        .await
        .optional())?)
}

/// What a listing of an organization's requests asks for.
#[derive(Debug, Clone, Copy)]
pub struct RequestFilter {
    pub organization_id: i64,
    pub status: Option<RequestStatus>,
}

macro_rules! filtered {
    ($filter:expr) => {{
        let filter = $filter;
        let mut query = credit_requests::table
            .filter(credit_requests::organization_id.eq(filter.organization_id))
            .into_boxed();
        if let Some(status) = filter.status {
            query = query.filter(credit_requests::status.eq(status));
        }
        query
    }};
}

/// One page of an organization's requests, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    filter: RequestFilter,
    page: &PageArgs,
) -> Result<Page<CreditRequest>, DomainError> {
    let window = page.window::<i64>()?;
    let rows = with_conn!(conn, |c| {
        let query = filtered!(filter).select(CreditRequest::as_select());
        id_window!(query, credit_requests::id, window, newest_first = true)
            .load(c)
            .await
    })?;
    Ok(window.page(rows, |request| request.id))
}

pub async fn count(conn: &mut Conn<'_>, filter: RequestFilter) -> Result<i64, DomainError> {
    Ok(with_conn!(conn, |c| filtered!(filter)
        .count()
        .get_result(c)
        .await)?)
}

pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<CreditRequest>, DomainError> {
    let query = credit_requests::table.filter(credit_requests::id.eq_any(ids));
    Ok(with_conn!(conn, |c| query
        .select(CreditRequest::as_select())
        .load(c)
        .await)?)
}
