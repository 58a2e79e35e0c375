//! Spending by the product's services: at once (`spend`), or around work
//! whose cost is known only afterwards (`hold`, then `settle` or `release`;
//! orgql expires what is left open). Only a service key of the organization
//! spends, and every call carries an idempotency key: a repeat of the same
//! input returns what the first call made and changes nothing, on any
//! instance, because the key is claimed in the call's own transaction.

use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::holds::{self, CreditHold, HoldStatus, NewHold};
use super::{About, EntryKind, LedgerEntry, Moved, apply, ledger, positive};
use crate::db::schema::credit_spending_keys;
use crate::db::{self, Conn, Db, with_conn};
use crate::domain::live_events::{MembershipEvent, MembershipEventKind};
use crate::domain::members::{self, Membership};
use crate::domain::permission_checks::Subject;
use crate::domain::principal::Principal;
use crate::domain::recorder::{self, Action, Actor, Change, Target};
use crate::domain::{DomainError, identities, now, text};
use crate::ids::{self, Kind};

/// The longest idempotency key.
pub const MAX_KEY_LENGTH: usize = 200;
/// The longest description of a spend or a hold.
pub const MAX_DESCRIPTION_LENGTH: usize = 500;
/// How long a hold may stay open, in seconds.
pub const HOLD_SECONDS: std::ops::RangeInclusive<i64> = 60..=604_800;
/// How long a hold stays open unless the call says.
pub const DEFAULT_HOLD_SECONDS: i32 = 3600;
/// The queue name that wakes the expiry worker when a hold is placed.
pub const HOLDS_PLACED: &str = "credit_holds";

/// A spend or a hold as a service asked for it.
#[derive(Debug, Clone)]
pub struct Spending {
    pub organization_id: i64,
    pub member: Subject,
    pub amount: i32,
    pub idempotency_key: String,
    pub description: Option<String>,
}

/// A spend as it committed: its entry, and the member as they are now.
#[derive(Debug, Clone)]
pub struct Spent {
    pub entry: LedgerEntry,
    pub member: Membership,
}

/// A hold as a call left it, and its member as they are now (None when
/// they have been removed since).
#[derive(Debug, Clone)]
pub struct HoldOutcome {
    pub hold: CreditHold,
    pub member: Option<Membership>,
}

/// Spends a member's available credits at once.
pub async fn spend(
    db: &Db,
    principal: &Principal,
    issuer: Option<&str>,
    spending: Spending,
) -> Result<Spent, DomainError> {
    let key_id = spender(principal, spending.organization_id)?;
    // The input as given: a repeat must match it exactly.
    let request = fingerprint("spend", &spending, None);
    let spending = checked(spending)?;
    let issuer = issuer.map(str::to_owned);
    db.write(move |tx| {
        async move {
            let organization_id = spending.organization_id;
            let key = spending.idempotency_key.as_str();
            if let Claim::Repeat(entry) = claim_key(tx, organization_id, key, &request).await? {
                let member = member_now(tx, organization_id, entry.user_id)
                    .await?
                    .ok_or_else(|| {
                        DomainError::Conflict(
                            "this spend was made, and its member has left the organization since"
                                .into(),
                        )
                    })?;
                return Ok(Spent { entry, member });
            }
            let user_id = user_named(tx, &spending.member, issuer.as_deref()).await?;
            let actor = Actor::ServiceKey(key_id);
            let about = About {
                hold_id: None,
                idempotency_key: Some(key),
                description: spending.description.as_deref(),
            };
            let moved = apply(
                tx,
                organization_id,
                Some(user_id),
                EntryKind::Spent,
                spending.amount,
                actor,
                about,
            )
            .await?;
            let member = moved.member.clone().expect("a member's movement");
            tell(
                tx,
                actor,
                Action::CreditsSpent,
                &member,
                details(&moved, key, None),
            )
            .await?;
            Ok(Spent {
                entry: moved.entry,
                member,
            })
        }
        .boxed()
    })
    .await
}

