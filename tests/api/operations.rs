//! What operators rely on: graceful shutdown, request ids, JSON logs and
//! Prometheus metrics.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestApp;
use crate::ws::WsClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_and_closes_websockets() {
    let mut app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    let mut live = WsClient::signed_in(&app.url, owner.token.as_deref().unwrap()).await;
    live.subscribe(
        "mine",
        "subscription { viewerMembershipChanged { kind } }",
        json!({}),
    )
    .await;

    // A request whose body is still arriving when the shutdown starts.
    let addr = app.server.addr;
    let body = json!({ "query": "{ __typename }" }).to_string();
    let (first, rest) = body.split_at(5);
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let client = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        socket.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        String::from_utf8(answer).unwrap()
    };
    let (stopped, answer, closed) = tokio::join!(app.server.stop(), client, live.closed());
    stopped.expect("the server stops cleanly");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"__typename\":\"Query\""), "{answer}");
    assert_eq!(closed.0, 1001, "going away: {closed:?}");
    // Nothing new is accepted.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let request = || {
        http.post(&app.url)
            .json(&json!({ "query": "{ __typename }" }))
    };
    let response = request().send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let other = request().send().await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
    // A request id from a proxy in front is kept.
    let response = request()
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "from-the-proxy-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_operations_errors_and_connections() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up("owner@example.com").await;
    for _ in 0..2 {
        owner
            .ok("query ViewerEmail { viewer { user { email } } }", json!({}))
            .await;
    }
    let anonymous = app.anonymous();
    anonymous
        .query("mutation LogOut { logOut }", json!({}))
        .await;
    let mut live = WsClient::signed_in(&app.url, owner.token.as_deref().unwrap()).await;
    let query = "subscription Mine { viewerMembershipChanged { kind } }";
    live.send(json!({ "type": "subscribe", "id": "mine", "payload": { "query": query, "operationName": "Mine" } }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = reqwest::get(app.url.replace("/graphql", "/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in:\n{text}"))
    };
    assert_eq!(
        value("orgql_graphql_requests_total{operation=\"ViewerEmail\"}"),
        2.0
    );
    assert_eq!(
        value("orgql_graphql_request_duration_seconds_count{operation=\"ViewerEmail\"}"),
        2.0
    );
    assert_eq!(
        value("orgql_graphql_requests_total{operation=\"Mine\"}"),
        1.0
    );
    assert_eq!(
        value("orgql_graphql_errors_total{code=\"UNAUTHENTICATED\"}"),
        1.0
    );
    assert_eq!(value("orgql_websocket_connections"), 1.0);
    assert_eq!(value("orgql_subscriptions"), 1.0);
    assert_eq!(value("orgql_outbox_pending_messages"), 0.0);
    assert!(value("orgql_db_pool_connections") >= 1.0);

    drop(live);
    let mut gauge = 1.0;
    for _ in 0..50 {
        let text = reqwest::get(app.url.replace("/graphql", "/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        gauge = text
            .lines()
            .find_map(|l| l.strip_prefix("orgql_websocket_connections ")?.parse().ok())
            .unwrap();
        if gauge == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(gauge, 0.0, "a closed connection is no longer counted");
}

#[test]
fn json_logs_carry_the_request_id() {
    let dir = std::env::temp_dir().join(format!("orgql-json-logs-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgql"))
        .args(["serve", "--log-format", "json", "--bind", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(dir.join("orgql.db"))
        .arg("--mail-dir")
        .arg(dir.join("mail"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_json = || -> Value {
        let line = lines.next().expect("a log line").unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let serving = loop {
        let line = next_json();
        if line["fields"]["message"] == "orgql is serving" {
            break line;
        }
    };
    let graphiql = serving["fields"]["graphiql"].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(&graphiql)
            .header("x-request-id", "trace-me-7")
            .json(&json!({ "query": "query Traced { __typename }" }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let logged = loop {
        let line = next_json();
        if line["fields"]["message"] == "graphql" {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(logged["fields"]["operation"], "Traced", "{logged}");
    assert_eq!(logged["span"]["id"], "trace-me-7", "{logged}");
    assert_eq!(logged["level"], "INFO", "{logged}");
}
