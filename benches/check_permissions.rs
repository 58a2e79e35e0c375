//! Permission checks for the product's services: a service key of an
//! organization of 1,000 members asks `checkPermissions` about the
//! organization's users, 1 check per call and 100 (the most a call takes),
//! from 64 clients over HTTP keep-alive and from 1 client. Prints requests
//! and checks per second, latency and the server's CPU per request. The
//! target: p99 under 5 ms for a call of 100 checks (reported, not asserted).
//! SQLite always; PostgreSQL too when BENCH_POSTGRES_URL names a server.
//!
//! Run: `BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1 cargo bench --bench check_permissions`
//! (BENCH_SECONDS sets each measurement's length, default 5). The server is
//! the release binary in its own process; the clients share its two cores.

mod support;

use serde_json::{Value, json};
use support::{Load, ServerProcess, backends, closed_loop, data_without_errors, graphql, seed};

const MEMBERS: usize = 1_000;
/// (checks per call, clients)
const RUNS: [(usize, usize); 4] = [(1, 64), (100, 64), (1, 1), (100, 1)];
/// The target for a call of 100 checks.
const TARGET_P99_MS: f64 = 5.0;

const CHECK: &str = "query($checks: [PermissionCheckInput!]!) { checkPermissions(checks: $checks) { userId permission allowed role } }";
const CREATE_KEY: &str = "mutation($org: ID!) { createServiceKey(input: {organizationId: $org, name: \"benchmark\"}) { secret } }";

/// Permissions asked in turn, and the roles that hold each.
const PERMISSIONS: [(&str, &[&str]); 4] = [
    ("MANAGE_RESOURCES", &["OWNER", "ADMIN", "MANAGER"]),
    ("VIEW_BILLING", &["OWNER", "ADMIN", "MANAGER"]),
    ("MANAGE_MEMBERS", &["OWNER", "ADMIN"]),
    ("VIEW_MEMBERS", &["OWNER", "ADMIN", "MANAGER", "MEMBER"]),
];

#[tokio::main]
async fn main() {
    let length = support::bench_seconds(5);
    println!(
        "checkPermissions with a service key, organization of {MEMBERS} members, {} s each",
        length.as_secs()
    );
    println!(
        "{:<11} {:>7} {:>8} {:>9} {:>10} {:>8} {:>8} {:>8} {:>12}",
        "backend",
        "checks",
        "clients",
        "req/s",
        "checks/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU ms/req"
    );
    let mut targets = Vec::new();
    for backend in backends() {
        let (dir, database_url) = backend.database("checks");
        let seeded = seed(&database_url, MEMBERS);
        let server = ServerProcess::start(&database_url, &[]).await.owning(dir);
        let http = reqwest::Client::new();
        let members =
            support::members(&http, &server.base_url, &seeded.owner_token, &seeded.org).await;
        assert_eq!(members.len(), MEMBERS);
        let key = graphql(
            &http,
            &server.base_url,
            Some(&seeded.owner_token),
            CREATE_KEY,
            json!({ "org": seeded.org }),
        )
        .await["createServiceKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();

        // Check n asks about member n (of all 1,000 in turn) and permission n.
        let check = |n: usize| {
            json!({
                "organizationId": seeded.org,
                "userId": members[n % MEMBERS].user_id,
                "permission": PERMISSIONS[n % PERMISSIONS.len()].0,
            })
        };
        // The answers are right, in the order asked.
        let asked: Vec<Value> = (0..100).map(check).collect();
        let answered = graphql(
            &http,
            &server.base_url,
            Some(&key),
            CHECK,
            json!({ "checks": asked }),
        )
        .await;
        for (n, answer) in answered["checkPermissions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let (member, (permission, holders)) = (&members[n], PERMISSIONS[n % PERMISSIONS.len()]);
            assert_eq!(answer["userId"], json!(member.user_id));
            assert_eq!(answer["permission"], permission);
            assert_eq!(answer["role"], json!(member.role));
            assert_eq!(
                answer["allowed"],
                holders.contains(&member.role.as_str()),
                "{answer}"
            );
        }

        for (per_call, clients) in RUNS {
            // Calls cover every member: 1,000 bodies of 1 check, 10 of 100.
            let bodies: Vec<String> = (0..MEMBERS / per_call)
                .map(|call| {
                    let checks: Vec<Value> = (call * per_call..(call + 1) * per_call)
                        .map(check)
                        .collect();
                    json!({ "query": CHECK, "variables": { "checks": checks } }).to_string()
                })
                .collect();
            let load: Load = closed_loop(
                &http,
                &server,
                &key,
                &bodies,
                clients,
                length,
                data_without_errors,
            )
            .await;
            println!(
                "{:<11} {per_call:>7} {clients:>8} {:>9.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>12.3}",
                backend.name,
                load.per_second(),
                load.per_second() * per_call as f64,
                load.ms(0.5),
                load.ms(0.99),
                load.ms(1.0),
                load.cpu_ms_per_request()
            );
            if per_call == 100 {
                targets.push((backend.name, clients, load.ms(0.99)));
            }
        }
        drop(server);
        backend.discard("checks").await;
    }
    println!("\ntarget: p99 under {TARGET_P99_MS} ms for a call of 100 checks");
    for (backend, clients, p99) in targets {
        let verdict = if p99 < TARGET_P99_MS { "met" } else { "missed" };
        println!("{backend:<11} {clients:>2} client(s): p99 {p99:.2} ms, {verdict}");
    }
}
