//! The provider's signing keys: read from its discovery document's
//! `jwks_uri` at start and cached; refreshed when the cache expires and
//! when a token names a key the cache lacks (at most once per half minute,
//! so made-up `kid`s cannot make orgql hammer the provider). A failed
//! refresh keeps the last good keys, and a provider that is down at start
//! is retried until it answers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::Rejection;

/// At most one refresh for unknown keys in this long.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
/// How long keys are kept when the provider does not say (Cache-Control).
const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Waits between attempts while no keys could be loaded.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// Discovery documents and key sets are small; anything larger is refused.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The cached keys of one provider.
pub struct Keys {
    issuer: String,
    http: reqwest::Client,
    current: RwLock<HashMap<String, Arc<PublishedKey>>>,
    loaded: std::sync::atomic::AtomicBool,
    refresh: Mutex<RefreshState>,
}

/// A key of the provider's set, and the algorithms it may verify.
pub(super) struct PublishedKey {
    pub(super) key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

#[derive(Default)]
struct RefreshState {
    /// When a token's unknown kid last made orgql look.
    last_on_demand: Option<Instant>,
    jwks_uri: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

impl Keys {
    /// Starts loading the keys of `issuer`, and keeping them fresh.
    pub fn start(issuer: String) -> Arc<Keys> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client builds");
        let keys = Arc::new(Keys {
            issuer,
            http,
            current: RwLock::default(),
            loaded: Default::default(),
            refresh: Mutex::default(),
        });
        let weak = Arc::downgrade(&keys);
        tokio::spawn(async move {
            let mut retry = FIRST_RETRY;
            loop {
                let Some(keys) = weak.upgrade() else { return };
                let wait = match keys.refresh(&mut *keys.refresh.lock().await).await {
                    Ok(ttl) => {
                        retry = FIRST_RETRY;
                        ttl
                    }
                    Err(error) => {
                        let keeping = keys.is_loaded();
                        tracing::warn!(issuer = %keys.issuer, %error, retry_in = ?retry, keeping_last_keys = keeping, "cannot load the identity provider's keys");
                        let wait = retry;
                        retry = (retry * 2).min(MAX_RETRY);
                        wait
                    }
                };
                drop(keys);
                tokio::time::sleep(wait).await;
            }
        });
        keys
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The key `kid` for a token signed with `algorithm`, refreshing the
    /// cache once if it does not hold that key.
    pub(super) async fn find(
        &self,
        kid: &str,
        algorithm: Algorithm,
    ) -> Result<Arc<PublishedKey>, Rejection> {
        let found = match self.cached(kid) {
            Some(found) => Some(found),
            None => {
                self.refresh_unless_recent().await;
                self.cached(kid)
            }
        };
        let Some(found) = found else {
            return Err(match self.is_loaded() {
                true => Rejection::UnknownKey(kid.to_owned()),
                false => Rejection::NoKeys,
            });
        };
        if !found.algorithms.contains(&algorithm) {
            return Err(Rejection::KeyMismatch {
                kid: kid.to_owned(),
                algorithm,
            });
        }
        Ok(found)
    }

    fn cached(&self, kid: &str) -> Option<Arc<PublishedKey>> {
        self.current.read().expect("not poisoned").get(kid).cloned()
    }

    async fn refresh_unless_recent(&self) {
        let mut state = self.refresh.lock().await;
        if state
            .last_on_demand
            .is_some_and(|at| at.elapsed() < REFRESH_AT_MOST_EVERY)
        {
            return;
        }
        state.last_on_demand = Some(Instant::now());
        if let Err(error) = self.refresh(&mut state).await {
            tracing::warn!(issuer = %self.issuer, %error, "cannot refresh the identity provider's keys; keeping the last ones");
        }
    }

    /// Reads the key set (and the discovery document, the first time or
    /// after a failure); returns how long the keys may be kept.
    async fn refresh(&self, state: &mut RefreshState) -> Result<Duration, String> {
        let jwks_uri = match state.jwks_uri.clone() {
            Some(uri) => uri,
            None => self.discover().await?,
        };
        let (set, ttl) = match self.fetch::<KeySet>(&jwks_uri).await {
            Ok(fetched) => fetched,
            Err(error) => {
                // The provider may have moved its keys: discover again next time.
                state.jwks_uri = None;
                return Err(error);
            }
        };
        state.jwks_uri = Some(jwks_uri);
        let keys: HashMap<String, Arc<PublishedKey>> = set
            .keys
            .into_iter()
            .filter_map(|value| {
                let jwk: Jwk = serde_json::from_value(value)
                    .map_err(|e| tracing::debug!(error = %e, "skipping a key orgql cannot read"))
                    .ok()?;
                let kid = jwk.common.key_id.clone()?;
                let key = published(&jwk)?;
                Some((kid, Arc::new(key)))
            })
            .collect();
        if keys.is_empty() {
            return Err("the key set has no signing key orgql can use".into());
        }
        tracing::info!(issuer = %self.issuer, keys = keys.len(), "identity provider keys loaded");
        *self.current.write().expect("not poisoned") = keys;
        self.loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(ttl.unwrap_or(DEFAULT_TTL).clamp(MIN_TTL, MAX_TTL))
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (discovery, _) = self.fetch::<Discovery>(&url).await?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "the discovery document names the issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            ));
        }
        Ok(discovery.jwks_uri)
    }

    /// A JSON document of at most a mebibyte, and its Cache-Control max-age.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(T, Option<Duration>), String> {
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        let document = serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))?;
        Ok((document, max_age))
    }
}

/// The key of a JWK, with the algorithms that fit it; None for a key that
/// is not for signatures, or not asymmetric.
fn published(jwk: &Jwk) -> Option<PublishedKey> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let fitting: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        // Symmetric keys are never trusted.
        AlgorithmParameters::OctetKeyPair(_) | AlgorithmParameters::OctetKey(_) => return None,
    };
    // A key that names its algorithm verifies only that one.
    let algorithms = match jwk.common.key_algorithm {
        Some(named) => fitting
            .into_iter()
            .filter(|a| signature_algorithm(named) == Some(*a))
            .collect(),
        None => fitting,
    };
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(PublishedKey { key, algorithms })
}

/// The signature algorithm a JWK's `alg` names, if it names one.
fn signature_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    Some(match named {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The max-age of a Cache-Control value.
fn max_age(value: &str) -> Option<Duration> {
    value
        .split(',')
        .filter_map(|directive| directive.trim().strip_prefix("max-age="))
        .find_map(|seconds| seconds.trim().parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("no-cache"), None);
    }

    #[test]
    fn keys_fit_their_own_algorithms_only() {
        let jwk = |json: serde_json::Value| serde_json::from_value::<Jwk>(json).unwrap();
        let ec = published(&jwk(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "e",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        })))
        .unwrap();
        assert_eq!(ec.algorithms, [Algorithm::ES256]);
        let hmac = jwk(serde_json::json!({ "kty": "oct", "kid": "h", "k": "c2VjcmV0" }));
        assert!(
            published(&hmac).is_none(),
            "a symmetric key is never trusted"
        );
        let encryption = jwk(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "x", "use": "enc",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }));
        assert!(
            published(&encryption).is_none(),
            "an encryption key signs nothing"
        );
    }
}
