//! Who is asking. The transport turns a bearer credential into a
//! [`Principal`]; the domain decides what it may do (see `access`).

use chrono::NaiveDateTime;

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user, signed in one of the ways of [`Credential`].
    User {
        user_id: i64,
        credential: Credential,
    },
    /// One of the product's services, by a key of one organization.
    ServiceKey { key_id: i64, organization_id: i64 },
}

/// A credential that stopped working: the connections it signed in close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Session(i64),
    ServiceKey(i64),
}

/// How a user signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// With one of orgql's own sessions (a password account's log-in).
    Session(SessionRef),
    /// With a token of the product's identity provider, good until it expires.
    ProviderToken { expires_at: NaiveDateTime },
}

/// The session a principal signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef {
    pub id: i64,
    pub expires_at: NaiveDateTime,
}

impl Principal {
    /// The user behind the principal, if it is one.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User { user_id, .. } => Some(*user_id),
            Principal::ServiceKey { .. } => None,
        }
    }

    /// The user a change is made by: only a user may change anything.
    pub fn acting_user(&self) -> Result<i64, DomainError> {
        match self {
            Principal::User { user_id, .. } => Ok(*user_id),
            Principal::ServiceKey { .. } => Err(read_only()),
        }
    }

    /// The orgql session the principal signed in with.
    pub fn session(&self) -> Result<SessionRef, DomainError> {
        match self {
            Principal::User {
                credential: Credential::Session(session),
                ..
            } => Ok(*session),
            Principal::User {
                credential: Credential::ProviderToken { .. },
                ..
            } => Err(DomainError::bad_input(
                "this request is signed in with the identity provider's token, and orgql keeps \
                 no session for it: sign out at the provider",
            )),
            Principal::ServiceKey { .. } => Err(read_only()),
        }
    }

    /// When the credential stops working: live connections close then.
    /// None: a service key, which works until it is revoked.
    pub fn expires_at(&self) -> Option<NaiveDateTime> {
        match self {
            Principal::User { credential, .. } => Some(match credential {
                Credential::Session(session) => session.expires_at,
                Credential::ProviderToken { expires_at } => *expires_at,
            }),
            Principal::ServiceKey { .. } => None,
        }
    }

    /// Whether `ended` is the credential this principal signed in with.
    pub fn ended_by(&self, ended: Ended) -> bool {
        match (self, ended) {
            (
                Principal::User {
                    credential: Credential::Session(session),
                    ..
                },
                Ended::Session(id),
            ) => session.id == id,
            (Principal::ServiceKey { key_id, .. }, Ended::ServiceKey(id)) => *key_id == id,
            _ => false,
        }
    }
}

/// What a service key is told when it tries to change something.
fn read_only() -> DomainError {
    DomainError::Forbidden(
        "a service key reads, checks permissions and watches; it changes nothing".into(),
    )
}
