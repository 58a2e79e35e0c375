//! A database that cannot be reached is an outage, not a bug: the layers
//! above answer "retry shortly" instead of "internal error", and each kind
//! of failure is logged in one line at most every few seconds while it
//! lasts, rather than once per request.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::result::{DatabaseErrorKind, Error};

/// The database could not be used just now; retrying shortly may succeed.
#[derive(Debug)]
pub struct Outage {
    pub kind: OutageKind,
    /// What the driver or the pool said, for the log only.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageKind {
    /// No connection could be had from the pool (the server refuses or is gone).
    NoConnection,
    /// A connection broke while in use.
    ConnectionLost,
    /// The server is shutting down, starting up or recovering.
    ServerUnavailable,
    /// SQLite's file stayed locked by another writer past the busy timeout.
    Busy,
}

impl OutageKind {
    pub fn describe(self) -> &'static str {
        match self {
            OutageKind::NoConnection => "no database connection could be opened",
            OutageKind::ConnectionLost => "a database connection broke",
            OutageKind::ServerUnavailable => "the database server is not accepting queries",
            OutageKind::Busy => "the database stayed locked past the busy timeout",
        }
    }
}

/// Messages of PostgreSQL errors of class 57P (operator intervention) and of
/// a server that is not yet, or no longer, serving: diesel keeps the message
/// but not the SQLSTATE.
const UNAVAILABLE_MESSAGES: &[&str] = &[
    "terminating connection due to administrator command",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "terminating connection due to unexpected postmaster exit",
];

/// Whether a query failed because the database was out of reach.
pub fn of_query(error: &Error) -> Option<Outage> {
    let kind = match error {
        Error::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        )
        | Error::BrokenTransactionManager => OutageKind::ConnectionLost,
        Error::DatabaseError(_, info) if info.message() == "database is locked" => OutageKind::Busy,
        Error::DatabaseError(_, info)
            if UNAVAILABLE_MESSAGES
                .iter()
                .any(|m| info.message().starts_with(m)) =>
        {
            OutageKind::ServerUnavailable
        }
        _ => return None,
    };
    Some(Outage {
        kind,
        detail: error.to_string(),
    })
}

/// How often each kind of outage is logged while it lasts.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// When a kind was last logged, and how many of it went unlogged since.
struct Logged {
    kind: OutageKind,
    at: Instant,
    left_out: u64,
}

static LOGGED: Mutex<Vec<Logged>> = Mutex::new(Vec::new());

impl Outage {
    /// Logs the outage in one line, unless one of its kind was logged in the
    /// last [`LOG_EVERY`]; the next line counts those it left out.
    pub fn log(&self) {
        let now = Instant::now();
        let left_out = {
            let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
            match logged.iter_mut().find(|l| l.kind == self.kind) {
                Some(last) if now.duration_since(last.at) < LOG_EVERY => {
                    last.left_out += 1;
                    return;
                }
                Some(last) => {
                    last.at = now;
                    std::mem::take(&mut last.left_out)
                }
                None => {
                    logged.push(Logged {
                        kind: self.kind,
                        at: now,
                        left_out: 0,
                    });
                    0
                }
            }
        };
        tracing::warn!(
            detail = %self.detail,
            similar_failures_not_logged = left_out,
            "database unavailable: {}",
            self.kind.describe()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_connections_and_shutdowns_are_outages_and_other_errors_are_not() {
        let db_error =
            |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_owned()));
        let kind = |e: &Error| of_query(e).map(|o| o.kind);
        assert_eq!(
            kind(&db_error(
                DatabaseErrorKind::UnableToSendCommand,
                "connection closed"
            )),
            Some(OutageKind::ConnectionLost)
        );
        assert_eq!(
            kind(&db_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command"
            )),
            Some(OutageKind::ServerUnavailable)
        );
        assert_eq!(
            kind(&db_error(DatabaseErrorKind::Unknown, "database is locked")),
            Some(OutageKind::Busy)
        );
        assert_eq!(
            kind(&db_error(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key"
            )),
            None
        );
        assert_eq!(kind(&Error::NotFound), None);
    }
}
