//! Subscription fan-out: N WebSocket connections of one member, each
//! subscribed to viewerMembershipChanged on one server; a role change of
//! that member is pushed to all of them. Prints delivery latency (from the
//! mutation's request to each connection's receipt) and the server's
//! resident memory per idle connection, for N = 1,000 and 10,000.
//!
//! Run: `cargo bench --bench fanout` (the server runs as its own release
//! process on SQLite, so its memory is its own).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod support;

use support::{
    ServerProcess, cpu, graphql, join_by_invitation, memory_kib, quantile_ms, scratch, sign_up,
};

const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    println!("subscription fan-out, one role change pushed to N connections, {ROUNDS} rounds");
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>14} {:>16}",
        "N", "p50 ms", "p99 ms", "max ms", "KiB/idle conn", "CPU ms/event"
    );
    for n in [1_000, 10_000] {
        run(n).await;
    }
}

async fn run(n: usize) {
    let (dir, database_url) = scratch(None);
    let server = ServerProcess::start(dir, database_url, &[]).await;
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

    let pid = server.child.id();
    let before = memory_kib(pid, "VmRSS:");
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
    let idle = memory_kib(pid, "VmRSS:");

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
    let per_connection = idle.saturating_sub(before) as f64 / n as f64;
    println!(
        "{n:>7} {:>9.1} {:>9.1} {:>9.1} {:>14.1} {:>16.1}",
        quantile_ms(&latencies, 0.5),
        quantile_ms(&latencies, 0.99),
        ms(*latencies.last().unwrap()),
        per_connection,
        ms(server_cpu)
    );
    for client in clients {
        client.abort();
    }
}
