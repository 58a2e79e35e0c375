//! Webhook delivery, to the Standard Webhooks receiver fixture of
//! tests/fixtures/webhook-receiver (which checks every delivery with the
//! reference verifier), on loopback over plain HTTP
//! (`--webhook-allow-private-networks true`).
//!
//! (a) 1,000 role changes (`updateMemberRole`, each of another member of an
//! organization of 1,001) to an organization with one endpoint that
//! answers 204 at once: how long until every change is delivered, counted
//! from the first request, and after the last request was answered; the
//! changes sent one request at a time, and 20 requests at once.
//!
//! (b) What webhooks add to a change: the latency of `updateMemberRole`,
//! one at a time, in an organization with no endpoint, with 5 endpoints
//! that answer 204 (deliveries run while the changes are made), and with 5
//! endpoints whose receiver holds every request open without answering
//! (each endpoint's one attempt in flight waits out orgql's 10 s timeout,
//! so no delivery happens during the measurement: what is left is queueing
//! the 5 deliveries in the change's transaction and the worker's wake-up).
//! Each case has its own server; the cases take turns, round by round, and
//! the answering endpoints' deliveries are waited for after each of their
//! rounds so they never overlap another case's. The target: within 10% of
//! no endpoint (reported, not asserted).
//!
//! SQLite always; PostgreSQL too when BENCH_POSTGRES_URL names a server.
//! Run: `BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1 cargo bench --bench webhooks`.
//! Needs Node.js and npm for the receiver.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::fixtures::WebhookReceiver;
use support::{
    Backend, ROLE_CHANGE, ServerProcess, backends, cpu, graphql, quantile_ms, role_changes, seed,
};

/// (a): changes, and requests in flight at once.
const CHANGES: usize = 1_000;
const CONCURRENCY: [usize; 2] = [1, 20];
/// (b): members, endpoints, changes.
const MEMBERS: usize = 1_000;
const ENDPOINTS: usize = 5;
const WARM_UP: usize = 50;
const ROUNDS: usize = 4;
const PER_ROUND: usize = 50;

const ALLOW_LOOPBACK: [&str; 2] = ["--webhook-allow-private-networks", "true"];
const CREATE_ENDPOINT: &str = "mutation($org: ID!, $url: String!) { createWebhookEndpoint(input: {organizationId: $org, url: $url, eventTypes: [\"member.role_changed\"]}) { secret } }";

