//! Attempts at a secret (a password, an invitation token) allowed per
//! client address, so guessing is slow. One client holds a whole IPv6 /64,
//! so IPv6 addresses are limited by that prefix.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Addresses remembered before those with a full allowance are forgotten.
const FORGET_AFTER: usize = 100_000;

pub struct AttemptLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl AttemptLimiter {
    /// `per_minute` attempts a minute, all of which may come at once.
    pub fn per_minute(per_minute: NonZeroU32) -> AttemptLimiter {
        AttemptLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one attempt from the address's allowance, or says how long
    /// it must wait for the next.
    pub fn attempt(&self, address: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() > FORGET_AFTER {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client_key(address))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
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

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let limiter = AttemptLimiter::per_minute(NonZeroU32::new(2).unwrap());
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(limiter.attempt(a).is_ok());
        assert!(limiter.attempt(b).is_ok());
        let wait = limiter.attempt(a).expect_err("the /64 has used its 2");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30));
        assert!(limiter.attempt(elsewhere).is_ok());
    }
}
