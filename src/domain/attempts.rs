//! How guessing is kept slow without locking out the people who share an
//! address (a classroom, an office behind one NAT): limit what guessing
//! needs and users never do.
//!
//! - Every attempt at a secret (logIn, signUp, an invitation token) spends
//!   one of its address's allowance, which is generous (`--auth-rate-limit`
//!   a minute): a hundred people behind one address each sign up, log in and
//!   accept an invitation within a minute.
//! - Failed log-ins to one account are what guessing a password needs: after
//!   10 (from any number of addresses), or 5 from one address, its log-ins
//!   are refused, the right password too, until one failure is forgotten
//!   per cool-off (`--login-cooldown`, a minute): a guesser gets at most 10
//!   more tries in the next ten minutes, and the account's owner gets in
//!   again once it ends. Nobody else's account is touched.
//!
//! One client holds a whole IPv6 /64, so IPv6 addresses count by that prefix.
//! Each instance keeps its own counts.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::DomainError;

/// Keys remembered before those with nothing to remember are forgotten.
const FORGET_AFTER: usize = 100_000;
/// Failed log-ins an account takes from anywhere before it cools off...
const ACCOUNT_FAILURES: u32 = 10;
/// ...and from one address.
const ACCOUNT_ADDRESS_FAILURES: u32 = 5;

/// The limits on attempts at secrets.
pub struct Attempts {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    per_account: FailureCount<String>,
    per_account_address: FailureCount<(String, IpAddr)>,
}

impl Attempts {
    /// `per_address_per_minute` attempts a minute from one address (all of
    /// which may come at once); one failed log-in forgotten per `cooldown`.
    pub fn new(per_address_per_minute: NonZeroU32, cooldown: Duration) -> Attempts {
        Attempts {
            per_address: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_address_per_minute)),
            clock: DefaultClock::default(),
            per_account: FailureCount::new(ACCOUNT_FAILURES, cooldown),
            per_account_address: FailureCount::new(ACCOUNT_ADDRESS_FAILURES, cooldown),
        }
    }

    /// Spends one of the address's attempts at a secret.
    pub fn attempt_from(&self, address: IpAddr) -> Result<(), DomainError> {
        if self.per_address.len() > FORGET_AFTER {
            self.per_address.retain_recent();
        }
        self.per_address
            .check_key(&client_key(address))
            .map_err(|not_until| DomainError::TooManyAttempts {
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// Whether a log-in to `account` from `address` may be tried now.
    pub fn may_log_in(&self, account: &str, address: Option<IpAddr>) -> Result<(), DomainError> {
        let waits = [
            self.per_account.wait(&account.to_owned()),
            address.and_then(|a| {
                self.per_account_address
                    .wait(&(account.to_owned(), client_key(a)))
            }),
        ];
        match waits.into_iter().flatten().max() {
            Some(retry_after) => Err(DomainError::TooManyAttempts { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed log-in to `account` from `address`.
    pub fn failed_log_in(&self, account: &str, address: Option<IpAddr>) {
        self.per_account.add(account.to_owned());
        if let Some(address) = address {
            self.per_account_address
                .add((account.to_owned(), client_key(address)));
        }
    }
}

/// Failures per key, forgotten one per cool-off (a leaky bucket): a key is
/// refused while it holds `limit` of them.
struct FailureCount<K> {
    limit: u32,
    cooldown: Duration,
    counts: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> FailureCount<K> {
    fn new(limit: u32, cooldown: Duration) -> FailureCount<K> {
        FailureCount {
            limit,
            cooldown: cooldown.max(Duration::from_millis(1)),
            counts: Mutex::default(),
        }
    }

    /// The failures `key` holds now.
    fn level(&self, (failures, at): (f64, Instant), now: Instant) -> f64 {
        let forgotten = now.duration_since(at).as_secs_f64() / self.cooldown.as_secs_f64();
        (failures - forgotten).max(0.0)
    }

    /// How long until `key` may try again, if it may not now.
    fn wait(&self, key: &K) -> Option<Duration> {
        let counts = self.counts.lock().expect("not poisoned");
        let level = self.level(*counts.get(key)?, Instant::now());
        let over = level - (f64::from(self.limit) - 1.0);
        (over > 0.0).then(|| self.cooldown.mul_f64(over))
    }

    fn add(&self, key: K) {
        let now = Instant::now();
        let mut counts = self.counts.lock().expect("not poisoned");
        if counts.len() > FORGET_AFTER {
            counts.retain(|_, entry| self.level(*entry, now) > 0.0);
        }
        let level = counts
            .get(&key)
            .map_or(0.0, |entry| self.level(*entry, now));
        counts.insert(key, (level + 1.0, now));
    }
}

fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(result: Result<(), DomainError>) -> Duration {
        match result {
            Err(DomainError::TooManyAttempts { retry_after }) => retry_after,
            other => panic!("refused, not {other:?}"),
        }
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let attempts = Attempts::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(60));
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(attempts.attempt_from(a).is_ok());
        assert!(attempts.attempt_from(b).is_ok());
        let wait = wait(attempts.attempt_from(a));
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30));
        assert!(attempts.attempt_from(elsewhere).is_ok());
    }

    #[test]
    fn an_account_cools_off_after_its_failures_wherever_they_come_from() {
        let attempts = Attempts::new(NonZeroU32::MAX, Duration::from_secs(60));
        for n in 0..ACCOUNT_FAILURES {
            let address: IpAddr = format!("198.51.100.{n}").parse().unwrap();
            assert!(
                attempts
                    .may_log_in("ada@example.com", Some(address))
                    .is_ok()
            );
            attempts.failed_log_in("ada@example.com", Some(address));
        }
        let elsewhere: IpAddr = "203.0.113.9".parse().unwrap();
        let wait = wait(attempts.may_log_in("ada@example.com", Some(elsewhere)));
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            attempts
                .may_log_in("bob@example.com", Some(elsewhere))
                .is_ok()
        );
        // One address alone is refused sooner.
        let one: IpAddr = "198.51.100.200".parse().unwrap();
        for _ in 0..ACCOUNT_ADDRESS_FAILURES {
            attempts.failed_log_in("carol@example.com", Some(one));
        }
        assert!(attempts.may_log_in("carol@example.com", Some(one)).is_err());
        assert!(
            attempts
                .may_log_in("carol@example.com", Some(elsewhere))
                .is_ok()
        );
    }
}