/// Holds a member's available credits for `expires_in` seconds.
pub async fn hold(
    db: &Db,
    principal: &Principal,
    issuer: Option<&str>,
    spending: Spending,
    expires_in: i64,
) -> Result<HoldOutcome, DomainError> {
    let key_id = spender(principal, spending.organization_id)?;
    let request = fingerprint(
        "hold",
        &spending,
        Some(json!({ "expiresInSeconds": expires_in })),
    );
    let spending = checked(spending)?;
    if !HOLD_SECONDS.contains(&expires_in) {
        return Err(DomainError::BadField {
            field: "expiresInSeconds",
            message: format!(
                "a hold lasts {} to {} seconds, got {expires_in}",
                HOLD_SECONDS.start(),
                HOLD_SECONDS.end()
            ),
        });
    }
    let issuer = issuer.map(str::to_owned);
    db.write(move |tx| {
        async move {
            let organization_id = spending.organization_id;
            let key = spending.idempotency_key.as_str();
            if let Claim::Repeat(entry) = claim_key(tx, organization_id, key, &request).await? {
                return replay_hold(tx, entry).await;
            }
            let user_id = user_named(tx, &spending.member, issuer.as_deref()).await?;
            let actor = Actor::ServiceKey(key_id);
            let at = now();
            let new = NewHold {
                organization_id,
                user_id,
                amount: spending.amount,
                description: spending.description.as_deref(),
                idempotency_key: key,
                service_key_id: Some(key_id),
                created_at: at,
                expires_at: at + Duration::seconds(expires_in),
            };
            // A refusal (no such member, too few credits) rolls the hold
            // back with the rest.
            let hold = holds::insert(tx, new).await?;
            let about = About {
                hold_id: Some(hold.id),
                idempotency_key: Some(key),
                description: spending.description.as_deref(),
            };
            let moved = apply(
                tx,
                organization_id,
                Some(user_id),
                EntryKind::Held,
                spending.amount,
                actor,
                about,
            )
            .await?;
            db::wake_on_commit(tx, HOLDS_PLACED)?;
            let member = moved.member.clone().expect("a member's movement");
            tell(
                tx,
                actor,
                Action::CreditsHeld,
                &member,
                details(&moved, key, Some(&hold)),
            )
            .await?;
            Ok(HoldOutcome {
                hold,
                member: Some(member),
            })
        }
        .boxed()
    })
    .await
}

/// Ends a hold with what the work used: SETTLED for it, RELEASED for the
/// rest.
pub async fn settle(
    db: &Db,
    principal: &Principal,
    hold_id: i64,
    amount: i32,
    idempotency_key: String,
) -> Result<HoldOutcome, DomainError> {
    let key = checked_key(idempotency_key)?;
    if amount < 0 {
        return Err(DomainError::BadField {
            field: "amount",
            message: format!("the amount used must be 0 or more, got {amount}"),
        });
    }
    let request = json!({ "op": "settle", "holdId": hold_id, "amount": amount }).to_string();
    end_hold(db, principal, hold_id, key, request, Ending::Settle(amount)).await
}

/// Ends a hold without spending any of it.
pub async fn release(
    db: &Db,
    principal: &Principal,
    hold_id: i64,
    idempotency_key: String,
) -> Result<HoldOutcome, DomainError> {
    let key = checked_key(idempotency_key)?;
    let request = json!({ "op": "release", "holdId": hold_id }).to_string();
    end_hold(db, principal, hold_id, key, request, Ending::Release).await
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Settle(i32),
    Release,
    Expire,
}

async fn end_hold(
    db: &Db,
    principal: &Principal,
    hold_id: i64,
    key: String,
    request: String,
    ending: Ending,
) -> Result<HoldOutcome, DomainError> {
    let Principal::ServiceKey {
        key_id,
        organization_id: own,
    } = *principal
    else {
        return Err(not_a_spender());
    };
    db.write(move |tx| {
        async move {
            // A hold of another organization does not exist for this key.
            let Some(hold) = holds::get(tx, hold_id)
                .await?
                .filter(|h| h.organization_id == own)
            else {
                return Err(DomainError::NotFound("credit hold"));
            };
            if let Claim::Repeat(entry) =
                claim_key(tx, hold.organization_id, &key, &request).await?
            {
                return replay_hold(tx, entry).await;
            }
            end_locked(tx, hold, Actor::ServiceKey(key_id), Some(&key), ending).await
        }
        .boxed()
    })
    .await
}

