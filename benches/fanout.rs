//! Subscription fan-out: N WebSocket connections of one member, each
//! subscribed to viewerMembershipChanged on one server; a role change of
//! that member is pushed to all of them. Prints delivery latency (from the
//! mutation's request to each connection's receipt), the server's resident
//! memory per idle connection, and the CPU per event of the server and of
//! this client process, for N = 1,000 and 10,000.
//!
//! Beside each, the floor of this machine: a process that does nothing but
//! write a message of the same size to each of N loopback TCP connections
//! (blocking writes, one thread per core), read by the same kind of client.
//! On loopback the kernel's receive work runs in the writer's system calls,
//! so the floor's CPU is what one write per subscriber costs any server.
//!
//! Run: `cargo bench --bench fanout` (the server runs as its own release
//! process on SQLite, so its memory is its own).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

use support::{
    ServerProcess, cpu, graphql, join_by_invitation, memory_kib, quantile_ms, scratch, sign_up,
};

const ROUNDS: usize = 5;
/// Set (to `N:LENGTH`) in the floor's writer process, this program run again.
const FLOOR_WRITER: &str = "FANOUT_FLOOR_WRITER";

fn main() {
    if let Ok(shape) = std::env::var(FLOOR_WRITER) {
        let (n, length) = shape.split_once(':').expect("N:LENGTH");
        return floor_writer(n.parse().unwrap(), length.parse().unwrap());
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        println!("subscription fan-out, one role change pushed to N connections, {ROUNDS} rounds");
        println!(
            "{:>7} {:>7} {:>9} {:>9} {:>9} {:>14} {:>18} {:>18}",
            "N",
            "server",
            "p50 ms",
            "p99 ms",
            "max ms",
            "KiB/idle conn",
            "server CPU ms/ev",
            "client CPU ms/ev"
        );
        for n in [1_000, 10_000] {
            let length = run(n).await;
            floor(n, length).await;
        }
    });
}

/// One line of the table.
fn report(
    n: usize,
    server: &str,
    mut latencies: Vec<Duration>,
    idle_kib: Option<f64>,
    cpu: (Duration, Duration),
) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let idle = idle_kib.map_or_else(|| "-".to_owned(), |kib| format!("{kib:.1}"));
    println!(
        "{n:>7} {server:>7} {:>9.1} {:>9.1} {:>9.1} {idle:>14} {:>18.1} {:>18.1}",
        quantile_ms(&latencies, 0.5),
        quantile_ms(&latencies, 0.99),
        ms(*latencies.last().unwrap()),
        ms(cpu.0 / ROUNDS as u32),
        ms(cpu.1 / ROUNDS as u32),
    );
}

/// orgql's fan-out to `n` subscriptions; returns the length of the
/// WebSocket frame a delivery is.
async fn run(n: usize) -> usize {
    let (dir, database_url) = scratch(None);
    let server = ServerProcess::start(&database_url, &[]).await.owning(dir);
    let http = reqwest::Client::new();
    let url = server.base_url.clone();
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
    join_by_invitation(
        &http,
        &server,
        &owner,
        &org,
        "member@example.com",
        "MEMBER",
        &member,
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

    let pid = server.pid();
    let before = memory_kib(pid, "VmRSS:");
    let ready = Arc::new(Barrier::new(n + 1));
    let (receipts, mut received) = tokio::sync::mpsc::unbounded_channel::<(Instant, usize)>();
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
                        let _ = receipts.send((Instant::now(), text.len()));
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
    let idle = memory_kib(pid, "VmRSS:");

    let mut latencies = Vec::with_capacity(n * ROUNDS);
    let mut length = 0;
    let meter = CpuMeter::start(pid);
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
        for (at, text_length) in hear_all(&mut received, n).await {
            latencies.push(at - sent);
            length = text_length;
        }
    }
    let per_connection = idle.saturating_sub(before) as f64 / n as f64;
    report(n, "orgql", latencies, Some(per_connection), meter.used());
    // Closed before the floor opens as many (a process's descriptors are few).
    close(clients).await;
    // A server-to-client frame of this size has a 2-byte header (4 past 125).
    length + if length > 125 { 4 } else { 2 }
}

/// The same fan-out's floor: `length` bytes written to each of `n`
/// loopback connections per event, by a process that does nothing else.
async fn floor(n: usize, length: usize) {
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .env(FLOOR_WRITER, format!("{n}:{length}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the floor's writer starts");
    let mut said = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut said = move || said.next().unwrap().unwrap();
    let port: u16 = said().parse().unwrap();
    let (receipts, mut received) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let receipts = receipts.clone();
        clients.push(tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut buffer, mut pending) = (vec![0; 4096], length);
            while let Ok(read @ 1..) = socket.read(&mut buffer).await {
                pending = pending.saturating_sub(read);
                if pending == 0 {
                    let _ = receipts.send(Instant::now());
                    pending = length;
                }
            }
        }));
    }
    assert_eq!(said(), "ready");
    let mut events = writer.stdin.take().unwrap();
    let mut latencies = Vec::with_capacity(n * ROUNDS);
    let meter = CpuMeter::start(writer.id());
    for _ in 0..ROUNDS {
        let sent = Instant::now();
        events.write_all(b"event\n").unwrap();
        latencies.extend(
            hear_all(&mut received, n)
                .await
                .into_iter()
                .map(|at| at - sent),
        );
    }
    report(n, "floor", latencies, None, meter.used());
    drop(events);
    writer.wait().unwrap();
    close(clients).await;
}

/// One receipt from each of `n` connections, in the order they came.
async fn hear_all<T>(received: &mut UnboundedReceiver<T>, n: usize) -> Vec<T> {
    let mut heard = Vec::with_capacity(n);
    for _ in 0..n {
        let receipt = tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .expect("every connection hears")
            .unwrap();
        heard.push(receipt);
    }
    heard
}

/// CPU used since it started by a server process and by this client.
struct CpuMeter {
    pid: u32,
    server: Duration,
    client: Duration,
}

impl CpuMeter {
    fn start(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            server: cpu(pid),
            client: cpu(std::process::id()),
        }
    }

    fn used(&self) -> (Duration, Duration) {
        (
            cpu(self.pid) - self.server,
            cpu(std::process::id()) - self.client,
        )
    }
}

/// Ends the client tasks and waits until their sockets are closed.
async fn close(clients: Vec<JoinHandle<()>>) {
    for client in clients {
        client.abort();
        let _ = client.await;
    }
}

/// The floor's writer: accepts `n` connections, then writes `length` bytes
/// to each for every line on stdin, one thread per core.
fn floor_writer(n: usize, length: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    let mut sockets: Vec<std::net::TcpStream> = (0..n)
        .map(|_| {
            let (socket, _) = listener.accept().unwrap();
            socket.set_nodelay(true).unwrap();
            socket
        })
        .collect();
    println!("ready");
    let message = vec![b'x'; length];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    for _ in std::io::stdin().lines() {
        std::thread::scope(|scope| {
            for part in sockets.chunks_mut(n.div_ceil(threads)) {
                let message = &message;
                scope.spawn(move || part.iter_mut().for_each(|s| s.write_all(message).unwrap()));
            }
        });
    }
}
