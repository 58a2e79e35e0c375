//! The mails about an account itself: the verification of its address and
//! the reset of its password. They carry a link with a token and nothing a
//! user typed, so nothing in them can be spoofed by another user.

use chrono::NaiveDateTime;

use super::account_tokens::{Issued, Purpose};
use super::mail_text::escape_html;
use super::outbox::OutgoingMail;

/// The mail that carries `issued`'s token to `recipient`, linking to
/// `{app_url}/{page}?token=TOKEN`.
pub fn compose(app_url: &str, recipient: &str, purpose: Purpose, issued: &Issued) -> OutgoingMail {
    let link = format!(
        "{}/{}?token={}",
        app_url.trim_end_matches('/'),
        purpose.page(),
        issued.token
    );
    let words = match purpose {
        Purpose::VerifyEmail => Words {
            subject: "Verify your email address for orgql",
            lead: "Confirm that this address is yours, so that orgql may trust it:",
            action: "Verify your email address",
            otherwise: "If you did not sign up for orgql, ignore this message.",
        },
        Purpose::ResetPassword => Words {
            subject: "Reset your orgql password",
            lead: "Someone asked to reset the password of the orgql account of this address. \
                   Choose a new password:",
            action: "Reset your password",
            otherwise: "If you did not ask for this, ignore this message: \
                        your password stays as it is.",
        },
    };
    letter(recipient, &words, &link, issued.expires_at)
}

struct Words {
    subject: &'static str,
    lead: &'static str,
    action: &'static str,
    otherwise: &'static str,
}

fn letter(recipient: &str, words: &Words, link: &str, expires_at: NaiveDateTime) -> OutgoingMail {
    let expires = expires_at.format("%Y-%m-%d %H:%M UTC");
    let text_body = format!(
        "{lead}\r\n{link}\r\n\r\nThe link works once and expires on {expires}.\r\n{otherwise}\r\n",
        lead = words.lead,
        otherwise = words.otherwise,
    );
    let html_body = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{lead}</p>\n\
         <p><a href=\"{link}\">{action}</a></p>\n\
         <p>The link works once and expires on {expires}.<br>{otherwise}</p>\n</body></html>\n",
        lead = escape_html(words.lead),
        link = escape_html(link),
        action = escape_html(words.action),
        otherwise = escape_html(words.otherwise),
    );
    OutgoingMail {
        recipient: recipient.to_owned(),
        subject: words.subject.to_owned(),
        text_body,
        html_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mail_links_to_its_page_of_the_app() {
        let issued = Issued {
            token: "abc_-1".into(),
            expires_at: NaiveDateTime::default(),
        };
        let verify = compose(
            "https://app.example.com/",
            "ada@example.com",
            Purpose::VerifyEmail,
            &issued,
        );
        assert!(
            verify
                .text_body
                .contains("https://app.example.com/verify-email?token=abc_-1\r\n")
        );
        assert!(
            verify
                .html_body
                .contains("href=\"https://app.example.com/verify-email?token=abc_-1\"")
        );
        let reset = compose(
            "http://app",
            "ada@example.com",
            Purpose::ResetPassword,
            &issued,
        );
        assert!(
            reset
                .text_body
                .contains("http://app/reset-password?token=abc_-1")
        );
        assert_eq!(reset.recipient, "ada@example.com");
    }
}
