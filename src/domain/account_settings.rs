//! What an operator sets for accounts: whether password accounts exist, and
//! the links and lifetimes of the mails about an account. Apart from
//! `accounts`, so the address and password files below it read it too.

use chrono::Duration;

use super::DomainError;

/// Password accounts, and the mails about an account (its address's
/// verification, its password's reset).
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Off for products whose people sign in only at their identity provider.
    pub password_accounts: bool,
    /// Account mails link to `{app_url}/verify-email?token=TOKEN` and
    /// `{app_url}/reset-password?token=TOKEN`.
    pub app_url: String,
    /// How long a verification link works.
    pub verification_ttl: Duration,
    /// How long a password reset link works.
    pub reset_ttl: Duration,
}

impl AccountSettings {
    pub(super) fn require_password_accounts(&self) -> Result<(), DomainError> {
        match self.password_accounts {
            true => Ok(()),
            false => Err(DomainError::Forbidden(
                "password accounts are turned off on this server: sign in with your \
                 identity provider"
                    .into(),
            )),
        }
    }
}
