//! A database out of reach is an outage, not a bug: requests answer
//! SERVICE_UNAVAILABLE with a 503 and `Retry-After`, `/readyz` says not
//! ready while it lasts, the log has a line per kind of failure rather than
//! a backtrace per request, and everything works again once it is back.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Client, ScratchDatabase, ServerProcess};
use crate::ws::WsClient;

const VIEWER: &str = "{ viewer { user { email } } }";

/// Asserts that `response` is the outage answer, and returns its body.
async fn assert_unavailable(response: reqwest::Response, what: &str) -> Value {
    assert_eq!(response.status(), 503, "{what}");
    assert_eq!(response.headers()["retry-after"], "2", "{what}");
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{what}: {body}"
    );
    assert_eq!(error["extensions"]["retryAfter"], 2, "{what}: {body}");
    body
}

async fn post(url: &str, token: Option<&str>, query: &str) -> reqwest::Response {
    let request = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(30))
        .json(&json!({ "query": query }));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

async fn ready(url: &str) -> u16 {
    reqwest::get(url.replace("/graphql", "/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// PostgreSQL stopped: a server of the test's own, so no other test notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_postgresql_is_unavailable_not_internal() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |url| url.is_empty()) {
        return; // SQLite cannot be stopped; its outage is a lock, tested below.
    }
    let cluster = crate::pg_cluster::PgCluster::start();
    let server = ServerProcess::start(&cluster.url("orgql_outage"), &[]).await;
    let owner = Client::anonymous_at(&server.url)
        .sign_up("o@example.com")
        .await;
    let org = owner.create_org("Acme").await;
    let token = owner.token.unwrap();
    let mut live = WsClient::signed_in(&server.url, &token).await;
    assert_eq!(ready(&server.url).await, 200);

    cluster.stop();
    for _ in 0..20 {
        assert_unavailable(post(&server.url, Some(&token), VIEWER).await, "signed in").await;
    }
    let anonymous = "{ invitation(token: \"no-such-token\") { email } }";
    assert_unavailable(post(&server.url, None, anonymous).await, "anonymous").await;
    let sign_up = "mutation { signUp(input: {email: \"n@example.com\", name: \"N\", password: \"password123\"}) { token } }";
    assert_unavailable(post(&server.url, None, sign_up).await, "a mutation").await;
    assert_eq!(ready(&server.url).await, 503);
    // Who may watch the organization is read from the database.
    let watch =
        "subscription($org: ID!) { organizationMembershipChanged(organizationId: $org) { kind } }";
    live.subscribe("org", watch, json!({ "org": org })).await;
    let reply = live.recv().await;
    assert_eq!(
        reply["payload"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "a subscription that cannot start: {reply}"
    );

    cluster.resume();
    let mut answered = None;
    for _ in 0..50 {
        let response = post(&server.url, Some(&token), VIEWER).await;
        if response.status() == 200 {
            answered = Some(response.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answered = answered.expect("answers again once the database is back");
    assert_eq!(answered["data"]["viewer"]["user"]["email"], "o@example.com");
    assert_eq!(ready(&server.url).await, 200);

    let log = server.log();
    let outage_lines = log
        .lines()
        .filter(|l| l.contains("database unavailable"))
        .count();
    assert!(
        (1..=6).contains(&outage_lines),
        "a line per kind of failure, not one per request: {outage_lines} in\n{log}"
    );
    assert!(!log.contains("stack backtrace"), "no backtraces:\n{log}");
    assert!(
        !log.contains("internal error"),
        "an outage is not internal:\n{log}"
    );
    // 24 requests failed; the event listener's reconnection tries add a few.
    assert!(
        log.lines().count() <= 12,
        "a few lines, not one a request:\n{log}"
    );
}

/// SQLite's outage: another process holds the file's write lock past the
/// busy timeout. Writes answer SERVICE_UNAVAILABLE; reads (WAL) go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_locked_past_the_busy_timeout_is_unavailable() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        return; // The PostgreSQL outage is the test above.
    }
    let database = ScratchDatabase::new();
    let server = ServerProcess::start(&database.url, &[]).await;
    let owner = Client::anonymous_at(&server.url)
        .sign_up("o@example.com")
        .await;
    let token = owner.token.unwrap();

    let path = database.url.clone();
    let (locked, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let holder = std::thread::spawn(move || {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut lock = diesel::SqliteConnection::establish(&path).unwrap();
        lock.batch_execute("BEGIN EXCLUSIVE").unwrap();
        locked.0.send(()).unwrap();
        release.1.recv().unwrap();
        lock.batch_execute("COMMIT").unwrap();
    });
    locked.1.recv().unwrap();
    let create =
        "mutation { createOrganization(input: {name: \"Locked\"}) { organization { id } } }";
    let body = assert_unavailable(post(&server.url, Some(&token), create).await, "a write").await;
    assert!(
        body["data"].is_null() || body["data"]["createOrganization"].is_null(),
        "{body}"
    );
    release.0.send(()).unwrap();
    holder.join().unwrap();

    let created: Value = post(&server.url, Some(&token), create)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        created["data"]["createOrganization"]["organization"]["id"].is_string(),
        "{created}"
    );
    let log = server.log();
    assert!(log.contains("database unavailable"), "{log}");
    assert!(!log.contains("stack backtrace"), "no backtraces:\n{log}");
}
