//! The one place a domain error becomes a GraphQL error.

use async_graphql::ErrorExtensions;

use crate::domain::DomainError;

impl From<DomainError> for async_graphql::Error {
    fn from(error: DomainError) -> Self {
        let (code, message) = match error {
            DomainError::Unauthenticated(message) => ("UNAUTHENTICATED", message.to_owned()),
            DomainError::MissingPermission(permission) => {
                let message = format!("this requires the {} permission", permission.name());
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "FORBIDDEN");
                    e.set("permission", permission.name());
                });
            }
            DomainError::Forbidden(message) => ("FORBIDDEN", message),
            DomainError::NotFound(what) => ("NOT_FOUND", format!("{what} not found")),
            DomainError::Conflict(message) => ("CONFLICT", message),
            DomainError::BadInput(message) => ("BAD_USER_INPUT", message),
            DomainError::LimitExceeded(message) => ("LIMIT_EXCEEDED", message),
            DomainError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                ("INTERNAL_SERVER_ERROR", "internal server error".to_owned())
            }
        };
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
    }
}

/// The error for a request that needs a session and has none.
pub fn unauthenticated() -> async_graphql::Error {
    DomainError::Unauthenticated("sign in first: send Authorization: Bearer <token>").into()
}
