//! Argon2id password hashes. Hashing is deliberately slow, so it runs on the
//! blocking pool, never on the async workers.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::DomainError;

pub const MIN_PASSWORD_LENGTH: usize = 8;
/// Argon2 of a megabyte of password is wasted work: refuse it early.
const MAX_PASSWORD_LENGTH: usize = 1024;

/// The one rule every new password meets (signUp, resetPassword,
/// changePassword): between 8 and 1024 characters.
pub fn check_strength(password: &str) -> Result<(), DomainError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(DomainError::bad_input(format!(
            "the password must be at least {MIN_PASSWORD_LENGTH} characters"
        )));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(DomainError::bad_input(format!(
            "the password must be at most {MAX_PASSWORD_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Verified when an email has no account, so that answering "no such
/// account" takes as long as "wrong password".
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_now("not the password of anyone"));

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

pub async fn hash(password: String) -> Result<String, DomainError> {
    blocking(move || hash_now(&password)).await
}

/// Whether `password` matches `hash`; with no hash, does the same work and
/// answers false.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, DomainError> {
    blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        });
        known && matches
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DomainError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DomainError::Internal(e.into()))
}
