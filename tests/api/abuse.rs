//! Abuse limits: CORS, attempts at secrets per address, request time,
//! WebSocket connections and subscriptions. Each refuses with a clear error
//! while ordinary use goes on.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::TestApp;
use crate::ws::WsClient;

const MINE: &str = "subscription { viewerMembershipChanged { kind role } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_only_allowed_origins() {
    let preflight = |app: &TestApp, origin: &'static str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, app.url.clone())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let allowed = |response: &reqwest::Response| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Off by default: no browser on another origin may call.
    let app = TestApp::spawn().await;
    let response = preflight(&app, "https://app.example.com").await.unwrap();
    assert_eq!(allowed(&response), None);

    let app = TestApp::spawn_configured(|c| {
        c.cors_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let response = preflight(&app, "https://app.example.com").await.unwrap();
    assert!(response.status().is_success());
    assert_eq!(
        allowed(&response).as_deref(),
        Some("https://app.example.com")
    );
    let methods = response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let response = preflight(&app, "https://evil.example.net").await.unwrap();
    assert_eq!(allowed(&response), None);
    // The actual request from the allowed origin carries the header too.
    let response = reqwest::Client::new()
        .post(&app.url)
        .header("origin", "https://app.example.com")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed(&response).as_deref(),
        Some("https://app.example.com")
    );
}

