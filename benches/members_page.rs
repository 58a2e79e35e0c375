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

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    MEMBERS_PAGE, ServerProcess, closed_loop, drop_database, graphql, memory_kib, quantile_ms,
    scratch, seed,
};

const CLIENTS: usize = 64;
const SIZES: [usize; 2] = [1_000, 100_000];

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
    let seeded = seed(&database_url, size);
    let (org, token) = (seeded.org, seeded.owner_token);
    let server = ServerProcess::start(&database_url, &[]).await.owning(dir);
    let http = reqwest::Client::new();
    let pid = server.pid();

    for order in ["JOINED_AT", "EMAIL"] {
        let order_by = json!({ "field": order, "direction": "ASC" });
        let middle = cursor_at(&http, &server.base_url, &token, &org, &order_by, size / 2).await;
        for (page, after) in [("first", None), ("middle", Some(middle))] {
            let variables = json!({ "org": org, "after": after, "order": order_by });
            let body = json!({ "query": MEMBERS_PAGE, "variables": variables }).to_string();
            let load = closed_loop(&http, &server, &token, &[body], CLIENTS, length, |page| {
                page.len() > 1000 // a page of members
            })
            .await;
            let (throughput, latencies) = (load.per_second(), &load.latencies);
            println!(
                "{backend:<11} {size:>8} {:<17} {throughput:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1}",
                format!("{page}, {}", order.to_lowercase()),
                quantile_ms(latencies, 0.5),
                quantile_ms(latencies, 0.99),
                quantile_ms(latencies, 1.0),
                memory_kib(pid, "VmHWM:") as f64 / 1024.0
            );
        }
    }
    role_change_latencies(&http, &server.base_url, &token, &org).await
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
    let member = members["organization"]["members"]["nodes"][0]["id"]
        .as_str()
        .unwrap();
    let mut latencies = support::role_changes(http, url, token, member, 200).await;
    latencies.sort();
    latencies
}
