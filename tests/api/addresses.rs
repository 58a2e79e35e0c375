//! Proven addresses and getting back in: verification mails, password
//! resets and changes, over HTTP, with the links read from the mail the
//! SMTP server got, and the OpenID provider the suite runs.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Client, TestApp};
use crate::fixtures::OidcProvider;
use crate::identity::{spawn_trusting, verified};
use crate::ws::WsClient;

const VIEWER: &str = "{ viewer { user { id email emailVerified } } }";
const VERIFY: &str =
    "mutation($t: String!) { verifyEmail(input: {token: $t}) { id email emailVerified } }";
const SEND: &str = "mutation { sendEmailVerification }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(input: {email: $e}) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, password: $p}) { token user { id emailVerified } } }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) }";
const LOG_IN: &str =
    "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { token } }";
const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id emailVerified } member { role } } }";
const INVITE: &str = "mutation($org: ID!, $email: String!) { inviteMember(input: {organizationId: $org, email: $email, role: MEMBER}) { invitation { id } } }";
const ACCEPT: &str =
    "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { role } } }";
const MINE: &str = "subscription { viewerMembershipChanged { kind } }";

async fn viewer(client: &Client) -> Value {
    client.ok(VIEWER, json!({})).await["viewer"]["user"].clone()
}

