use super::Permission;
use crate::db::DbError;
use crate::db::outage::{self, Outage, OutageKind};

/// Everything a domain operation can refuse, in the domain's own terms. The
/// GraphQL layer maps each variant to a message and `extensions.code` once.
///
/// It deliberately does not implement `Display`: a resolver cannot turn it
/// into a GraphQL error by accident, only through that one mapping.
#[derive(Debug)]
pub enum DomainError {
    /// No valid session, or credentials that do not match.
    Unauthenticated(&'static str),
    /// The viewer is a member but their role lacks this permission.
    MissingPermission(Permission),
    /// A rule other than a permission forbids it (e.g. someone else's invitation).
    Forbidden(String),
    /// The thing does not exist, or the viewer may not know it exists.
    NotFound(&'static str),
    Conflict(String),
    BadInput(String),
    /// Bad input in one field of the input, named as the schema names it,
    /// so that a form can point at it.
    BadField {
        field: &'static str,
        message: String,
    },
    LimitExceeded(String),
    /// Fewer credits available than a movement needs.
    ShortOfCredits {
        message: String,
        available: i32,
    },
    /// Too many attempts at a secret: try again after `retry_after`.
    TooManyAttempts {
        retry_after: std::time::Duration,
    },
    /// A cursor of live events older than the events kept.
    CursorExpired,
    /// The database is out of reach for now: the client should retry shortly.
    Unavailable(Outage),
    /// A fault of ours: logged in full, never shown to the client.
    Internal(anyhow::Error),
}

impl DomainError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        DomainError::BadInput(message.into())
    }

    pub fn short_of_credits(message: String, available: i32) -> Self {
        DomainError::ShortOfCredits { message, available }
    }

    /// Logs why background work (a worker's claim, a prune) failed, in one
    /// line: an outage through its throttle (see `db::outage`), anything
    /// else with its causes and never a backtrace.
    pub fn log_background(&self, what_failed: &str) {
        match self {
            DomainError::Unavailable(outage) => outage.log(),
            DomainError::Internal(error) => {
                tracing::warn!(error = format!("{error:#}"), "{what_failed}");
            }
            other => tracing::warn!(error = ?other, "{what_failed}"),
        }
    }
}

/// Unique constraints whose violation is the client's conflict, not our
/// fault: PostgreSQL names the index, SQLite names the columns.
const UNIQUE_VIOLATIONS: &[(&str, &str, &str)] = &[
    (
        "users_email_key",
        "users.email",
        "an account with this email already exists",
    ),
    (
        "users_password_email_key",
        "users.email",
        "an account with this email already exists",
    ),
    (
        "organizations_slug_key",
        "organizations.slug",
        "this slug is taken",
    ),
    (
        "identities_issuer_subject_key",
        "identities.issuer, identities.subject",
        "this identity is already known",
    ),
    (
        "memberships_organization_user_key",
        "memberships.organization_id, memberships.user_id",
        "this user is already a member",
    ),
    (
        "credit_requests_one_pending_key",
        "credit_requests.organization_id, credit_requests.user_id",
        "you have a pending credit request already: cancel it or wait for its decision",
    ),
];

impl From<DbError> for DomainError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Query(error) => error.into(),
            DbError::Pool(detail) => DomainError::Unavailable(Outage {
                kind: OutageKind::NoConnection,
                detail,
            }),
            other => DomainError::Internal(other.into()),
        }
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        if let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = &error {
            let known = UNIQUE_VIOLATIONS.iter().find(|(index, columns, _)| {
                info.constraint_name() == Some(index) || info.message().ends_with(columns)
            });
            if let Some((_, _, message)) = known {
                return DomainError::Conflict((*message).to_owned());
            }
        }
        if let Some(outage) = outage::of_query(&error) {
            return DomainError::Unavailable(outage);
        }
        if let Error::NotFound = error {
            return DomainError::Internal(anyhow::anyhow!("a row the operation relies on is gone"));
        }
        DomainError::Internal(error.into())
    }
}