/// Ends `hold` in the caller's transaction: the member is locked first (the
/// lock order of every operation), then the hold ends only if it is still
/// HELD, then its credits move.
async fn end_locked(
    tx: &mut Conn<'_>,
    hold: CreditHold,
    actor: Actor,
    key: Option<&str>,
    ending: Ending,
) -> Result<HoldOutcome, DomainError> {
    let organization_id = hold.organization_id;
    let member = match members::of_user_in(tx, hold.user_id, &[organization_id])
        .await?
        .pop()
    {
        Some(member) => Some(members::lock(tx, member.id).await?),
        None => None,
    };
    let (status, used) = match ending {
        Ending::Settle(used) if used > hold.amount => {
            return Err(DomainError::BadField {
                field: "amount",
                message: format!(
                    "the work cannot have used {used} credits of a hold of {}",
                    hold.amount
                ),
            });
        }
        Ending::Settle(used) => (HoldStatus::Settled, Some(used)),
        Ending::Release => (HoldStatus::Released, None),
        Ending::Expire => (HoldStatus::Expired, None),
    };
    let (Some(member), Some(ended)) = (member, holds::end(tx, hold.id, status, used).await?) else {
        let now_status = holds::get(tx, hold.id)
            .await?
            .map_or("gone", |h| h.status.as_str());
        return Err(DomainError::Conflict(format!(
            "the hold is {now_status}, no longer held"
        )));
    };
    let about = About {
        hold_id: Some(hold.id),
        idempotency_key: key,
        description: hold.description.as_deref(),
    };
    let used = used.unwrap_or(0);
    let mut last: Option<Moved> = None;
    let mut member_now = member;
    for (kind, amount) in [
        (EntryKind::Settled, used),
        (EntryKind::Released, hold.amount - used),
    ] {
        if amount > 0 {
            let moved = apply(
                tx,
                organization_id,
                Some(member_now.user_id),
                kind,
                amount,
                actor,
                about,
            )
            .await?;
            member_now = moved.member.clone().expect("a member's movement");
            last = Some(moved);
        }
    }
    let moved = last.expect("a hold holds at least one credit");
    let action = match ending {
        Ending::Settle(_) => Action::CreditsSettled,
        Ending::Release => Action::CreditsReleased,
        Ending::Expire => Action::CreditsExpired,
    };
    let mut details = details(&moved, key.unwrap_or_default(), Some(&ended));
    if let Ending::Settle(_) = ending {
        details["settled"] = json!(used);
        details["released"] = json!(hold.amount - used);
    }
    tell(tx, actor, action, &member_now, details).await?;
    Ok(HoldOutcome {
        hold: ended,
        member: Some(member_now),
    })
}

/// Releases every open hold of a member who is leaving, oldest first, in
/// the caller's transaction (their removal then returns their credits).
pub(in crate::domain) async fn release_all_of(
    tx: &mut Conn<'_>,
    member: &Membership,
    actor: Actor,
) -> Result<Membership, DomainError> {
    let mut member = member.clone();
    for hold in holds::open_of(tx, member.organization_id, member.user_id).await? {
        holds::end(tx, hold.id, HoldStatus::Released, None).await?;
        let about = About {
            hold_id: Some(hold.id),
            idempotency_key: None,
            description: hold.description.as_deref(),
        };
        let moved = apply(
            tx,
            member.organization_id,
            Some(member.user_id),
            EntryKind::Released,
            hold.amount,
            actor,
            about,
        )
        .await?;
        member = moved.member.expect("a member's movement");
    }
    Ok(member)
}