/// The code and message of the first error of a request that must fail.
async fn refusal(client: &Client, query: &str, variables: Value) -> (String, String) {
    let body = client.query(query, variables).await;
    let error = &body["errors"][0];
    assert!(error.is_object(), "expected an error: {body}");
    (
        error["extensions"]["code"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

async fn log_in(app: &TestApp, email: &str, password: &str) -> Value {
    app.anonymous()
        .query(LOG_IN, json!({ "e": email, "p": password }))
        .await
}

/// Lets mail that was going to arrive do so.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

/// As if `by` had passed since every account token so far was mailed: what
/// the throttles count moves out of their window.
async fn time_passes(app: &TestApp, by: chrono::Duration) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use orgql::db::Conn;
    use orgql::db::schema::account_tokens;
    let then = orgql::domain::now() - by;
    app.server
        .db
        .write(move |tx| {
            Box::pin(async move {
                let update =
                    diesel::update(account_tokens::table).set(account_tokens::created_at.eq(then));
                let updated = match tx {
                    Conn::Postgres(c, _) => update.execute(*c).await,
                    Conn::Sqlite(c, _) => update.execute(*c).await,
                };
                updated.map_err(orgql::domain::DomainError::from)
            })
        })
        .await
        .expect("tokens aged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_proven_by_the_link_of_its_verification_mail() {
    let app = TestApp::spawn().await;
    let input =
        json!({ "input": { "email": "Ada@Example.com", "name": "Ada", "password": "analytical" } });
    let signed_up = app.anonymous().ok(SIGN_UP, input).await["signUp"].clone();
    assert_eq!(signed_up["user"]["emailVerified"], false);
    let ada = app
        .anonymous()
        .with_token(signed_up["token"].as_str().unwrap());
    assert_eq!(viewer(&ada).await["emailVerified"], false);

    // Sign-up sent the mail; its link leads to the app's page.
    let mail = app.mailbox.verifications().last_to("ada@example.com").await;
    assert_eq!(mail.subject(), "Verify your email address for orgql");
    assert!(
        mail.link()
            .starts_with("http://127.0.0.1:8000/verify-email?token="),
        "{}",
        mail.link()
    );
    let token = mail.token();
    assert_eq!(token.len(), 43, "256 bits, URL-safe");

    // Following it is public: the token is the proof.
    let proven = app.anonymous().ok(VERIFY, json!({ "t": token })).await["verifyEmail"].clone();
    assert_eq!(proven["email"], "ada@example.com");
    assert_eq!(proven["emailVerified"], true);
    assert_eq!(proven["id"], signed_up["user"]["id"]);
    assert_eq!(viewer(&ada).await["emailVerified"], true);

    // A link works once, and an unknown one not at all.
    let (code, message) = refusal(&app.anonymous(), VERIFY, json!({ "t": token })).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "BAD_USER_INPUT",
            "this verification link has already been used"
        )
    );
    let (code, message) = refusal(&app.anonymous(), VERIFY, json!({ "t": "no-such-token" })).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("BAD_USER_INPUT", "this verification link is not valid")
    );

    // A proven address is sent nothing more.
    assert_eq!(ada.ok(SEND, json!({})).await["sendEmailVerification"], true);
    settle().await;
    assert_eq!(app.mailbox.verifications().to("ada@example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_link_expires() {
    let app = TestApp::spawn_configured(|config| {
        config.email_verification_ttl = Duration::from_millis(1500);
    })
    .await;
    let ada = app.sign_up("ada@example.com").await;
    let token = app
        .mailbox
        .verifications()
        .last_to("ada@example.com")
        .await
        .token();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (code, message) = refusal(&app.anonymous(), VERIFY, json!({ "t": token })).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "BAD_USER_INPUT",
            "this verification link has expired: ask for a new one"
        )
    );
    assert_eq!(viewer(&ada).await["emailVerified"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_mail_goes_out_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    let first = app
        .mailbox
        .verifications()
        .last_to("ada@example.com")
        .await
        .token();
    // Right after sign-up's mail: the same answer, no second mail.
    assert_eq!(ada.ok(SEND, json!({})).await["sendEmailVerification"], true);
    settle().await;
    assert_eq!(app.mailbox.verifications().to("ada@example.com").len(), 1);

    time_passes(&app, chrono::Duration::minutes(2)).await;
    assert_eq!(ada.ok(SEND, json!({})).await["sendEmailVerification"], true);
    let mails = app.mailbox.verifications().wait_for(2).await;
    let second = mails[1].token();
    assert_ne!(first, second);
    app.anonymous().ok(VERIFY, json!({ "t": second })).await;
    assert_eq!(viewer(&ada).await["emailVerified"], true);
    // Proving the address used up the older link too.
    let (code, _) = refusal(&app.anonymous(), VERIFY, json!({ "t": first })).await;
    assert_eq!(code, "BAD_USER_INPUT");

    // Asking needs a signed-in user.
    assert_eq!(
        app.anonymous().error_code(SEND, json!({})).await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_mailed_to_an_address_proves_it() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;

    // Signing up with the invitation's token: proven at once, and no
    // verification mail.
    owner
        .ok(INVITE, json!({ "org": org, "email": "ada@example.com" }))
        .await;
    let token = app
        .mailbox
        .invitations()
        .last_to("ada@example.com")
        .await
        .token();
    let input = json!({ "input": { "email": "ada@example.com", "name": "Ada", "password": "analytical", "invitationToken": token } });
    let signed_up = app.anonymous().ok(SIGN_UP, input).await["signUp"].clone();
    assert_eq!(signed_up["member"]["role"], "MEMBER");
    assert_eq!(signed_up["user"]["emailVerified"], true);

    // An account that signed up unproven, accepting an invitation mailed to it.
    let bob = app.sign_up("bob@example.com").await;
    assert_eq!(viewer(&bob).await["emailVerified"], false);
    owner
        .ok(INVITE, json!({ "org": org, "email": "bob@example.com" }))
        .await;
    let token = app
        .mailbox
        .invitations()
        .last_to("bob@example.com")
        .await
        .token();
    bob.ok(ACCEPT, json!({ "t": token })).await;
    assert_eq!(viewer(&bob).await["emailVerified"], true);

    settle().await;
    assert!(
        app.mailbox.verifications().to("ada@example.com").is_empty(),
        "no verification mail for an address the invitation proved"
    );
    assert_eq!(app.mailbox.verifications().to("bob@example.com").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_proves_an_address_and_links_only_to_an_account_that_proved_it() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;

    let verified_token = provider
        .token_for("grace-sub", verified("grace@example.com", "Grace"))
        .await;
    let grace = app.anonymous().with_token(&verified_token);
    assert_eq!(viewer(&grace).await["emailVerified"], true);
    let unverified_token = provider
        .token_for(
            "heidi-sub",
            json!({ "email": "heidi@example.com", "email_verified": false }),
        )
        .await;
    let heidi = app.anonymous().with_token(&unverified_token);
    assert_eq!(viewer(&heidi).await["emailVerified"], false);
    // The provider's users prove their address there, and have no password.
    for user in [&grace, &heidi] {
        assert_eq!(user.error_code(SEND, json!({})).await, "BAD_USER_INPUT");
        assert_eq!(
            user.error_code(CHANGE, json!({ "c": "password123", "n": "a new password" }))
                .await,
            "BAD_USER_INPUT"
        );
    }

    // A password account with an unproven address: the provider's user of
    // that address is someone else's account, not a way into this one.
    let carol = app.sign_up("carol@example.com").await;
    let carol_at_idp = app.anonymous().with_token(
        &provider
            .token_for("carol-sub", verified("carol@example.com", "Carol"))
            .await,
    );
    let seen = viewer(&carol_at_idp).await;
    assert_ne!(seen["id"], viewer(&carol).await["id"]);
    assert_eq!(seen["emailVerified"], true);
    // And the password account can no longer prove what the provider has.
    let token = app
        .mailbox
        .verifications()
        .last_to("carol@example.com")
        .await
        .token();
    assert_eq!(
        app.anonymous()
            .error_code(VERIFY, json!({ "t": token }))
            .await,
        "CONFLICT"
    );
    assert_eq!(viewer(&carol).await["emailVerified"], false);

    // Proven first, the same address links.
    let dave = app.sign_up("dave@example.com").await;
    dave.prove_address(&app).await;
    let dave_at_idp = app.anonymous().with_token(
        &provider
            .token_for("dave-sub", verified("dave@example.com", "Dave"))
            .await,
    );
    assert_eq!(viewer(&dave_at_idp).await["id"], viewer(&dave).await["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_reset_from_the_mail_link_and_every_old_session_ends() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    let other = ada.new_session(&app).await;
    let mut live = WsClient::signed_in(&app.url, other.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;

    let asked = app
        .anonymous()
        .ok(REQUEST_RESET, json!({ "e": "ADA@example.com" }))
        .await;
    assert_eq!(asked["requestPasswordReset"], true);
    let mail = app.mailbox.resets().last_to("ada@example.com").await;
    assert_eq!(mail.subject(), "Reset your orgql password");
    assert!(
        mail.link()
            .starts_with("http://127.0.0.1:8000/reset-password?token="),
        "{}",
        mail.link()
    );
    let token = mail.token();

    // The new password meets sign-up's rule; a refusal leaves the link usable.
    let (code, _) = refusal(&app.anonymous(), RESET, json!({ "t": token, "p": "short" })).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let reset = app
        .anonymous()
        .ok(RESET, json!({ "t": token, "p": "a brand new secret" }))
        .await["resetPassword"]
        .clone();
    assert_eq!(reset["user"]["id"].as_str(), ada.user_id.as_deref());
    assert_eq!(reset["user"]["emailVerified"], true, "the link proved it");

    // Every session the account had is refused, and its sockets closed.
    assert_eq!(live.closed().await.0, 4403);
    for old in [&ada, &other] {
        assert_eq!(old.ok(VIEWER, json!({})).await["viewer"], Value::Null);
        assert_eq!(old.error_code(SEND, json!({})).await, "UNAUTHENTICATED");
    }
    let fresh = app.anonymous().with_token(reset["token"].as_str().unwrap());
    assert_eq!(viewer(&fresh).await["emailVerified"], true);
    let old_password = log_in(&app, "ada@example.com", "password123").await;
    assert_eq!(
        old_password["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let new_password = log_in(&app, "ada@example.com", "a brand new secret").await;
    assert!(new_password["data"]["logIn"]["token"].is_string());

    // The link worked once.
    let (code, message) = refusal(
        &app.anonymous(),
        RESET,
        json!({ "t": token, "p": "yet another secret" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "BAD_USER_INPUT",
            "this password reset link has already been used"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_link_expires() {
    let app = TestApp::spawn_configured(|config| {
        config.password_reset_ttl = Duration::from_millis(1500);
    })
    .await;
    app.sign_up("ada@example.com").await;
    app.anonymous()
        .ok(REQUEST_RESET, json!({ "e": "ada@example.com" }))
        .await;
    let token = app
        .mailbox
        .resets()
        .last_to("ada@example.com")
        .await
        .token();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (code, message) = refusal(
        &app.anonymous(),
        RESET,
        json!({ "t": token, "p": "a brand new secret" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "BAD_USER_INPUT",
            "this password reset link has expired: ask for a new one"
        )
    );
    let still = log_in(&app, "ada@example.com", "password123").await;
    assert!(still["data"]["logIn"]["token"].is_string(), "{still}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_answer_and_no_mail_for_an_unknown_address_or_a_provider_account() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    app.sign_up("ada@example.com").await;
    let grace = app.anonymous().with_token(
        &provider
            .token_for("grace-sub", verified("grace@example.com", "Grace"))
            .await,
    );
    viewer(&grace).await;

    let mut answers = Vec::new();
    for email in ["nobody@example.com", "grace@example.com", "ada@example.com"] {
        answers.push(
            app.anonymous()
                .query(REQUEST_RESET, json!({ "e": email }))
                .await,
        );
    }
    assert!(
        answers
            .iter()
            .all(|a| *a == json!({ "data": { "requestPasswordReset": true } })),
        "{answers:?}"
    );
    app.mailbox.resets().last_to("ada@example.com").await;
    settle().await;
    for email in ["nobody@example.com", "grace@example.com"] {
        assert!(app.mailbox.to(email).is_empty(), "mail to {email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mail_is_throttled_per_account_with_the_same_answer() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    // However the address is written, it is one address and one account.
    for email in [
        "ada@example.com",
        "ADA@example.com",
        " ada@Example.com",
        "ada@example.com",
    ] {
        let answer = app
            .anonymous()
            .query(REQUEST_RESET, json!({ "e": email }))
            .await;
        assert_eq!(answer, json!({ "data": { "requestPasswordReset": true } }));
    }
    app.mailbox.resets().wait_for(3).await;
    settle().await;
    assert_eq!(app.mailbox.resets().to("ada@example.com").len(), 3);

    // An hour later, the account may have another.
    time_passes(&app, chrono::Duration::minutes(61)).await;
    app.anonymous()
        .ok(REQUEST_RESET, json!({ "e": "ada@example.com" }))
        .await;
    app.mailbox.resets().wait_for(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_its_attempts_gets_the_same_answer_and_no_mail() {
    let app = TestApp::spawn_configured(|config| config.auth_rate_limit = 3).await;
    // signUp spends one of the client's attempts, the first two requests the rest.
    app.sign_up("ada@example.com").await;
    for _ in 0..3 {
        let answer = app
            .anonymous()
            .query(REQUEST_RESET, json!({ "e": "bob@example.com" }))
            .await;
        assert_eq!(answer, json!({ "data": { "requestPasswordReset": true } }));
    }
    let answer = app
        .anonymous()
        .query(REQUEST_RESET, json!({ "e": "ada@example.com" }))
        .await;
    assert_eq!(answer, json!({ "data": { "requestPasswordReset": true } }));
    settle().await;
    assert!(app.mailbox.resets().all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn_configured(|config| {
        config.login_cooldown = Duration::from_millis(1500);
    })
    .await;
    let ada = app.sign_up("ada@example.com").await;
    let other = ada.new_session(&app).await;
    let mut live = WsClient::signed_in(&app.url, other.token.as_deref().unwrap()).await;
    live.subscribe("mine", MINE, json!({})).await;

    // A wrong current password is refused as a log-in is, and counts as one:
    // five from one address, and the account cools off.
    for _ in 0..5 {
        let (code, message) = refusal(
            &ada,
            CHANGE,
            json!({ "c": "not my password", "n": "a brand new secret" }),
        )
        .await;
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("UNAUTHENTICATED", "the current password is not correct")
        );
    }
    let cooling = log_in(&app, "ada@example.com", "password123").await;
    assert_eq!(
        cooling["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{cooling}"
    );
    // Nothing changed meanwhile: the other session and its socket live on.
    assert!(viewer(&other).await.is_object());
    live.send(json!({ "type": "ping" })).await;
    assert_eq!(live.recv().await["type"], "pong");
    tokio::time::sleep(Duration::from_millis(1600)).await;

    // The new password meets sign-up's rule.
    assert_eq!(
        ada.error_code(CHANGE, json!({ "c": "password123", "n": "short" }))
            .await,
        "BAD_USER_INPUT"
    );
    let changed = ada
        .ok(
            CHANGE,
            json!({ "c": "password123", "n": "a brand new secret" }),
        )
        .await;
    assert_eq!(changed["changePassword"], true);
    // The other session ends, with its socket; this one stays.
    assert_eq!(live.closed().await.0, 4403);
    assert_eq!(other.ok(VIEWER, json!({})).await["viewer"], Value::Null);
    assert!(viewer(&ada).await.is_object());
    let new_password = log_in(&app, "ada@example.com", "a brand new secret").await;
    assert!(
        new_password["data"]["logIn"]["token"].is_string(),
        "{new_password}"
    );
    let old_password = log_in(&app, "ada@example.com", "password123").await;
    assert_eq!(
        old_password["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_password_voids_the_reset_links_mailed_before_it() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    app.anonymous()
        .ok(REQUEST_RESET, json!({ "e": "ada@example.com" }))
        .await;
    let token = app
        .mailbox
        .resets()
        .last_to("ada@example.com")
        .await
        .token();
    ada.ok(
        CHANGE,
        json!({ "c": "password123", "n": "a brand new secret" }),
    )
    .await;
    let (code, message) = refusal(
        &app.anonymous(),
        RESET,
        json!({ "t": token, "p": "the attacker's choice" }),
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "BAD_USER_INPUT",
            "this password reset link has already been used"
        )
    );
}

/// The upgrade's choice for accounts made before addresses were proven:
/// those that showed they read their mail (linked to a provider identity by
/// its verified address, or accepted an invitation mailed to them) stay
/// proven; the others are unproven, and keep everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_keeps_proven_only_the_accounts_that_showed_they_read_their_mail() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    let linked = app.sign_up("linked@example.com").await;
    let invited = app.sign_up("invited@example.com").await;
    let plain = app.sign_up("plain@example.com").await;
    owner
        .ok(
            INVITE,
            json!({ "org": org, "email": "invited@example.com" }),
        )
        .await;
    let token = app
        .mailbox
        .invitations()
        .last_to("invited@example.com")
        .await
        .token();
    invited.ok(ACCEPT, json!({ "t": token })).await;

    // Before the upgrade every password account counted as proven, and a
    // provider's verified address linked to it.
    run_sql(&app, |_| {
        "UPDATE users SET email_verified = TRUE WHERE password_hash <> ''".to_owned()
    })
    .await;
    let via_provider = app.anonymous().with_token(
        &provider
            .token_for("linked-sub", verified("linked@example.com", "Linked"))
            .await,
    );
    assert_eq!(
        viewer(&via_provider).await["id"],
        viewer(&linked).await["id"]
    );

    run_sql(&app, the_upgrade).await;
    let proven = |v: Value| v["emailVerified"].clone();
    assert_eq!(proven(viewer(&linked).await), true);
    assert_eq!(proven(viewer(&invited).await), true);
    assert_eq!(proven(viewer(&plain).await), false);
    assert_eq!(proven(viewer(&owner).await), false);
    // Everything else works as before: log-in, the organization, and the
    // way to prove the address.
    let again = log_in(&app, "owner@example.com", "password123").await;
    assert!(again["data"]["logIn"]["token"].is_string());
    assert!(!owner.member_id(&org, &owner).await.is_empty());
    plain.prove_address(&app).await;
}

/// The statement of the migration (its text for the backend under test)
/// that decides which accounts stay proven.
fn the_upgrade(migration: &str) -> String {
    let start = migration
        .find("UPDATE users")
        .expect("the upgrade's UPDATE");
    let end = start + migration[start..].find(';').expect("its end");
    migration[start..end].to_owned()
}

/// Runs the SQL that `statement` makes of the proven-addresses migration of
/// the backend under test.
async fn run_sql(app: &TestApp, statement: fn(&str) -> String) {
    use diesel_async::RunQueryDsl;
    use orgql::db::Conn;
    const SQLITE: &str =
        include_str!("../../migrations/sqlite/2026-12-08-000010_proven_addresses/up.sql");
    const POSTGRES: &str =
        include_str!("../../migrations/postgres/2026-12-08-000010_proven_addresses/up.sql");
    app.server
        .db
        .write(move |tx| {
            Box::pin(async move {
                let done = match tx {
                    Conn::Postgres(c, _) => {
                        diesel::sql_query(statement(POSTGRES)).execute(*c).await
                    }
                    Conn::Sqlite(c, _) => diesel::sql_query(statement(SQLITE)).execute(*c).await,
                };
                done.map_err(orgql::domain::DomainError::from)
            })
        })
        .await
        .expect("the statement runs");
}
