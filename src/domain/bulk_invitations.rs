//! Bulk invitations from a CSV file `email,role`: every row is checked
//! before anything is created or sent, and the whole batch is one
//! transaction with one audit entry.

use std::collections::HashSet;

use futures_util::FutureExt;
use serde_json::json;

use super::invitations::{self, Invitation, InvitationSettings, Letter, Sent};
use super::recorder::{self, Action, Change};
use super::users::normalize_email;
use super::{DomainError, Permission, Role, access};
use crate::db::{Conn, Db};

pub const MAX_ROWS: usize = 100;
pub const MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Valid; invited unless the upload was stopped.
    Ready,
    Invited,
    /// A pending invitation existed: refreshed with the new role and sent again.
    Reinvited,
    InvalidEmail,
    UnknownRole,
    /// OWNER cannot be given by invitation.
    RoleNotAssignable,
    DuplicateRow,
    AlreadyMember,
}

#[derive(Debug, Clone)]
pub struct BulkRow {
    /// The row's line in the file; the header is line 1.
    pub line: usize,
    pub email: String,
    pub role: String,
    pub status: RowStatus,
    pub message: Option<String>,
    /// The normalized address and role, for a row that is valid.
    valid: Option<(String, Role)>,
}

#[derive(Debug, Clone)]
pub struct BulkReport {
    pub rows: Vec<BulkRow>,
    pub flagged_count: usize,
    pub invited_count: usize,
    pub sent: bool,
    pub invitations: Vec<Invitation>,
}

#[derive(Debug, Clone, Copy)]
pub struct BulkOptions {
    /// Only report.
    pub dry_run: bool,
    /// Invite the valid rows even if others are flagged.
    pub skip_invalid: bool,
}

/// Reads and checks the file, and unless told otherwise or something is
/// flagged, invites every valid row in one transaction.
pub async fn bulk_invite(
    db: &Db,
    settings: &InvitationSettings,
    actor_id: i64,
    organization_id: i64,
    csv: Vec<u8>,
    options: BulkOptions,
) -> Result<BulkReport, DomainError> {
    let rows = parse(&csv)?;
    let settings = settings.clone();
    let batch = Batch {
        actor_id,
        organization_id,
        options,
    };
    db.write(move |tx| batch.run(tx, settings, rows).boxed())
        .await
}

/// Who invites whom, and how.
struct Batch {
    actor_id: i64,
    organization_id: i64,
    options: BulkOptions,
}

impl Batch {
    async fn run(
        self,
        tx: &mut Conn<'_>,
        settings: InvitationSettings,
        mut rows: Vec<BulkRow>,
    ) -> Result<BulkReport, DomainError> {
        let Batch {
            actor_id,
            organization_id,
            options,
        } = self;
        access::authorize(tx, organization_id, actor_id, Permission::ManageMembers).await?;
        let emails: Vec<String> = rows.iter().filter_map(|r| r.email_if_valid()).collect();
        let taken: HashSet<String> = invitations::existing_members(tx, organization_id, &emails)
            .await?
            .into_iter()
            .collect();
        for row in rows.iter_mut() {
            if row
                .email_if_valid()
                .is_some_and(|email| taken.contains(&email))
            {
                let message = "already a member of this organization".into();
                flag(row, RowStatus::AlreadyMember, message);
            }
        }
        let flagged_count = rows.iter().filter(|r| r.valid.is_none()).count();
        let send = !options.dry_run && (flagged_count == 0 || options.skip_invalid);
        let mut report = BulkReport {
            rows,
            flagged_count,
            invited_count: 0,
            sent: false,
            invitations: Vec::new(),
        };
        if !send {
            return Ok(report);
        }
        let letter = Letter::load(tx, organization_id, actor_id).await?;
        let people: Vec<(String, Role)> = report
            .rows
            .iter()
            .filter_map(|row| row.valid.clone())
            .collect();
        let issued = invitations::issue(tx, &settings, &letter, &people).await?;
        // Issued in the order of the valid rows.
        let valid_rows = report.rows.iter_mut().filter(|row| row.valid.is_some());
        for (row, (invitation, sent)) in valid_rows.zip(issued) {
            row.status = match sent {
                Sent::Invited => RowStatus::Invited,
                Sent::Reinvited => RowStatus::Reinvited,
            };
            report.invitations.push(invitation);
        }
        report.invited_count = report.invitations.len();
        report.sent = report.invited_count > 0;
        let change =
            Change::new(organization_id, actor_id, Action::MembersBulkInvited).details(json!({
                "invited": report.invited_count,
                "flagged": flagged_count,
                "rows": report.rows.len(),
            }));
        recorder::record(tx, change).await?;
        Ok(report)
    }
}

impl BulkRow {
    /// The normalized address of a row that is valid.
    fn email_if_valid(&self) -> Option<String> {
        self.valid.as_ref().map(|(email, _)| email.clone())
    }
}

