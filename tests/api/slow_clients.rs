//! Slow and silent clients are closed: a request head has a deadline, a
//! kept-alive connection an idle timeout, and connections a cap, while
//! ordinary clients (and open WebSockets) go on being served.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orgql::config::Config;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestApp, owner_and_ada};
use crate::ws::WsClient;

const HEADER_DEADLINE: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// How late a close may come on a busy machine.
const LATE: Duration = Duration::from_millis(1500);
const WAIT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUTS: &str = r#"orgql_connection_timeouts_total{deadline="header"}"#;
const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;

fn short_deadlines(config: &mut Config) {
    config.header_read_timeout = HEADER_DEADLINE;
    config.idle_timeout = IDLE_TIMEOUT;
}

/// A `{ __typename }` request, as a client writes it on the wire.
fn request(addr: SocketAddr) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{TYPENAME}",
        TYPENAME.len()
    )
}

/// Sends `{ __typename }` on `socket` and reads the whole answer.
async fn ask(socket: &mut TcpStream, addr: SocketAddr) -> String {
    socket.write_all(request(addr).as_bytes()).await.unwrap();
    answer(socket).await
}

/// The next response on `socket`: its head and its body.
async fn answer(socket: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let read = tokio::time::timeout(WAIT, socket.read(&mut chunk))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")?
                    .trim()
                    .parse()
                    .ok()
            })
            .expect("a content-length");
        if body.len() >= length {
            return text.into_owned();
        }
    }
}

/// How long after `since` the server closes `socket` (a read sees the end
/// or a reset), having answered nothing.
async fn closed_after(socket: &mut (impl AsyncRead + Unpin), since: Instant) -> Duration {
    let mut chunk = [0; 512];
    match tokio::time::timeout(WAIT, socket.read(&mut chunk))
        .await
        .expect("closed in time")
    {
        Ok(0) | Err(_) => since.elapsed(),
        Ok(read) => panic!("answered: {}", String::from_utf8_lossy(&chunk[..read])),
    }
}

async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{series} "))?.parse().ok())
        .unwrap_or_else(|| panic!("{series} in:\n{text}"))
}

fn assert_at_about(elapsed: Duration, deadline: Duration) {
    assert!(
        elapsed >= deadline - Duration::from_millis(100) && elapsed < deadline + LATE,
        "closed after {elapsed:?}, the deadline being {deadline:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_off_at_the_deadline() {
    let app = TestApp::spawn_configured(short_deadlines).await;
    let addr = app.server.addr;
    let connected = Instant::now();
    let (mut from_server, mut to_server) = TcpStream::connect(addr).await.unwrap().into_split();
    let head = request(addr);
    let length = head.len();
    // One byte every 200 ms: the head would take 30 s.
    let trickle = tokio::spawn(async move {
        let mut sent = 0;
        for byte in head.bytes() {
            if to_server.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sent
    });
    // Meanwhile an ordinary client is answered.
    let ordinary = async {
        for _ in 0..5 {
            let data = app.anonymous().ok("{ __typename }", json!({})).await;
            assert_eq!(data["__typename"], "Query");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    };
    let (closed, ()) = tokio::join!(closed_after(&mut from_server, connected), ordinary);
    assert_at_about(closed, HEADER_DEADLINE);
    let sent = tokio::time::timeout(WAIT, trickle).await.unwrap().unwrap();
    assert!(sent < length / 2, "{sent} of {length} bytes went out");
    assert_eq!(metric(&app, HEADER_TIMEOUTS).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = TestApp::spawn_configured(short_deadlines).await;
    let connected = Instant::now();
    let mut silent = TcpStream::connect(app.server.addr).await.unwrap();
    assert_at_about(closed_after(&mut silent, connected).await, HEADER_DEADLINE);
    assert_eq!(metric(&app, HEADER_TIMEOUTS).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_reused_within_the_idle_timeout_and_closed_after_it() {
    let app = TestApp::spawn_configured(short_deadlines).await;
    let addr = app.server.addr;
    let mut socket = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut socket, addr).await.starts_with("HTTP/1.1 200"));
    // Past the first head's deadline, within the idle timeout: the same
    // connection answers the next request.
    tokio::time::sleep(HEADER_DEADLINE + Duration::from_millis(500)).await;
    let second = ask(&mut socket, addr).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(second.contains(r#""__typename":"Query""#), "{second}");
    let answered = Instant::now();
    assert_at_about(closed_after(&mut socket, answered).await, IDLE_TIMEOUT);
    assert_eq!(
        metric(&app, r#"orgql_connection_timeouts_total{deadline="idle"}"#).await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = TestApp::spawn_configured(|config| {
        config.max_connections = 2;
        config.ws_init_timeout = Duration::from_secs(30);
    })
    .await;
    let addr = app.server.addr;
    let mut kept = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut kept, addr).await.starts_with("HTTP/1.1 200"));
    // A WebSocket holds the other slot.
    let websocket = WsClient::connect(&app.url, "graphql-transport-ws", None).await;

    // The kernel lets a third connect, but it is not served...
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(request(addr).as_bytes()).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(700), answer(&mut third)).await;
    assert!(waited.is_err(), "served past the cap: {waited:?}");
    // ...until one closes.
    drop(websocket);
    assert!(answer(&mut third).await.starts_with("HTTP/1.1 200"));
    drop(kept);
    // The third and the one asking for the metrics.
    assert_eq!(metric(&app, "orgql_connections").await, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_websocket_outlives_the_idle_timeout() {
    let app = TestApp::spawn_configured(short_deadlines).await;
    let (owner, ada, _, ada_member) = owner_and_ada(&app).await;
    let mut live = WsClient::signed_in(&app.url, ada.token.as_deref().unwrap()).await;
    live.subscribe(
        "mine",
        "subscription { viewerMembershipChanged { kind role } }",
        json!({}),
    )
    .await;
    // Nothing crosses it for longer than both deadlines (the server pings
    // every 15 s).
    assert!(live.quiet(IDLE_TIMEOUT + HEADER_DEADLINE).await);

    owner.ok("mutation($m: ID!) { updateMemberRole(input: {memberId: $m, role: MANAGER}) { member { id } } }", json!({ "m": ada_member })).await;
    let changed = live.next("mine").await;
    assert_eq!(
        changed["data"]["viewerMembershipChanged"],
        json!({ "kind": "ROLE_CHANGED", "role": "MANAGER" })
    );
}
