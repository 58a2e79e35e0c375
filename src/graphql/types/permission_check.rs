use async_graphql::{ID, InputObject, SimpleObject};

use super::{Permission, Role};
use crate::domain::DomainError;
use crate::domain::permission_checks::{Check, CheckResult, Subject};
use crate::graphql::ids::{self, Kind};

/// Give exactly one of userId (orgql's) and subject (the identity provider's sub claim).
#[derive(InputObject)]
pub struct PermissionCheckInput {
    pub organization_id: ID,
    pub user_id: Option<ID>,
    pub subject: Option<String>,
    pub permission: Permission,
}

impl TryFrom<PermissionCheckInput> for Check {
    type Error = DomainError;

    fn try_from(input: PermissionCheckInput) -> Result<Check, DomainError> {
        let subject = match (input.user_id, input.subject) {
            (Some(id), None) => Subject::User(ids::decode(&id, Kind::User)?),
            (None, Some(sub)) => Subject::Provider(sub),
            _ => {
                return Err(DomainError::bad_input(
                    "give exactly one of userId and subject in each check",
                ));
            }
        };
        Ok(Check {
            organization_id: ids::decode(&input.organization_id, Kind::Organization)?,
            subject,
            permission: input.permission.into(),
        })
    }
}

#[derive(SimpleObject)]
pub struct PermissionCheckResult {
    pub organization_id: ID,
    pub user_id: Option<ID>,
    pub subject: Option<String>,
    pub permission: Permission,
    pub allowed: bool,
    /// The user's role in the organization; null when not a member.
    pub role: Option<Role>,
}

impl From<CheckResult> for PermissionCheckResult {
    fn from(result: CheckResult) -> Self {
        let subject = match result.check.subject {
            Subject::Provider(sub) => Some(sub),
            Subject::User(_) => None,
        };
        PermissionCheckResult {
            organization_id: ids::encode(Kind::Organization, result.check.organization_id),
            user_id: result.user_id.map(|id| ids::encode(Kind::User, id)),
            subject,
            permission: result.check.permission.into(),
            allowed: result.allowed,
            role: result.role.map(Into::into),
        }
    }
}
