//! Trusting the product's OpenID Connect provider: its JWTs are verified
//! against the keys of its discovery document's `jwks_uri`. Signatures are
//! checked by `jsonwebtoken` (on ring); this module decides which key and
//! algorithm a token may use, and which claims it must carry.
//!
//! Only asymmetric algorithms are accepted, the algorithm must fit the key
//! the token's `kid` names, `iss` must be the issuer exactly, `aud` must
//! contain the audience, `exp` is required and `nbf`/`iat` are respected,
//! with a minute of leeway for clocks that differ.

mod keys;

use std::sync::Arc;

use chrono::NaiveDateTime;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use keys::Keys;

/// Clock difference tolerated between the provider and this server.
const LEEWAY_SECONDS: u64 = 60;

/// Asymmetric algorithms only: HS* would let anyone holding the (public)
/// key sign, and `none` signs nothing.
const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Which provider to trust, and for which audience.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub issuer: String,
    pub audience: String,
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub expires_at: NaiveDateTime,
}

/// The claims orgql reads; the signature and the standard claims are
/// checked by `jsonwebtoken` first.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: Option<i64>,
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
    name: Option<String>,
    preferred_username: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// Some providers send `email_verified` as the string "true".
fn flexible_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flexible {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flexible>::deserialize(d)? {
        Some(Flexible::Bool(b)) => b,
        Some(Flexible::Text(text)) => text.eq_ignore_ascii_case("true"),
        None => false,
    })
}

impl Claims {
    /// A display name: `name`, else given and family names, else the
    /// preferred username, else the email's local part.
    fn display_name(&self) -> Option<String> {
        let given = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        [
            self.name.clone(),
            Some(given),
            self.preferred_username.clone(),
            self.email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
    }
}

/// Why a token was refused: for the log, never for the client.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("not a JWT: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted (asymmetric algorithms only)")]
    Algorithm(String),
    #[error("the token names no key (kid)")]
    NoKeyId,
    #[error("no key {0:?} in the provider's key set")]
    UnknownKey(String),
    #[error("the key {kid:?} does not fit algorithm {algorithm:?}")]
    KeyMismatch { kid: String, algorithm: Algorithm },
    #[error("the provider's keys are not loaded yet")]
    NoKeys,
    #[error("{0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("issued in the future (iat)")]
    IssuedInTheFuture,
}

/// The provider's verifier: its settings and its cached keys.
pub struct Provider {
    settings: ProviderSettings,
    keys: Arc<Keys>,
}

impl Provider {
    /// Starts loading the provider's keys in the background; until they are
    /// loaded, tokens are refused and readiness says not ready.
    pub fn start(settings: ProviderSettings) -> Provider {
        let keys = Keys::start(settings.issuer.clone());
        Provider { settings, keys }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    pub fn is_ready(&self) -> bool {
        self.keys.is_loaded()
    }

    /// Verifies a bearer JWT and reads its holder's claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, Rejection> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Rejection::Malformed(e.to_string()))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(Rejection::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(Rejection::NoKeyId)?;
        let key = self.keys.find(&kid, header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(Rejection::Invalid)?
            .claims;
        let now = chrono::Utc::now().timestamp();
        if claims
            .iat
            .is_some_and(|iat| iat > now + LEEWAY_SECONDS as i64)
        {
            return Err(Rejection::IssuedInTheFuture);
        }
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map(|at| at.naive_utc())
            .ok_or_else(|| Rejection::Malformed("exp out of range".into()))?;
        Ok(VerifiedToken {
            name: claims.display_name(),
            subject: claims.sub,
            email: claims.email,
            email_verified: claims.email_verified,
            expires_at,
        })
    }
}

/// Whether a bearer token is shaped like a JWT (three base64url parts),
/// rather than one of orgql's own tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Why the provider's settings are unusable; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--oidc-issuer / OIDC_ISSUER: {0:?} is not a URL")]
    NotUrl(String),
    #[error(
        "--oidc-issuer / OIDC_ISSUER: {0:?} must be https (http is accepted only on a loopback address)"
    )]
    NotHttps(String),
    #[error("--oidc-audience / OIDC_AUDIENCE is required with --oidc-issuer")]
    NoAudience,
    #[error("--oidc-audience / OIDC_AUDIENCE is set but --oidc-issuer / OIDC_ISSUER is not")]
    NoIssuer,
}

/// The provider settings of the configuration, if any, checked.
pub fn settings(
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<Option<ProviderSettings>, SettingsError> {
    let (issuer, audience) = match (issuer, audience) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(SettingsError::NoAudience),
        (None, Some(_)) => return Err(SettingsError::NoIssuer),
        (Some(issuer), Some(audience)) => (issuer.trim(), audience.trim()),
    };
    let url = reqwest::Url::parse(issuer).map_err(|_| SettingsError::NotUrl(issuer.into()))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => return Err(SettingsError::NotUrl(issuer.into())),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(SettingsError::NotHttps(issuer.into())),
    }
    Ok(Some(ProviderSettings {
        // The issuer is compared with `iss` exactly, as given.
        issuer: issuer.to_owned(),
        audience: audience.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_must_be_https_but_on_loopback() {
        assert!(settings(Some("https://id.example.com"), Some("a")).is_ok());
        assert!(settings(Some("http://127.0.0.1:9000"), Some("a")).is_ok());
        assert!(settings(Some("http://localhost:9000/realms/x"), Some("a")).is_ok());
        assert!(matches!(
            settings(Some("http://id.example.com"), Some("a")),
            Err(SettingsError::NotHttps(_))
        ));
        assert!(matches!(
            settings(Some("https://id.example.com"), None),
            Err(SettingsError::NoAudience)
        ));
        assert!(matches!(settings(None, None), Ok(None)));
    }

    #[test]
    fn names_fall_back_sensibly() {
        let claims = |json: serde_json::Value| serde_json::from_value::<Claims>(json).unwrap();
        let base = serde_json::json!({ "sub": "s", "exp": 1 });
        let with = |extra: serde_json::Value| {
            let mut value = base.clone();
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            claims(value).display_name()
        };
        assert_eq!(
            with(serde_json::json!({ "name": "Ada L" })).as_deref(),
            Some("Ada L")
        );
        assert_eq!(
            with(serde_json::json!({ "given_name": "Ada", "family_name": "Lovelace" })).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            with(serde_json::json!({ "preferred_username": "ada" })).as_deref(),
            Some("ada")
        );
        assert_eq!(
            with(serde_json::json!({ "email": "ada@example.com" })).as_deref(),
            Some("ada")
        );
        assert_eq!(with(serde_json::json!({})), None);
        assert!(
            claims(serde_json::json!({ "sub": "s", "exp": 1, "email_verified": "true" }))
                .email_verified
        );
    }
}