fn flag(row: &mut BulkRow, status: RowStatus, message: String) {
    row.status = status;
    row.message = Some(message);
    row.valid = None;
}

/// Reads `email,role` rows (header required, in any column order, any case;
/// extra columns ignored; BOM, CRLF, quotes, spaces and blank lines
/// allowed) and flags what is wrong with each on its own.
fn parse(csv: &[u8]) -> Result<Vec<BulkRow>, DomainError> {
    if csv.len() > MAX_BYTES {
        return Err(DomainError::LimitExceeded(format!(
            "the file is larger than {} KiB",
            MAX_BYTES / 1024
        )));
    }
    let csv = csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv);
    let unreadable =
        |e: csv::Error| DomainError::bad_input(format!("the file is not readable CSV: {e}"));
    let headers = reader.headers().map_err(unreadable)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(email_column), Some(role_column)) = (column("email"), column("role")) else {
        return Err(DomainError::bad_input(
            "the first line must be the header email,role",
        ));
    };
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(unreadable)?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(DomainError::LimitExceeded(format!(
                "at most {MAX_ROWS} rows per file"
            )));
        }
        let line = record
            .position()
            .map_or(0, |p| line_of(csv, p.byte() as usize));
        let email = record.get(email_column).unwrap_or_default().to_owned();
        let role = record.get(role_column).unwrap_or_default().to_owned();
        let mut row = BulkRow {
            line,
            email,
            role,
            status: RowStatus::Ready,
            message: None,
            valid: None,
        };
        match (
            normalize_email(&row.email),
            Role::parse(&row.role.to_uppercase()),
        ) {
            (Err(_), _) => flag(
                &mut row,
                RowStatus::InvalidEmail,
                "not a valid email address".into(),
            ),
            (_, None) => flag(
                &mut row,
                RowStatus::UnknownRole,
                "the role must be admin, manager or member".into(),
            ),
            (_, Some(Role::Owner)) => flag(
                &mut row,
                RowStatus::RoleNotAssignable,
                "owner cannot be given by invitation".into(),
            ),
            (Ok(email), Some(role)) => {
                if seen.insert(email.clone()) {
                    row.valid = Some((email, role));
                } else {
                    flag(
                        &mut row,
                        RowStatus::DuplicateRow,
                        "the same address is on an earlier line".into(),
                    );
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The 1-based line on which the record starting at (or, past blank lines,
/// after) byte `offset` begins. The csv crate's own line count drifts on
/// blank lines and CRLF.
fn line_of(csv: &[u8], offset: usize) -> usize {
    let offset = offset.min(csv.len());
    let start = offset
        + csv[offset..]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    1 + csv[..start].iter().filter(|b| **b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(csv: &str) -> Vec<(usize, RowStatus)> {
        parse(csv.as_bytes())
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.status))
            .collect()
    }

    #[test]
    fn every_row_gets_its_own_status() {
        let csv = "\u{feff}Role, EMAIL ,note\r\n\
                   member, ada@example.com ,x\r\n\
                   \r\n\
                   ADMIN,\"Bob@Example.com\"\r\n\
                   owner,carol@example.com\r\n\
                   boss,dan@example.com\r\n\
                   member,not-an-address\r\n\
                   manager,ADA@example.com\r\n";
        assert_eq!(
            statuses(csv),
            [
                (2, RowStatus::Ready),
                (4, RowStatus::Ready),
                (5, RowStatus::RoleNotAssignable),
                (6, RowStatus::UnknownRole),
                (7, RowStatus::InvalidEmail),
                (8, RowStatus::DuplicateRow),
            ]
        );
    }

    #[test]
    fn lines_count_blank_lines_in_either_line_ending() {
        for newline in ["\n", "\r\n"] {
            let csv = [
                "email,role",
                "a@example.com,member",
                "",
                "",
                "b@example.com,member",
                "\"c@example.com\",admin",
            ]
            .join(newline);
            let lines: Vec<usize> = statuses(&csv).into_iter().map(|(line, _)| line).collect();
            assert_eq!(lines, [2, 5, 6], "{newline:?}");
        }
    }

    #[test]
    fn the_header_and_the_size_are_checked() {
        assert!(matches!(
            parse(b"mail,role\na@b.c,member\n"),
            Err(DomainError::BadInput(_))
        ));
        let rows: String = (0..101)
            .map(|n| format!("u{n}@example.com,member\n"))
            .collect();
        assert!(matches!(
            parse(format!("email,role\n{rows}").as_bytes()),
            Err(DomainError::LimitExceeded(_))
        ));
        assert!(matches!(
            parse(&vec![b'a'; MAX_BYTES + 1]),
            Err(DomainError::LimitExceeded(_))
        ));
    }
}
