//! The one place a domain error becomes a GraphQL error.

use async_graphql::{ErrorExtensions, ServerError};

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
            DomainError::BadField { field, message } => {
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "BAD_USER_INPUT");
                    e.set("field", field);
                });
            }
            DomainError::LimitExceeded(message) => ("LIMIT_EXCEEDED", message),
            DomainError::ShortOfCredits { message, available } => {
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "LIMIT_EXCEEDED");
                    e.set("available", available);
                });
            }
            DomainError::TooManyAttempts { retry_after } => {
                // Rounded up: a client that waits this long is let in.
                let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let message = format!("too many attempts: try again in {seconds} s");
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "LIMIT_EXCEEDED");
                    e.set("retryAfter", seconds);
                });
            }
            DomainError::CursorExpired => {
                let message = "the events after this cursor are no longer kept: \
                               refetch, then subscribe without `after`";
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "BAD_USER_INPUT");
                    e.set("reason", "CURSOR_EXPIRED");
                });
            }
            DomainError::Unavailable(outage) => {
                outage.log();
                let message = format!(
                    "the service is unavailable for a moment: retry in {RETRY_UNAVAILABLE_AFTER} s"
                );
                return async_graphql::Error::new(message).extend_with(|_, e| {
                    e.set("code", "SERVICE_UNAVAILABLE");
                    e.set("retryAfter", RETRY_UNAVAILABLE_AFTER);
                });
            }
            DomainError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                ("INTERNAL_SERVER_ERROR", "internal server error".to_owned())
            }
        };
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
    }
}

/// Seconds a client is asked to wait before it retries during an outage:
/// long enough not to hammer a database that is restarting, short enough
/// that a client is back soon after it is.
pub const RETRY_UNAVAILABLE_AFTER: u64 = 2;

/// The error for a request that needs a session and has none.
pub fn unauthenticated() -> async_graphql::Error {
    DomainError::Unauthenticated("sign in first: send Authorization: Bearer <token>").into()
}

/// An error about the request as a whole, which has no place in the query
/// text to point at.
pub fn request_error(error: async_graphql::Error) -> async_graphql::ServerError {
    let mut error = error.into_server_error(Default::default());
    error.locations.clear();
    error
}

/// A request refused for exceeding one of the server's limits.
pub fn limit_exceeded(message: String) -> async_graphql::ServerError {
    request_error(
        async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "LIMIT_EXCEEDED")),
    )
}

/// async-graphql leaves its own errors (a query that does not parse or
/// validate, an argument of the wrong type) without a code; they are the
/// client's, BAD_USER_INPUT, as the contract wants every error coded.
pub fn code_uncoded(errors: &mut [ServerError]) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
}
