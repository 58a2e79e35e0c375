//! The invitation email: who sends it, to what, and what it says. User
//! input (names) only ever lands in bodies, HTML-escaped there, and in the
//! subject through lettre's typed builder.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{organizations, users};
use crate::db::{Conn, with_conn};
use crate::domain::mail_text::{escape_html, one_line};
use crate::domain::outbox::OutgoingMail;
use crate::domain::{DomainError, Role};

/// Who invites, to what: the parts of the email that are the same for
/// every invitation one person sends for one organization.
pub struct Letter {
    pub(super) organization_id: i64,
    organization_name: String,
    pub(super) inviter_id: i64,
    inviter_name: String,
}

impl Letter {
    pub async fn load(
        tx: &mut Conn<'_>,
        organization_id: i64,
        inviter_id: i64,
    ) -> Result<Letter, DomainError> {
        let organization = organizations::table
            .find(organization_id)
            .select(organizations::name);
        let organization_name: String = with_conn!(tx, |c| organization.first(c).await)?;
        let inviter = users::table.find(inviter_id).select(users::name);
        let inviter_name: String = with_conn!(tx, |c| inviter.first(c).await)?;
        Ok(Letter {
            organization_id,
            organization_name,
            inviter_id,
            inviter_name,
        })
    }
}

/// What differs between the invitations of one letter.
pub struct InvitationMail<'a> {
    pub recipient: &'a str,
    pub role: Role,
    pub link: &'a str,
    pub expires_at: NaiveDateTime,
}

impl Letter {
    /// The message that carries one invitation.
    pub fn compose(&self, mail: &InvitationMail<'_>) -> OutgoingMail {
        compose(&self.organization_name, &self.inviter_name, mail)
    }
}

fn compose(organization_name: &str, inviter_name: &str, mail: &InvitationMail<'_>) -> OutgoingMail {
    let role = mail.role.as_str().to_lowercase();
    let expires = mail.expires_at.format("%Y-%m-%d %H:%M UTC");
    let subject = one_line(&format!(
        "{inviter_name} invited you to join {organization_name} on orgql"
    ));
    let text_body = format!(
        "{inviter} invited you to join {organization} as {role}.\r\n\r\n\
         Accept the invitation:\r\n{link}\r\n\r\n\
         The link works once and expires on {expires}.\r\n\
         If you did not expect this invitation, ignore this message.\r\n",
        inviter = inviter_name,
        organization = organization_name,
        link = mail.link,
    );
    let html_body = format!(
        "<!DOCTYPE html>\n<html><body>\n\
         <p>{inviter} invited you to join <strong>{organization}</strong> as {role}.</p>\n\
         <p><a href=\"{link}\">Accept the invitation</a></p>\n\
         <p>The link works once and expires on {expires}.<br>\
         If you did not expect this invitation, ignore this message.</p>\n</body></html>\n",
        inviter = escape_html(inviter_name),
        organization = escape_html(organization_name),
        link = escape_html(mail.link),
    );
    OutgoingMail {
        recipient: mail.recipient.to_owned(),
        subject,
        text_body,
        html_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_their_place() {
        let mail = compose(
            "<script>alert(1)</script>",
            "Eve\r\nBcc: victim@example.com",
            &InvitationMail {
                recipient: "ada@example.com",
                role: Role::Member,
                link: "http://app/invitations/accept?token=abc",
                expires_at: chrono::NaiveDateTime::default(),
            },
        );
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail.html_body.contains("&lt;script&gt;"));
        assert!(!mail.html_body.contains("<script>"));
        assert!(
            mail.text_body
                .contains("http://app/invitations/accept?token=abc")
        );
    }
}
