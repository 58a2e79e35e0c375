//! Identity from the product's provider: a real OpenID provider
//! (oauth2-mock-server, started on loopback) signs real tokens, and orgql
//! trusts exactly those it should.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Client, TestApp};
use crate::fixtures::OidcProvider;
use crate::ws::WsClient;

const AUDIENCE: &str = "orgql-test";
const VIEWER: &str = "{ viewer { user { id email name } } }";

pub(crate) async fn spawn_trusting(provider: &OidcProvider) -> TestApp {
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_configured(|config| {
        config.oidc_issuer = Some(issuer);
        config.oidc_audience = Some(AUDIENCE.into());
    })
    .await;
    wait_until_ready(&app).await;
    app
}

async fn wait_until_ready(app: &TestApp) {
    for _ in 0..100 {
        if app.get("/readyz").await.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not ready within 10 s");
}

pub(crate) fn verified(email: &str, name: &str) -> Value {
    json!({ "email": email, "email_verified": true, "name": name })
}

async fn viewer(client: &Client) -> Value {
    client.query(VIEWER, json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_token_signs_in_over_http_and_websocket() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let anonymous = app.anonymous();

    let token = provider
        .token_for("alice-sub", verified("Alice@Example.com", "Alice Liddell"))
        .await;
    let alice = anonymous.with_token(&token);
    let seen = alice.ok(VIEWER, json!({})).await["viewer"]["user"].clone();
    assert_eq!(seen["email"], "alice@example.com");
    assert_eq!(seen["name"], "Alice Liddell");

    // Every asymmetric algorithm the provider signs with, and a fresh token,
    // stand for the same user: the (issuer, sub) pair is who they are.
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let token = provider
            .token(json!({ "alg": alg, "claims": { "sub": "alice-sub", "email": "alice@example.com", "email_verified": true, "name": "Alice Liddell" } }))
            .await;
        let again = anonymous.with_token(&token).ok(VIEWER, json!({})).await;
        assert_eq!(again["viewer"]["user"]["id"], seen["id"], "{alg}");
    }

    // A provider's user works with the API like anyone: here, an organization.
    let org = alice.create_org("Wonderland").await;
    let bob_token = provider
        .token_for("bob-sub", verified("bob@example.com", "Bob"))
        .await;
    let mut bob = anonymous.with_token(&bob_token);
    bob.user_id = bob.ok(VIEWER, json!({})).await["viewer"]["user"]["id"]
        .as_str()
        .map(str::to_owned);
    app.join(&org, &bob, orgql::domain::Role::Member).await;

    // The same token in connection_init signs in a WebSocket.
    let mut live = WsClient::signed_in(&app.url, &bob_token).await;
    live.subscribe(
        "mine",
        "subscription { viewerMembershipChanged { kind role } }",
        json!({}),
    )
    .await;
    let bob_member = alice.member_id(&org, &bob).await;
    alice
        .ok(
            "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }",
            json!({ "m": bob_member }),
        )
        .await;
    let event = live.next("mine").await;
    assert_eq!(event["data"]["viewerMembershipChanged"]["role"], "MANAGER");

    // Sessions from the provider end at the provider.
    let body = bob.query("mutation { logOut }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("sign out at the provider"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_it_must_not_trust_are_unauthenticated() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let now = chrono::Utc::now().timestamp();
    let refused = [
        (
            "wrong audience",
            json!({ "claims": { "aud": "another-app" } }),
        ),
        (
            "wrong issuer",
            json!({ "claims": { "iss": "https://evil.example.com" } }),
        ),
        (
            "issuer with a trailing slash",
            json!({ "claims": { "iss": format!("{}/", provider.issuer) } }),
        ),
        ("expired", json!({ "expiresIn": -120 })),
        ("no expiry", json!({ "claims": { "exp": null } })),
        ("not yet valid", json!({ "claims": { "nbf": now + 3600 } })),
        (
            "issued in the future",
            json!({ "claims": { "iat": now + 3600 } }),
        ),
        ("alg none", json!({ "alg": "none" })),
        ("HS256 keyed with the public key", json!({ "alg": "HS256" })),
        (
            "HS256 with a secret",
            json!({ "alg": "HS256", "secret": "guessable" }),
        ),
        ("unknown kid", json!({ "kid": "unknown-kid" })),
        ("no kid", json!({ "header": { "kid": null } })),
    ];
    for (what, options) in refused {
        let token = provider.token(options).await;
        let client = app.anonymous().with_token(&token);
        let body = viewer(&client).await;
        assert_eq!(body["data"]["viewer"], Value::Null, "{what}: {body}");
        let body = client
            .query(
                "mutation { createOrganization(input: {name: \"X\"}) { organization { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{what}: {body}"
        );
        assert!(
            !body.to_string().contains(&token[..20]),
            "{what}: nothing about the token in the answer"
        );
        // And over WebSocket.
        let mut socket = WsClient::connect(&app.url, "graphql-transport-ws", None).await;
        socket
            .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
            .await;
        assert_eq!(socket.closed().await.0, 4403, "{what}");
    }
    // A token of the right shape is still accepted after all that.
    let good = provider.token_for("carol", json!({})).await;
    assert!(viewer(&app.anonymous().with_token(&good)).await["data"]["viewer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_needs_no_restart_and_made_up_kids_do_not_hammer_the_provider() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let old = provider.token_for("dan", json!({})).await;
    assert!(viewer(&app.anonymous().with_token(&old)).await["data"]["viewer"].is_object());

    provider.rotate().await;
    let new = provider.token_for("dan", json!({})).await;
    let fetches = provider.key_set_fetches().await;
    assert!(
        viewer(&app.anonymous().with_token(&new)).await["data"]["viewer"].is_object(),
        "a token of the new key works at once: its unknown kid refreshed the keys"
    );
    assert_eq!(provider.key_set_fetches().await, fetches + 1);
    assert_eq!(
        viewer(&app.anonymous().with_token(&old)).await["data"]["viewer"],
        Value::Null,
        "the retired key is no longer trusted"
    );

    // A flood of made-up kids costs the provider nothing more for 30 s.
    let before = provider.key_set_fetches().await;
    for n in 0..20 {
        let forged = provider
            .token(json!({ "kid": format!("made-up-{n}") }))
            .await;
        assert_eq!(
            viewer(&app.anonymous().with_token(&forged)).await["data"]["viewer"],
            Value::Null
        );
    }
    assert_eq!(
        provider.key_set_fetches().await,
        before,
        "no refresh within 30 s of the last"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_at_start_does_not_stop_the_server() {
    let mut provider = OidcProvider::start();
    provider.stop();
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_configured(|config| {
        config.oidc_issuer = Some(issuer);
        config.oidc_audience = Some(AUDIENCE.into());
    })
    .await;
    let readiness = app.get("/readyz").await;
    assert_eq!(readiness.status(), 503);
    assert!(
        readiness
            .text()
            .await
            .unwrap()
            .contains("identity provider")
    );
    // Password accounts work meanwhile.
    app.sign_up("erin@example.com").await;

    provider.resume();
    wait_until_ready(&app).await;
    let token = provider.token_for("frank", json!({})).await;
    assert!(viewer(&app.anonymous().with_token(&token)).await["data"]["viewer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_verified_email_accepts_an_invitation_or_joins_an_account() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let owner = app.sign_up("owner@example.com").await;
    let org = owner.create_org("Acme").await;
    owner
        .ok(
            "mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"grace@example.com\", role: MANAGER}) { invitation { id } } }",
            json!({ "org": org }),
        )
        .await;
    let invitation_token = app
        .mailbox
        .invitations()
        .last_to("grace@example.com")
        .await
        .token();
    let accept =
        "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { role } } }";

    // Someone whose provider has not verified the address cannot take the invitation.
    let unverified = provider
        .token_for(
            "mallory",
            json!({ "email": "grace@example.com", "email_verified": false }),
        )
        .await;
    let mallory = app.anonymous().with_token(&unverified);
    assert_eq!(
        mallory
            .error_code(accept, json!({ "t": invitation_token }))
            .await,
        "FORBIDDEN"
    );
    // Grace, verified, can.
    let grace = app.anonymous().with_token(
        &provider
            .token_for("grace", verified("grace@example.com", "Grace"))
            .await,
    );
    let joined = grace.ok(accept, json!({ "t": invitation_token })).await;
    assert_eq!(joined["acceptInvitation"]["member"]["role"], "MANAGER");
    let mallory_user = viewer(&mallory).await["data"]["viewer"]["user"]["id"].clone();
    let grace_user = viewer(&grace).await["data"]["viewer"]["user"]["id"].clone();
    assert_ne!(
        mallory_user, grace_user,
        "an unverified address joins no one's account"
    );

    // A verified address links to the password account that has proven it.
    owner.prove_address(&app).await;
    let owner_id = viewer(&owner).await["data"]["viewer"]["user"]["id"].clone();
    let via_provider = app.anonymous().with_token(
        &provider
            .token_for("owner-at-idp", verified("owner@example.com", "Owner"))
            .await,
    );
    assert_eq!(
        viewer(&via_provider).await["data"]["viewer"]["user"]["id"],
        owner_id
    );

    // The provider later reports a new verified address: orgql follows it.
    let moved = app.anonymous().with_token(
        &provider
            .token_for("grace", verified("grace@new.example.com", "Grace Hopper"))
            .await,
    );
    let user = viewer(&moved).await["data"]["viewer"]["user"].clone();
    assert_eq!(
        (user["id"].clone(), user["email"].clone()),
        (grace_user, json!("grace@new.example.com"))
    );
    let members = owner
        .ok(
            "query($org: ID!) { organization(id: $org) { members(orderBy: {field: EMAIL, direction: ASC}) { nodes { user { email name } } } } }",
            json!({ "org": org }),
        )
        .await;
    assert!(
        members.to_string().contains("grace@new.example.com")
            && members.to_string().contains("Grace Hopper"),
        "{members}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_accounts_can_be_turned_off() {
    let provider = OidcProvider::start();
    let issuer = provider.issuer.clone();
    let app = TestApp::spawn_configured(|config| {
        config.oidc_issuer = Some(issuer);
        config.oidc_audience = Some(AUDIENCE.into());
        config.password_accounts = false;
    })
    .await;
    wait_until_ready(&app).await;
    let sign_up = "mutation { signUp(input: {email: \"x@example.com\", name: \"X\", password: \"password123\"}) { token } }";
    let log_in = "mutation { logIn(input: {email: \"x@example.com\", password: \"password123\"}) { token } }";
    for mutation in [sign_up, log_in] {
        let body = app.anonymous().query(mutation, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("password accounts are turned off"),
            "{message}"
        );
    }
    let token = provider
        .token_for("heidi", verified("heidi@example.com", "Heidi"))
        .await;
    assert!(viewer(&app.anonymous().with_token(&token)).await["data"]["viewer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_signed_in_by_a_token_closes_when_it_expires() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    let token = provider.token(json!({ "expiresIn": 2 })).await;
    let mut live = WsClient::signed_in(&app.url, &token).await;
    let started = std::time::Instant::now();
    let (code, _) = live.closed().await;
    assert_eq!(code, 4403);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_keys_are_kept_while_the_provider_is_down() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    provider.outage(true).await;
    // An unknown kid makes orgql try a refresh, which fails...
    let forged = provider.token(json!({ "kid": "made-up" })).await;
    let forged = viewer(&app.anonymous().with_token(&forged)).await;
    assert_eq!(forged["data"]["viewer"], Value::Null);
    // ...and the keys it had still verify.
    let token = provider.token_for("ivan", json!({})).await;
    assert!(viewer(&app.anonymous().with_token(&token)).await["data"]["viewer"].is_object());
    assert_eq!(app.get("/readyz").await.status(), 200);
    provider.outage(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_address_in_another_unicode_form_is_the_same_account() {
    let provider = OidcProvider::start();
    let app = spawn_trusting(&provider).await;
    // Signed up composed (NFC); the provider's claim is decomposed (NFD).
    let zoe = app.sign_up("zo\u{00EB}@example.com").await;
    zoe.prove_address(&app).await;
    let token = provider
        .token_for("zoe-at-idp", verified("Zoe\u{0308}@Example.com", "Zoë"))
        .await;
    let via_provider = app.anonymous().with_token(&token);
    let seen = viewer(&via_provider).await["data"]["viewer"]["user"].clone();
    assert_eq!(
        seen["id"],
        viewer(&zoe).await["data"]["viewer"]["user"]["id"]
    );
    assert_eq!(seen["email"], "zo\u{00EB}@example.com");
}