#[test]
fn a_bad_cors_origin_stops_the_server() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orgql"))
        .args([
            "--cors-origins",
            "https://app.example.com/path",
            "--database-url",
            "sqlite://:memory:",
            "--bind",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CORS_ORIGINS"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_at_passwords_are_limited_per_address() {
    let app = TestApp::spawn_configured(|c| c.auth_rate_limit = 3).await;
    let owner = app.sign_up("owner@example.com").await; // attempt 1
    let log_in = "mutation($p: String!) { logIn(input: {email: \"owner@example.com\", password: $p}) { token } }";
    let anonymous = app.anonymous();
    let guess = |password: &'static str| anonymous.query(log_in, json!({ "p": password }));
    assert_eq!(
        guess("wrong-1").await["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        guess("wrong-2").await["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    // The fourth attempt in a minute is refused, even with the right password.
    let refused = guess("password123").await;
    let error = &refused["errors"][0];
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{refused}");
    let retry_after = error["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=20).contains(&retry_after), "{refused}");
    // Invitation tokens are secrets too.
    let preview = app
        .anonymous()
        .query("{ invitation(token: \"guess\") { email } }", json!({}))
        .await;
    assert_eq!(preview["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    // Everything else goes on.
    owner.create_org("Acme").await;
    owner.ok("{ viewer { user { email } } }", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_each_client_has_its_own_allowance() {
    // The error code of one logIn attempt arriving with this X-Forwarded-For.
    async fn attempt(app: &TestApp, forwarded_for: &str) -> String {
        let log_in = "mutation { logIn(input: {email: \"nobody@example.com\", password: \"guess\"}) { token } }";
        let body: Value = reqwest::Client::new()
            .post(&app.url)
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({ "query": log_in }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    let app = TestApp::spawn_configured(|c| {
        c.auth_rate_limit = 2;
        c.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await;
    // The proxy appends the address it saw; what comes before is the client's word.
    for _ in 0..2 {
        assert_eq!(
            attempt(&app, "10.9.9.9, 203.0.113.1").await,
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        attempt(&app, "10.9.9.8, 203.0.113.1").await,
        "LIMIT_EXCEEDED",
        "the client cannot pick its address"
    );
    assert_eq!(
        attempt(&app, "203.0.113.2").await,
        "UNAUTHENTICATED",
        "another client has its own allowance"
    );

    // Without the setting the header is ignored: one address, one allowance.
    let app = TestApp::spawn_configured(|c| c.auth_rate_limit = 2).await;
    for forwarded_for in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(attempt(&app, forwarded_for).await, "UNAUTHENTICATED");
    }
    assert_eq!(attempt(&app, "203.0.113.3").await, "LIMIT_EXCEEDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlasts_the_timeout_is_answered_with_503() {
    let app = TestApp::spawn_configured(|c| c.request_timeout = Duration::from_millis(500)).await;
    // A client that sends its headers and then too little of its body.
    let mut socket = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\":",
        app.server.addr
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 4096];
        loop {
            let n = socket.read(&mut buffer).await.unwrap();
            answer.extend_from_slice(&buffer[..n]);
            if n == 0 || String::from_utf8_lossy(&answer).contains("LIMIT_EXCEEDED") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "answered within the timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("LIMIT_EXCEEDED"), "{answer}");
    // A request that does its part is answered as usual.
    app.anonymous().ok("{ __typename }", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_beyond_the_limit_are_refused() {
    let app = TestApp::spawn_configured(|c| c.max_ws_connections = 2).await;
    let owner = app.sign_up("owner@example.com").await;
    let token = owner.token.clone().unwrap();
    let first = WsClient::signed_in(&app.url, &token).await;
    let _second = WsClient::signed_in(&app.url, &token).await;
    let mut request = format!("{}/ws", app.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(request.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
        }
        other => panic!("a third connection is refused: {other:?}"),
    }
    // A closed connection frees its place.
    drop(first);
    let mut reconnected = None;
    for _ in 0..50 {
        if let Ok((socket, _)) = tokio_tungstenite::connect_async(request.clone()).await {
            reconnected = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnected.is_some(), "a place came free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_limits_hold_over_websocket_too() {
    let app = TestApp::spawn_configured(|c| c.max_query_aliases = 1).await;
    let owner = app.sign_up("owner@example.com").await;
    let mut live = WsClient::signed_in(&app.url, owner.token.as_deref().unwrap()).await;
    let aliased = "subscription { a: viewerMembershipChanged { k: kind } }";
    live.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": aliased } }))
        .await;
    let refused = live.recv().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    // A query that does not validate is the client's error, coded as such.
    live.send(
        json!({ "type": "subscribe", "id": "2", "payload": { "query": "subscription { nope }" } }),
    )
    .await;
    let invalid = live.recv().await;
    assert_eq!(invalid["type"], "error", "{invalid}");
    assert_eq!(
        invalid["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_beyond_the_limit_get_an_error_and_the_rest_go_on() {
    let app = TestApp::spawn_configured(|c| c.max_subscriptions_per_connection = 1).await;
    let (owner, ada, _, ada_member) = crate::common::owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    live.subscribe("first", MINE, json!({})).await;
    live.send(json!({ "type": "subscribe", "id": "second", "payload": { "query": MINE } }))
        .await;
    let refused = live.recv().await;
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("error"), Some("second")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    owner
        .ok(
            "mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { role } } }",
            json!({ "m": ada_member }),
        )
        .await;
    assert_eq!(
        live.next("first").await["data"]["viewerMembershipChanged"]["role"],
        "MANAGER"
    );
}

/// A lecturer invites a class of 100; every student signs up, logs in and
/// accepts the invitation, all from one campus address, with the default
/// limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classroom_behind_one_address_gets_in() {
    let defaults = orgql::config::Config::with_database("unused.db");
    let app = TestApp::spawn_configured(|c| {
        c.auth_rate_limit = defaults.auth_rate_limit;
        c.login_cooldown = defaults.login_cooldown;
    })
    .await;
    let lecturer = app.sign_up("lecturer@example.com").await;
    let course = lecturer.create_org("Quantum 101").await;
    let students = 100;
    let csv: String = std::iter::once("email,role".to_owned())
        .chain((0..students).map(|n| format!("student{n}@example.com,member")))
        .collect::<Vec<_>>()
        .join("\n");
    lecturer
        .ok(
            "mutation($org: ID!, $csv: String!) { bulkInviteMembers(input: {organizationId: $org, csv: $csv}) { invitedCount } }",
            json!({ "org": course, "csv": csv }),
        )
        .await;
    app.mailbox.invitations().wait_for(students).await;
    let student = |n: usize| {
        let app = &app;
        async move {
            let email = format!("student{n}@example.com");
            let anonymous = app.anonymous();
            let codes = |body: &Value| {
                body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned)
            };
            let signed_up = anonymous
                .query(
                    "mutation($e: String!) { signUp(input: {email: $e, name: \"Student\", password: \"password123\"}) { token } }",
                    json!({ "e": email }),
                )
                .await;
            let logged_in = anonymous
                .query(
                    "mutation($e: String!) { logIn(input: {email: $e, password: \"password123\"}) { token } }",
                    json!({ "e": email }),
                )
                .await;
            let token = logged_in["data"]["logIn"]["token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let invitation = app.mailbox.invitations().last_to(&email).await.token();
            let joined = anonymous
                .with_token(&token)
                .query(
                    "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { role } } }",
                    json!({ "t": invitation }),
                )
                .await;
            [codes(&signed_up), codes(&logged_in), codes(&joined)]
        }
    };
    let mut refused = Vec::new();
    for batch in (0..students).collect::<Vec<_>>().chunks(10) {
        let answers = futures_util::future::join_all(batch.iter().map(|n| student(*n))).await;
        refused.extend(answers.into_iter().flatten().flatten());
    }
    assert!(refused.is_empty(), "every student got in: {refused:?}");
    let members = lecturer
        .ok(
            "query($org: ID!) { organization(id: $org) { members { totalCount } } }",
            json!({ "org": course }),
        )
        .await;
    assert_eq!(
        members["organization"]["members"]["totalCount"],
        students + 1
    );
}

/// Wrong passwords for one account, from a new address each time: refused
/// after 10 failures whatever the addresses, the right password too, until
/// the cool-off ends; nobody else is locked out meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guesser_is_stopped_at_the_account_and_its_owner_gets_back_in() {
    let app = TestApp::spawn_configured(|c| {
        c.client_ip_header = Some("X-Forwarded-For".into());
        c.login_cooldown = Duration::from_secs(2);
    })
    .await;
    app.sign_up("ada@example.com").await;
    app.sign_up("bob@example.com").await;
    let log_in = |email: &'static str, password: &'static str, address: String| {
        let url = app.url.clone();
        async move {
            let query = "mutation($e: String!, $p: String!) { logIn(input: {email: $e, password: $p}) { token } }";
            let body: Value = reqwest::Client::new()
                .post(url)
                .header("x-forwarded-for", address)
                .json(&json!({ "query": query, "variables": { "e": email, "p": password } }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }
    };
    let mut failures_answered = 0;
    let mut first_refusal = None;
    for n in 0..30 {
        let body = log_in("ada@example.com", "wrong-guess", format!("198.51.100.{n}")).await;
        match body["errors"][0]["extensions"]["code"].as_str() {
            Some("UNAUTHENTICATED") if first_refusal.is_none() => failures_answered += 1,
            Some("LIMIT_EXCEEDED") => {
                first_refusal.get_or_insert(
                    body["errors"][0]["extensions"]["retryAfter"]
                        .as_u64()
                        .unwrap(),
                );
            }
            other => panic!("attempt {n}: {other:?} {body}"),
        }
    }
    assert!(
        (10..=20).contains(&failures_answered),
        "{failures_answered} guesses answered"
    );
    assert!(
        first_refusal.is_some_and(|wait| (1..=2).contains(&wait)),
        "{first_refusal:?}"
    );
    // The owner, elsewhere, waits too; Bob, from the guesser's address, does not.
    let owner = log_in("ada@example.com", "password123", "203.0.113.7".into()).await;
    assert_eq!(owner["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    let bob = log_in("bob@example.com", "password123", "198.51.100.1".into()).await;
    assert!(bob["data"]["logIn"]["token"].is_string(), "{bob}");
    // The cool-off ends.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let owner = log_in("ada@example.com", "password123", "203.0.113.7".into()).await;
    assert!(owner["data"]["logIn"]["token"].is_string(), "{owner}");
}
