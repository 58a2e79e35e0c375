//! Batched permission checks for the product's services: does this user
//! hold this permission in this organization, answered from the database
//! as of the request (a role change committed before it is always seen), in
//! a constant number of statements however many checks are asked.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

use super::identities;
use super::members::Membership;
use super::principal::Principal;
use super::{DomainError, Permission, Role};
use crate::db::schema::memberships;
use crate::db::{Db, with_conn};

/// Most checks in one call.
pub const MAX_CHECKS: usize = 100;

/// Whom a check is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An orgql user id.
    User(i64),
    /// The identity provider's `sub`.
    Provider(String),
}

#[derive(Debug, Clone)]
pub struct Check {
    pub organization_id: i64,
    pub subject: Subject,
    pub permission: Permission,
}

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub check: Check,
    /// The user the check was about; None for a subject orgql does not know.
    pub user_id: Option<i64>,
    pub allowed: bool,
    /// The user's role in the organization; None when not a member.
    pub role: Option<Role>,
}

/// Answers `checks` in the order asked. A signed-in user may check only
/// themselves (in any organization); a service key only its own
/// organization. A check outside the caller's reach fails the whole call.
pub async fn check(
    db: &Db,
    principal: &Principal,
    provider_issuer: Option<&str>,
    checks: Vec<Check>,
) -> Result<Vec<CheckResult>, DomainError> {
    if checks.len() > MAX_CHECKS {
        return Err(DomainError::LimitExceeded(format!(
            "at most {MAX_CHECKS} checks per call, got {}",
            checks.len()
        )));
    }
    if let Principal::ServiceKey {
        organization_id, ..
    } = principal
        && checks.iter().any(|c| c.organization_id != *organization_id)
    {
        return Err(DomainError::Forbidden(
            "a service key checks permissions in its own organization only".into(),
        ));
    }
    let issuer = provider_issuer.map(str::to_owned);
    let principal = *principal;
    db.read(move |c| {
        async move {
            // Subjects first: one statement for all of them.
            let subjects: Vec<String> = checks
                .iter()
                .filter_map(|check| match &check.subject {
                    Subject::Provider(sub) => Some(sub.clone()),
                    Subject::User(_) => None,
                })
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let known: HashMap<String, i64> = match (&issuer, subjects.is_empty()) {
                (Some(issuer), false) => identities::users_of_subjects(c, issuer, &subjects)
                    .await?
                    .into_iter()
                    .collect(),
                _ => HashMap::new(),
            };
            let user_of = |subject: &Subject| match subject {
                Subject::User(id) => Some(*id),
                Subject::Provider(sub) => known.get(sub).copied(),
            };
            if let Principal::User { user_id: own, .. } = principal
                && checks
                    .iter()
                    .any(|check| user_of(&check.subject) != Some(own))
            {
                return Err(DomainError::Forbidden(
                    "a signed-in user may check only their own permissions".into(),
                ));
            }
            // Then every membership the checks name: one statement.
            let users: HashSet<i64> = checks
                .iter()
                .filter_map(|ch| user_of(&ch.subject))
                .collect();
            let organizations: HashSet<i64> = checks.iter().map(|ch| ch.organization_id).collect();
            let query = memberships::table
                .filter(memberships::user_id.eq_any(users.into_iter().collect::<Vec<_>>()))
                .filter(
                    memberships::organization_id
                        .eq_any(organizations.into_iter().collect::<Vec<_>>()),
                );
            let found: Vec<Membership> =
                with_conn!(c, |c| query.select(Membership::as_select()).load(c).await)?;
            let roles: HashMap<(i64, i64), Role> = found
                .into_iter()
                .map(|m| ((m.organization_id, m.user_id), m.role))
                .collect();
            Ok(checks
                .into_iter()
                .map(|check| {
                    let user_id = user_of(&check.subject);
                    let role = user_id.and_then(|user| roles.get(&(check.organization_id, user)));
                    CheckResult {
                        allowed: role.is_some_and(|role| role.can(check.permission)),
                        role: role.copied(),
                        user_id,
                        check,
                    }
                })
                .collect())
        }
        .boxed()
    })
    .await
}
