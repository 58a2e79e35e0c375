//! Members-page throughput and latency: 64 clients over HTTP keep-alive ask
//! for `members(first: 50)` with each member's user, role, permissions,
//! credits and seat, and `totalCount`, in organizations of 1,000 and
//! 100,000 members; the first page and a page from the middle, in join
//! order and in email order. Then the latency of a single role change.
//! SQLite always; PostgreSQL too when BENCH_POSTGRES_URL names a server
//! (e.g. postgres://postgres@127.0.0.1).
//!
//! Run: `BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1 cargo bench --bench members_page`
//! (BENCH_SECONDS sets each measurement's length, default 5). The server is
//! the release binary in its own process; the clients share its two cores.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{ServerProcess, drop_database, graphql, memory_kib, orgql, quantile_ms, scratch};

const CLIENTS: usize = 64;
const SIZES: [usize; 2] = [1_000, 100_000];

const PAGE: &str = "query Page($org: ID!, $after: String, $order: MemberOrder) {
  organization(id: $org) {
    members(first: 50, after: $after, orderBy: $order) {
      totalCount
      edges { cursor node { id role permissions credits seat joinedAt user { id email name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}";

#[tokio::main]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let postgres = std::env::var("BENCH_POSTGRES_URL")
        .ok()
        .map(|server| server.trim_end_matches('/').to_owned());
    println!(
        "members(first: 50) with nested fields and totalCount, {CLIENTS} clients, {seconds} s each"
    );
    println!(
        "{:<11} {:>8} {:<17} {:>9} {:>8} {:>8} {:>8} {:>9}",
        "backend", "members", "page", "req/s", "p50 ms", "p99 ms", "max ms", "peak MiB"
    );
    let mut role_changes = Vec::new();
    for size in SIZES {
        let backends = std::iter::once(("SQLite", None)).chain(
            postgres
                .iter()
                .map(|server| ("PostgreSQL", Some(server.as_str()))),
        );
        for (backend, server) in backends {
            let database = format!("orgql_bench_{}_{size}", std::process::id());
            let url = server.map(|s| format!("{s}/{database}"));
            let latencies = run(backend, size, url.as_deref(), Duration::from_secs(seconds)).await;
            role_changes.push((backend, size, latencies));
            if let Some(server) = server {
                drop_database(server, &database).await;
            }
        }
    }
    println!("\nupdateMemberRole, one at a time, 200 changes");
    println!(
        "{:<11} {:>8} {:>8} {:>8} {:>8}",
        "backend", "members", "p50 ms", "p99 ms", "max ms"
    );
    for (backend, size, latencies) in role_changes {
        println!(
            "{backend:<11} {size:>8} {:>8.1} {:>8.1} {:>8.1}",
            quantile_ms(&latencies, 0.5),
            quantile_ms(&latencies, 0.99),
            quantile_ms(&latencies, 1.0)
        );
    }
}

/// Seeds an organization of `size`, measures its pages, and returns the
/// sorted latencies of 200 role changes.
async fn run(
    backend: &str,
    size: usize,
    database_url: Option<&str>,
    length: Duration,
) -> Vec<Duration> {
    let (dir, database_url) = scratch(database_url);
    let seeded: Value = serde_json::from_str(&orgql(
        &database_url,
        &["seed", "--members", &size.to_string()],
    ))
    .unwrap();
    let org = seeded["organizationId"].as_str().unwrap().to_owned();
    let token = seeded["ownerToken"].as_str().unwrap().to_owned();
    let server = ServerProcess::start(dir, database_url, &[]).await;
    let http = reqwest::Client::new();
    let pid = server.child.id();

    for order in ["JOINED_AT", "EMAIL"] {
        let order_by = json!({ "field": order, "direction": "ASC" });
        let middle = cursor_at(&http, &server.url, &token, &org, &order_by, size / 2).await;
        for (page, after) in [("first", None), ("middle", Some(middle))] {
            let variables = json!({ "org": org, "after": after, "order": order_by });
            let (throughput, latencies) = load(&http, &server.url, &token, variables, length).await;
            println!(
                "{backend:<11} {size:>8} {:<17} {throughput:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1}",
                format!("{page}, {}", order.to_lowercase()),
                quantile_ms(&latencies, 0.5),
                quantile_ms(&latencies, 0.99),
                quantile_ms(&latencies, 1.0),
                memory_kib(pid, "VmHWM:") as f64 / 1024.0
            );
        }
    }
    role_change_latencies(&http, &server.url, &token, &org).await
}

/// The cursor after the first `position` members in `order`, by walking
/// pages of 100.
async fn cursor_at(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    org: &str,
    order: &Value,
    position: usize,
) -> String {
    let walk = "query($org: ID!, $after: String, $order: MemberOrder) { organization(id: $org) { members(first: 100, after: $after, orderBy: $order) { pageInfo { endCursor } } } }";
    let mut after = Value::Null;
    for _ in 0..position / 100 {
        let data = graphql(
            http,
            url,
            Some(token),
            walk,
            json!({ "org": org, "after": after, "order": order }),
        )
        .await;
        after = data["organization"]["members"]["pageInfo"]["endCursor"].clone();
    }
    after.as_str().unwrap().to_owned()
}

/// Runs the page query from CLIENTS clients for `length`: requests per
/// second and sorted latencies.
async fn load(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    variables: Value,
    length: Duration,
) -> (f64, Vec<Duration>) {
    let body = Arc::new(json!({ "query": PAGE, "variables": variables }).to_string());
    // Warm the connections and the caches.
    let warm_until = Instant::now() + Duration::from_millis(500);
    let deadline = warm_until + length;
    let clients = (0..CLIENTS).map(|_| {
        let (http, url, token, body) = (
            http.clone(),
            format!("{url}/graphql"),
            token.to_owned(),
            body.clone(),
        );
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let started = Instant::now();
                if started >= deadline {
                    return latencies;
                }
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.as_str().to_owned())
                    .send()
                    .await
                    .unwrap();
                let bytes = response.bytes().await.unwrap();
                if started >= warm_until {
                    latencies.push(started.elapsed());
                }
                debug_assert!(!bytes.windows(8).any(|w| w == b"\"errors\""));
                assert!(bytes.len() > 1000, "a page of members");
            }
        })
    });
    let mut latencies: Vec<Duration> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    latencies.sort();
    (latencies.len() as f64 / length.as_secs_f64(), latencies)
}

async fn role_change_latencies(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    org: &str,
) -> Vec<Duration> {
    let members = graphql(
        http,
        url,
        Some(token),
        "query($org: ID!) { organization(id: $org) { members(first: 1, role: MEMBER) { nodes { id } } } }",
        json!({ "org": org }),
    )
    .await;
    let member = members["organization"]["members"]["nodes"][0]["id"].clone();
    let change = "mutation($m: ID!, $role: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $role}) { member { role } } }";
    let mut latencies = Vec::new();
    for n in 0..200 {
        let role = ["MANAGER", "MEMBER"][n % 2];
        let started = Instant::now();
        graphql(
            http,
            url,
            Some(token),
            change,
            json!({ "m": member, "role": role }),
        )
        .await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}