#[tokio::main]
async fn main() {
    let receiver = WebhookReceiver::start();
    let backends = backends();
    println!(
        "(a) {CHANGES} role changes to an organization with 1 endpoint (answers 204), until every one is delivered"
    );
    println!(
        "{:<11} {:<14} {:>12} {:>10} {:>16} {:>17} {:>13}",
        "backend",
        "requests",
        "mutations s",
        "changes/s",
        "all delivered s",
        "after last ans. s",
        "deliveries/s"
    );
    for backend in &backends {
        for concurrency in CONCURRENCY {
            delivery_time(backend, &receiver, concurrency).await;
        }
    }
    println!(
        "\n(b) updateMemberRole, one at a time: {WARM_UP} to warm up, then {ROUNDS} rounds of {PER_ROUND} per case, the cases taking turns"
    );
    println!(
        "{:<11} {:<36} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "backend", "case", "mean ms", "p50 ms", "p99 ms", "max ms", "p50 ratio", "p99 ratio"
    );
    for backend in &backends {
        role_change_latency(backend, &receiver).await;
    }
    println!("(ratios: to the case without endpoints; target: within 10%, i.e. at most 1.10)");
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Adds an endpoint of `org` for role changes at the receiver's `name`,
/// which answers as `behaviour` says.
async fn endpoint(
    http: &reqwest::Client,
    server: &ServerProcess,
    owner_token: &str,
    org: &str,
    receiver: &WebhookReceiver,
    name: &str,
    behaviour: Value,
) {
    let created = graphql(
        http,
        &server.base_url,
        Some(owner_token),
        CREATE_ENDPOINT,
        json!({ "org": org, "url": receiver.endpoint_url(name) }),
    )
    .await;
    let secret = created["createWebhookEndpoint"]["secret"].as_str().unwrap();
    receiver.configure(name, secret, behaviour).await;
}

/// (a) for one backend, `concurrency` requests at once.
async fn delivery_time(backend: &Backend, receiver: &WebhookReceiver, concurrency: usize) {
    let tag = format!("hooks_a{concurrency}");
    let (dir, database_url) = backend.database(&tag);
    let seeded = seed(&database_url, CHANGES + 1);
    let server = ServerProcess::start(&database_url, &ALLOW_LOOPBACK)
        .await
        .owning(dir);
    let http = reqwest::Client::new();
    let token = seeded.owner_token.clone();
    // Every member but the owner changes role once.
    let changes: Vec<(String, &str)> =
        support::members(&http, &server.base_url, &token, &seeded.org)
            .await
            .into_iter()
            .filter(|m| m.role != "OWNER")
            .map(|m| {
                let to = if m.role == "MEMBER" {
                    "MANAGER"
                } else {
                    "MEMBER"
                };
                (m.id, to)
            })
            .collect();
    assert_eq!(changes.len(), CHANGES);
    let name = format!("all-{}-{concurrency}", backend.name.to_lowercase());
    endpoint(
        &http,
        &server,
        &token,
        &seeded.org,
        receiver,
        &name,
        json!({}),
    )
    .await;

    let changes = Arc::new(changes);
    let next = Arc::new(AtomicUsize::new(0));
    let (started, started_ms) = (Instant::now(), epoch_ms());
    let senders: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, token, changes, next) = (
                http.clone(),
                server.base_url.clone(),
                token.clone(),
                changes.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while let Some((member, role)) = changes.get(next.fetch_add(1, Ordering::Relaxed)) {
                    graphql(
                        &http,
                        &url,
                        Some(&token),
                        ROLE_CHANGE,
                        json!({ "m": member, "role": role }),
                    )
                    .await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let (answered, answered_ms) = (started.elapsed(), epoch_ms());

    // Every change, once (by webhook-id), verified; a repeat would count
    // as a request, so wait for more until every id has come.
    let names = [name.clone()];
    let mut expected = CHANGES as u64;
    let received = loop {
        wait_for_verified(receiver, &names, expected, Duration::from_secs(300)).await;
        let received = receiver.deliveries(&name).await;
        let ids: HashSet<&str> = received
            .iter()
            .map(|d| {
                assert_eq!(d["verified"], true, "{d}");
                assert_eq!(d["body"]["type"], "member.role_changed");
                d["webhookId"].as_str().unwrap()
            })
            .collect();
        if ids.len() == CHANGES {
            break received;
        }
        expected += (CHANGES - ids.len()) as u64;
    };
    // Delivered: when the receiver answered the last of them.
    let delivered_ms = received
        .iter()
        .filter_map(|d| d["answeredAt"].as_f64())
        .fold(0.0, f64::max);
    let total = (delivered_ms - started_ms) / 1000.0;
    let requests = match concurrency {
        1 => "sequential".to_owned(),
        n => format!("{n} concurrent"),
    };
    println!(
        "{:<11} {requests:<14} {:>12.2} {:>10.0} {total:>16.2} {:>17.2} {:>13.0}",
        backend.name,
        answered.as_secs_f64(),
        CHANGES as f64 / answered.as_secs_f64(),
        (delivered_ms - answered_ms) / 1000.0,
        CHANGES as f64 / total,
    );
    drop(server);
    backend.discard(&tag).await;
}

/// One case of (b): its own server and organization.
struct Case {
    label: &'static str,
    server: ServerProcess,
    token: String,
    member: String,
    /// The receiver's names of its endpoints.
    endpoints: Vec<String>,
    /// Whether its endpoints answer (then its deliveries are waited for).
    answering: bool,
    changes: usize,
    latencies: Vec<Duration>,
}

impl Case {
    async fn changes(&mut self, http: &reqwest::Client, receiver: &WebhookReceiver, count: usize) {
        let latencies = role_changes(
            http,
            &self.server.base_url,
            &self.token,
            &self.member,
            count,
        )
        .await;
        self.changes += count;
        if self.answering {
            let expected = (self.endpoints.len() * self.changes) as u64;
            wait_for_verified(
                receiver,
                &self.endpoints,
                expected,
                Duration::from_secs(120),
            )
            .await;
        }
        if self.changes > WARM_UP {
            self.latencies.extend(latencies);
        }
    }
}

/// (b) for one backend.
async fn role_change_latency(backend: &Backend, receiver: &WebhookReceiver) {
    let http = reqwest::Client::new();
    let kinds = [
        ("no endpoint", None),
        ("5 endpoints answering 204", Some(json!({}))),
        (
            "5 endpoints hanging (none delivered)",
            Some(json!({ "hang": true })),
        ),
    ];
    let mut cases = Vec::new();
    for (n, (label, behaviour)) in kinds.into_iter().enumerate() {
        let (dir, database_url) = backend.database(&format!("hooks_b{n}"));
        let seeded = seed(&database_url, MEMBERS);
        let server = ServerProcess::start(&database_url, &ALLOW_LOOPBACK)
            .await
            .owning(dir);
        let member = support::members(&http, &server.base_url, &seeded.owner_token, &seeded.org)
            .await
            .into_iter()
            .find(|m| m.role == "MEMBER")
            .unwrap()
            .id;
        let mut endpoints = Vec::new();
        if let Some(behaviour) = &behaviour {
            for k in 0..ENDPOINTS {
                let name = format!("case{n}-{}-{k}", backend.name.to_lowercase());
                endpoint(
                    &http,
                    &server,
                    &seeded.owner_token,
                    &seeded.org,
                    receiver,
                    &name,
                    behaviour.clone(),
                )
                .await;
                endpoints.push(name);
            }
        }
        cases.push(Case {
            label,
            server,
            token: seeded.owner_token,
            member,
            endpoints,
            answering: behaviour.is_some_and(|b| b.get("hang").is_none()),
            changes: 0,
            latencies: Vec::new(),
        });
    }
    for case in &mut cases {
        case.changes(&http, receiver, WARM_UP).await;
    }
    for _ in 0..ROUNDS {
        for case in &mut cases {
            case.changes(&http, receiver, PER_ROUND).await;
        }
    }

    // The hanging endpoints got their first message each and no answer.
    let received = verified_requests(receiver).await;
    let hanging: u64 = cases[2].endpoints.iter().map(|n| received[n]).sum();
    // And what each server spends idle afterwards, over 2 s.
    let before: Vec<Duration> = cases.iter().map(|c| cpu(c.server.pid())).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<f64> = cases
        .iter()
        .zip(before)
        .map(|(c, before)| (cpu(c.server.pid()) - before).as_secs_f64() * 500.0)
        .collect();

    for case in &mut cases {
        case.latencies.sort();
    }
    let at = |case: &Case, q: f64| quantile_ms(&case.latencies, q);
    let mean = |case: &Case| {
        case.latencies.iter().sum::<Duration>().as_secs_f64() * 1000.0 / case.latencies.len() as f64
    };
    for case in &cases {
        println!(
            "{:<11} {:<36} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.2} {:>10.2}",
            backend.name,
            case.label,
            mean(case),
            at(case, 0.5),
            at(case, 0.99),
            at(case, 1.0),
            at(case, 0.5) / at(&cases[0], 0.5),
            at(case, 0.99) / at(&cases[0], 0.99),
        );
    }
    println!(
        "{:<11} hanging endpoints: {hanging} requests received in all, none answered; idle server CPU afterwards: {:.1} / {:.1} / {:.1} ms per s",
        backend.name, idle[0], idle[1], idle[2]
    );
    for (n, case) in cases.into_iter().enumerate() {
        drop(case);
        backend.discard(&format!("hooks_b{n}")).await;
    }
}

/// How many verified requests each configured endpoint of the receiver has
/// had, by name (its count, cheaper than fetching the records).
async fn verified_requests(receiver: &WebhookReceiver) -> HashMap<String, u64> {
    let listed: Value = reqwest::get(format!("{}/control/endpoints", receiver.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["verifiedRequests"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Waits until the endpoints `names` have had `count` verified requests.
async fn wait_for_verified(
    receiver: &WebhookReceiver,
    names: &[String],
    count: u64,
    within: Duration,
) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let received = verified_requests(receiver).await;
        let total: u64 = names.iter().filter_map(|n| received.get(n)).sum();
        if total >= count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{total} of {count} deliveries arrived within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
