//! A queue's retry rule: how long to wait after a failed attempt, and when
//! to give up.

use chrono::{Duration, NaiveDateTime};

use super::{Outcome, Settled};

/// Waits `first` after the first failed attempt, doubling, at most `max`;
/// gives up on an item at once when its failure is permanent, and when its
/// next attempt would come more than `give_up_after` after it was created.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub first: Duration,
    pub max: Duration,
    /// None: never, but for a permanent failure.
    pub give_up_after: Option<Duration>,
}

impl Retry {
    /// The wait before the attempt after `attempts` failed ones.
    pub fn wait(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
        (self.first * 2i32.pow(doublings)).min(self.max)
    }

    /// What `outcome`, at `at`, makes of an item created at `created_at` and
    /// attempted `attempts` times.
    pub(super) fn settle(
        &self,
        outcome: &Outcome,
        attempts: i32,
        created_at: NaiveDateTime,
        at: NaiveDateTime,
    ) -> Settled {
        match outcome {
            Outcome::Done { .. } => Settled::Done,
            Outcome::Failed {
                permanent: true, ..
            } => Settled::GaveUp,
            Outcome::Failed { .. } => {
                let retry_at = at + self.wait(attempts);
                match self.give_up_after {
                    Some(patience) if retry_at - created_at > patience => Settled::GaveUp,
                    _ => Settled::Retry { at: retry_at },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT: Retry = Retry {
        first: Duration::seconds(2),
        max: Duration::hours(1),
        give_up_after: Some(Duration::days(3)),
    };

    fn failed(permanent: bool) -> Outcome {
        Outcome::Failed {
            status: None,
            error: "refused".into(),
            permanent,
        }
    }

    #[test]
    fn waits_double_from_the_first_up_to_the_max() {
        let waits: Vec<i64> = (1..=13).map(|n| PATIENT.wait(n).num_seconds()).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
    }

    #[test]
    fn a_failure_is_retried_until_the_retry_would_come_past_the_patience() {
        let created = chrono::DateTime::UNIX_EPOCH.naive_utc();
        let soon = created + Duration::minutes(1);
        assert_eq!(
            PATIENT.settle(&failed(false), 1, created, soon),
            Settled::Retry {
                at: soon + Duration::seconds(2)
            }
        );
        let late = created + Duration::days(3) - Duration::minutes(30);
        assert_eq!(
            PATIENT.settle(&failed(false), 40, created, late),
            Settled::GaveUp
        );
        assert_eq!(
            PATIENT.settle(&failed(true), 1, created, soon),
            Settled::GaveUp
        );
        let done = Outcome::Done { status: Some(200) };
        assert_eq!(PATIENT.settle(&done, 40, created, late), Settled::Done);
    }
}
