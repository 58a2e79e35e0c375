//! Subscription fan-out: N WebSocket connections of one member, each
//! subscribed to viewerMembershipChanged on one server; a role change of
//! that member is pushed to all of them. Prints delivery latency (from the
//! mutation's request to each connection's receipt) and the server's
//! resident memory per idle connection, for N = 1,000 and 10,000.
//!
//! Run: `cargo bench --bench fanout` (the server runs as its own release
//! process on SQLite, so its memory is its own).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    println!("subscription fan-out, one role change pushed to N connections, {ROUNDS} rounds");
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>14}",
        "N", "p50 ms", "p99 ms", "max ms", "KiB/idle conn"
    );
    for n in [1_000, 10_000] {
        run(n).await;
    }
}

struct ServerProcess {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server() -> ServerProcess {
    let dir = std::env::temp_dir().join(format!(
        "orgql-fanout-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_orgql"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            dir.join("bench.db").to_str().unwrap(),
        ])
        .args(["--mail-dir", dir.join("mail").to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the orgql binary starts");
    let server = ServerProcess {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{}/readyz", server.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not become ready");
}

/// CPU time the process has used, user and system.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn graphql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn sign_up(http: &reqwest::Client, url: &str, email: &str) -> String {
    let query = "mutation($input: SignUpInput!) { signUp(input: $input) { token } }";
    let input = json!({ "input": { "email": email, "name": email, "password": "benchmark" } });
    graphql(http, url, None, query, input).await["signUp"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn run(n: usize) {
    let server = start_server().await;
    let http = reqwest::Client::new();
    let url = server.url.clone();
    let owner = sign_up(&http, &url, "owner@example.com").await;
    let member = sign_up(&http, &url, "member@example.com").await;
    let org = graphql(
        &http,
        &url,
        Some(&owner),
        "mutation { createOrganization(input: {name: \"Fan-out\"}) { organization { id } } }",
        json!({}),
    )
    .await["createOrganization"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invite = "mutation($org: ID!) { inviteMember(input: {organizationId: $org, email: \"member@example.com\", role: MEMBER}) { invitation { id } } }";
    graphql(&http, &url, Some(&owner), invite, json!({ "org": org })).await;
    let token = invitation_token(&server.dir.join("mail")).await;
    graphql(
        &http,
        &url,
        Some(&member),
        "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { id } } }",
        json!({ "t": token }),
    )
    .await;
    let members = graphql(
        &http,
        &url,
        Some(&owner),
        "query($org: ID!) { organization(id: $org) { members(role: MEMBER) { nodes { id } } } }",
        json!({ "org": org }),
    )
    .await;
    let member_id = members["organization"]["members"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let pid = server.child.id();
    let before = rss_kib(pid);
    let ready = Arc::new(Barrier::new(n + 1));
    let (receipts, mut received) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (ws_url, member, ready, receipts) = (
            url.replace("http://", "ws://") + "/graphql/ws",
            member.clone(),
            ready.clone(),
            receipts.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut request = ws_url.into_client_request().unwrap();
            request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
            let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connects");
            let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {member}") } });
            socket.send(Message::Text(init.to_string().into())).await.unwrap();
            socket.next().await.unwrap().unwrap();
            let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": "subscription { viewerMembershipChanged { kind role } }" } });
            socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
            ready.wait().await;
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.contains("\"next\"") {
                        let _ = receipts.send(Instant::now());
                    } else if text.contains("\"ping\"") {
                        let _ = socket.send(Message::Text(json!({ "type": "pong" }).to_string().into())).await;
                    }
                }
            }
        }));
    }
    ready.wait().await;
    // Let every subscription reach the bus and the server settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(pid);

    let mut latencies = Vec::with_capacity(n * ROUNDS);
    let cpu_before = cpu(pid);
    let roles = ["MANAGER", "MEMBER"];
    for round in 0..ROUNDS {
        let change = "mutation($m: ID!, $role: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $role}) { member { role } } }";
        let sent = Instant::now();
        graphql(
            &http,
            &url,
            Some(&owner),
            change,
            json!({ "m": member_id, "role": roles[round % 2] }),
        )
        .await;
        for _ in 0..n {
            let at = tokio::time::timeout(Duration::from_secs(30), received.recv())
                .await
                .expect("every connection hears")
                .unwrap();
            latencies.push(at - sent);
        }
    }
    let server_cpu = (cpu(pid) - cpu_before) / ROUNDS as u32;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let per_connection = idle.saturating_sub(before) as f64 / n as f64;
    println!(
        "{n:>7} {:>9.1} {:>9.1} {:>9.1} {:>14.1} {:>16.1}",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(*latencies.last().unwrap()),
        per_connection,
        ms(server_cpu)
    );
    for client in clients {
        client.abort();
    }
}

/// The token of the one invitation email the server wrote as a file.
async fn invitation_token(mail_dir: &std::path::Path) -> String {
    for _ in 0..100 {
        if let Some(entry) = std::fs::read_dir(mail_dir).ok().and_then(|mut d| d.next()) {
            let text = std::fs::read_to_string(entry.unwrap().path())
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=");
            let start = text.find("token=").unwrap() + "token=".len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no invitation email was written");
}