/// Expires up to `limit` holds past their `expiresAt`; returns how many.
/// Every instance runs this: a hold ends only if it is still HELD, so two
/// instances never expire one twice.
pub async fn expire_due(db: &Db, limit: i64) -> Result<usize, DomainError> {
    let due = db
        .read(move |c| async move { holds::due(c, now(), limit).await }.boxed())
        .await?;
    let mut expired = 0;
    for hold in due {
        let outcome = db
            .write(move |tx| {
                async move {
                    match end_locked(tx, hold, Actor::Orgql, None, Ending::Expire).await {
                        // Settled, released or expired by someone else meanwhile.
                        Err(DomainError::Conflict(_)) => Ok(false),
                        other => other.map(|_| true),
                    }
                }
                .boxed()
            })
            .await?;
        expired += usize::from(outcome);
    }
    Ok(expired)
}

/// The key of the service that may spend in `organization_id`.
fn spender(principal: &Principal, organization_id: i64) -> Result<i64, DomainError> {
    match *principal {
        Principal::ServiceKey {
            key_id,
            organization_id: own,
        } if own == organization_id => Ok(key_id),
        Principal::ServiceKey { .. } => Err(DomainError::NotFound("organization")),
        Principal::User { .. } => Err(not_a_spender()),
    }
}

fn not_a_spender() -> DomainError {
    DomainError::Forbidden(
        "only a service key of the organization spends its members' credits".into(),
    )
}

fn checked(spending: Spending) -> Result<Spending, DomainError> {
    let amount = positive(spending.amount).map_err(|e| match e {
        DomainError::BadInput(message) => DomainError::BadField {
            field: "amount",
            message,
        },
        other => other,
    })?;
    let description = spending
        .description
        .map(|raw| checked_description("description", raw))
        .transpose()?
        .flatten();
    Ok(Spending {
        amount,
        idempotency_key: checked_key(spending.idempotency_key)?,
        description,
        ..spending
    })
}

fn checked_key(key: String) -> Result<String, DomainError> {
    let refuse = |message: String| DomainError::BadField {
        field: "idempotencyKey",
        message,
    };
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(refuse(format!(
            "an idempotency key is 1 to {MAX_KEY_LENGTH} characters, got {}",
            key.chars().count()
        )));
    }
    match key.chars().find(|c| !(' '..='~').contains(c)) {
        Some(c) => Err(refuse(format!(
            "an idempotency key is printable ASCII; it contains U+{:04X}",
            u32::from(c)
        ))),
        None => Ok(key),
    }
}

/// A free-text `field` of a credit call (a spend's description, a
/// request's reason): one line of visible text, at most
/// [`MAX_DESCRIPTION_LENGTH`] characters, trimmed; None when blank.
pub(super) fn checked_description(
    field: &'static str,
    raw: String,
) -> Result<Option<String>, DomainError> {
    let refuse = |message: String| DomainError::BadField { field, message };
    if let Some((c, kind)) = text::stray_in_line(&raw) {
        return Err(refuse(format!(
            "the {field} contains U+{:04X} ({kind}): it is one line of visible text",
            u32::from(c)
        )));
    }
    let description = raw.trim();
    match description.chars().count() {
        0 => Ok(None),
        1..=MAX_DESCRIPTION_LENGTH => Ok(Some(description.to_owned())),
        _ => Err(refuse(format!(
            "the {field} must be at most {MAX_DESCRIPTION_LENGTH} characters"
        ))),
    }
}

/// The input a key stands for, every field as given (before the
/// description is trimmed).
fn fingerprint(op: &str, spending: &Spending, extra: Option<Value>) -> String {
    let (user_id, subject) = match &spending.member {
        Subject::User(id) => (Some(*id), None),
        Subject::Provider(sub) => (None, Some(sub.as_str())),
    };
    json!({
        "op": op,
        "userId": user_id,
        "subject": subject,
        "amount": spending.amount,
        "description": spending.description,
        "extra": extra,
    })
    .to_string()
}

/// What claiming a call's key found.
enum Claim {
    /// The key is new, and this transaction now holds it.
    Fresh,
    /// An earlier call with the same key and input made this, the first
    /// ledger entry that carries the key.
    Repeat(LedgerEntry),
}

