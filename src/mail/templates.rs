//! The messages orgql sends. User input (names) only ever lands in bodies,
//! HTML-escaped there, and in the subject through lettre's typed builder.

use chrono::NaiveDateTime;

use crate::domain::outbox::OutgoingMail;

pub struct InvitationMail<'a> {
    pub recipient: &'a str,
    pub organization_name: &'a str,
    pub inviter_name: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires_at: NaiveDateTime,
}

pub fn invitation(mail: &InvitationMail<'_>) -> OutgoingMail {
    let role = mail.role.to_lowercase();
    let expires = mail.expires_at.format("%Y-%m-%d %H:%M UTC");
    let subject = one_line(&format!(
        "{} invited you to join {} on orgql",
        mail.inviter_name, mail.organization_name
    ));
    let text_body = format!(
        "{inviter} invited you to join {organization} as {role}.\r\n\r\n\
         Accept the invitation:\r\n{link}\r\n\r\n\
         The link works once and expires on {expires}.\r\n\
         If you did not expect this invitation, ignore this message.\r\n",
        inviter = mail.inviter_name,
        organization = mail.organization_name,
        link = mail.link,
    );
    let html_body = format!(
        "<!DOCTYPE html>\n<html><body>\n\
         <p>{inviter} invited you to join <strong>{organization}</strong> as {role}.</p>\n\
         <p><a href=\"{link}\">Accept the invitation</a></p>\n\
         <p>The link works once and expires on {expires}.<br>\
         If you did not expect this invitation, ignore this message.</p>\n</body></html>\n",
        inviter = escape_html(mail.inviter_name),
        organization = escape_html(mail.organization_name),
        link = escape_html(mail.link),
    );
    OutgoingMail {
        recipient: mail.recipient.to_owned(),
        subject,
        text_body,
        html_body,
    }
}

/// A header value on one line, whatever the names in it hold.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_their_place() {
        let mail = invitation(&InvitationMail {
            recipient: "ada@example.com",
            organization_name: "<script>alert(1)</script>",
            inviter_name: "Eve\r\nBcc: victim@example.com",
            role: "MEMBER",
            link: "http://app/invitations/accept?token=abc",
            expires_at: chrono::NaiveDateTime::default(),
        });
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail.html_body.contains("&lt;script&gt;"));
        assert!(!mail.html_body.contains("<script>"));
        assert!(
            mail.text_body
                .contains("http://app/invitations/accept?token=abc")
        );
    }
}
