//! Requests refused before they reach the schema, and the error codes of
//! answers, as both transports report them.

use async_graphql::ErrorExtensions;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::graphql::request_error;

/// A request refused before it reaches the schema: an HTTP status and a
/// GraphQL error that says why.
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    /// Refused for what the client sent.
    pub fn bad_request(status: StatusCode, message: String) -> Refusal {
        Refusal {
            status,
            code: "BAD_USER_INPUT",
            message,
        }
    }

    /// Refused for exceeding one of the server's limits.
    pub fn limit(status: StatusCode, message: String) -> Refusal {
        Refusal {
            status,
            code: "LIMIT_EXCEEDED",
            message,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let code = self.code;
        let error = async_graphql::Error::new(self.message).extend_with(|_, e| e.set("code", code));
        let mut response = graphql_error(self.status, request_error(error));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        }
        response
    }
}

/// A request refused before it ran: errors and no `data` (with
/// `Retry-After` when the error is an outage).
pub fn graphql_error(status: StatusCode, error: async_graphql::ServerError) -> Response {
    let retry = retry_after(std::slice::from_ref(&error));
    let mut response =
        (status, axum::Json(serde_json::json!({ "errors": [error] }))).into_response();
    if let Some(seconds) = retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// When errors include an outage (`SERVICE_UNAVAILABLE`), the seconds its
/// `retryAfter` asks the client to wait: the answer is then a 503.
pub fn retry_after(errors: &[async_graphql::ServerError]) -> Option<u64> {
    errors
        .iter()
        .filter(|error| error_code(error) == "SERVICE_UNAVAILABLE")
        .find_map(|error| match error.extensions.as_ref()?.get("retryAfter") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => None,
        })
}

/// The `extensions.code` of an error, for counting errors by code.
pub fn error_code(error: &async_graphql::ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => "(uncoded)",
    }
}