/// Claims `key` for `request` in the organization. On PostgreSQL a
/// concurrent claim of the same key waits here until the first commits (its
/// key and entries are then seen) or rolls back (the key is then this one's).
async fn claim_key(
    tx: &mut Conn<'_>,
    organization_id: i64,
    key: &str,
    request: &str,
) -> Result<Claim, DomainError> {
    let insert = diesel::insert_into(credit_spending_keys::table)
        .values((
            credit_spending_keys::organization_id.eq(organization_id),
            credit_spending_keys::idempotency_key.eq(key),
            credit_spending_keys::request.eq(request),
            credit_spending_keys::created_at.eq(now()),
        ))
        .on_conflict_do_nothing();
    if with_conn!(tx, |c| insert.execute(c).await)? == 1 {
        return Ok(Claim::Fresh);
    }
    let query = credit_spending_keys::table
        .find((organization_id, key))
        .select(credit_spending_keys::request);
    let first_request: String = with_conn!(tx, |c| query.first(c).await)?;
    if first_request != request {
        return Err(DomainError::Conflict(
            "this idempotency key was used for another request".into(),
        ));
    }
    let entry = ledger::first_with_key(tx, organization_id, key).await?;
    entry.map(Claim::Repeat).ok_or_else(|| {
        DomainError::Internal(anyhow::anyhow!("a spending key without its ledger entry"))
    })
}

async fn replay_hold(tx: &mut Conn<'_>, entry: LedgerEntry) -> Result<HoldOutcome, DomainError> {
    let hold = match entry.hold_id {
        Some(id) => holds::get(tx, id).await?,
        None => None,
    }
    .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("a hold's key without its hold")))?;
    let member = member_now(tx, hold.organization_id, Some(hold.user_id)).await?;
    Ok(HoldOutcome { hold, member })
}

async fn member_now(
    tx: &mut Conn<'_>,
    organization_id: i64,
    user_id: Option<i64>,
) -> Result<Option<Membership>, DomainError> {
    match user_id {
        Some(user_id) => Ok(members::of_user_in(tx, user_id, &[organization_id])
            .await?
            .pop()),
        None => Ok(None),
    }
}

/// The user a call names, by orgql's user id or the provider's subject
/// (whether they are a member, the movement finds).
async fn user_named(
    tx: &mut Conn<'_>,
    whom: &Subject,
    issuer: Option<&str>,
) -> Result<i64, DomainError> {
    match whom {
        Subject::User(id) => Ok(*id),
        Subject::Provider(subject) => {
            let Some(issuer) = issuer else {
                return Err(DomainError::BadField {
                    field: "subject",
                    message: "orgql has no identity provider configured: name the member by userId"
                        .into(),
                });
            };
            identities::users_of_subjects(tx, issuer, std::slice::from_ref(subject))
                .await?
                .pop()
                .map(|(_, id)| id)
                .ok_or(DomainError::NotFound("member"))
        }
    }
}

/// What a movement's audit row and webhook say: the amounts, the hold, and
/// the balances after.
fn details(moved: &Moved, key: &str, hold: Option<&CreditHold>) -> Value {
    let member = moved.member.as_ref().expect("a member's movement");
    json!({
        "amount": hold.map_or(moved.entry.amount, |h| h.amount),
        "idempotencyKey": (!key.is_empty()).then_some(key),
        "description": hold.map_or(moved.entry.description.as_deref(), |h| h.description.as_deref()),
        "hold": hold.map(|h| json!({
            "id": ids::encode(Kind::CreditHold, h.id),
            "amount": h.amount,
            "status": h.status.as_str().to_uppercase(),
            "expiresAt": h.expires_at.and_utc().to_rfc3339(),
        })),
        "balance": {
            "credits": member.credits,
            "held": member.credits_held,
            "available": member.credits_available(),
            "spent": member.credits_spent,
        },
        "pool": { "available": moved.organization.credits_available },
    })
}

/// Records the change and its CREDITS_CHANGED event.
async fn tell(
    tx: &mut Conn<'_>,
    actor: Actor,
    action: Action,
    member: &Membership,
    details: Value,
) -> Result<(), DomainError> {
    let event = MembershipEvent::about(MembershipEventKind::CreditsChanged, member, actor);
    let change = Change::new(member.organization_id, actor, action)
        .about(Target::member(member))
        .details(details)
        .live(event);
    recorder::record(tx, change).await
}
