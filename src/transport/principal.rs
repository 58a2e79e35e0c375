//! The bearer credential of a request or a WebSocket connection, and the
//! principal it stands for.

use axum::http::{HeaderMap, header};

use crate::domain::DomainError;
use crate::domain::principal::Principal;
use crate::domain::sessions;
use crate::graphql::Services;

/// The token of an `Authorization: Bearer <token>` value (the scheme in any
/// case, as HTTP's auth schemes are).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The bearer token of a request's Authorization header.
pub fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// The principal a bearer token stands for; None when it stands for no live
/// credential (the contract's `viewer: null`).
pub async fn authenticate(
    services: &Services,
    token: &str,
) -> Result<Option<Principal>, DomainError> {
    sessions::authenticate(&services.db, token).await
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
