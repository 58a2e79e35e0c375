//! The bearer credential of a request or a WebSocket connection, and the
//! principal it stands for.

use axum::http::{HeaderMap, header};

use super::state::AppState;
use crate::domain::DomainError;
use crate::domain::identities::{self, ProviderUser};
use crate::domain::principal::{Credential, Principal};
use crate::domain::{service_keys, sessions};
use crate::oidc;

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

/// The principal a bearer token stands for: a service key's secret, a
/// session of orgql's own, or a JWT of the identity provider (when one is
/// configured). None when it stands for no live credential (the contract's
/// `viewer: null`).
pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<Principal>, DomainError> {
    let db = &state.services.db;
    if service_keys::is_secret(token) {
        return service_keys::authenticate(db, token).await;
    }
    if !oidc::looks_like_jwt(token) {
        return sessions::authenticate(db, token).await;
    }
    let Some(provider) = &state.provider else {
        return Ok(None);
    };
    let verified = match provider.verify(token).await {
        Ok(verified) => verified,
        Err(rejection) => {
            tracing::info!(reason = %rejection, "an identity provider token was refused");
            return Ok(None);
        }
    };
    let who = ProviderUser {
        issuer: provider.issuer().to_owned(),
        subject: verified.subject,
        email: verified.email,
        email_verified: verified.email_verified,
        name: verified.name,
    };
    let user_id = identities::sign_in(db, &who).await?;
    Ok(Some(Principal::User {
        user_id,
        credential: Credential::ProviderToken {
            expires_at: verified.expires_at,
        },
    }))
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
