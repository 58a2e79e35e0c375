//! Spending credits as the product's job runner does: a service key calls
//! `spendCredits` for a member with plenty of credits, each call with a new
//! idempotency key, from 1 client and from 64 over HTTP keep-alive. Prints
//! requests per second, latency and the server's CPU per request; on
//! PostgreSQL also pgbench running the statements the server runs for one
//! spend, as one transaction, on the same database, at 1 and 64 clients,
//! and the ratio of the two. The targets (reported, not asserted): p50 under
//! 3 ms for one client on both backends; at 64 clients at least 0.5x
//! pgbench's rate.
//!
//! Run: `BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1 cargo bench --bench credit_spend`
//! (BENCH_SECONDS sets each measurement's length, default 5). The server is
//! the release binary in its own process; the clients and pgbench share
//! its two cores.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::{Load, ServerProcess, backends, closed_loop_of, data_without_errors, graphql, seed};

const CLIENTS: [usize; 2] = [1, 64];
/// The credits the member starts with: more than any run spends.
const CREDITS: i64 = 1_000_000_000;
/// The targets of the issue.
const TARGET_P50_MS: f64 = 3.0;
const TARGET_RATIO: f64 = 0.5;

const SPEND: &str = "mutation($input: SpendCreditsInput!) { spendCredits(input: $input) { entry { id memberCreditsAfter } member { availableCredits } } }";
const CREATE_KEY: &str = "mutation($org: ID!) { createServiceKey(input: {organizationId: $org, name: \"job runner\"}) { secret serviceKey { id } } }";

/// The statements the server runs for one spend, in its order (the file
/// says where they come from).
const PGBENCH_SCRIPT: &str = include_str!("credit_spend.sql");

#[tokio::main]
async fn main() {
    let length = support::bench_seconds(5);
    println!(
        "spendCredits with a service key, a new idempotency key each call, {} s each",
        length.as_secs()
    );
    println!(
        "{:<11} {:>8} {:>9} {:>8} {:>8} {:>8} {:>12}",
        "backend", "clients", "req/s", "p50 ms", "p99 ms", "max ms", "CPU ms/req"
    );
    let mut rows = Vec::new();
    let mut peers = Vec::new();
    for backend in backends() {
        let (dir, database_url) = backend.database("spend");
        let seeded = seed(&database_url, 10);
        let server = ServerProcess::start(&database_url, &[]).await.owning(dir);
        let http = reqwest::Client::new();
        let url = &server.base_url;
        let owner = Some(seeded.owner_token.as_str());
        let members = support::members(&http, url, &seeded.owner_token, &seeded.org).await;
        let member = members
            .iter()
            .find(|m| m.role == "MEMBER")
            .expect("a plain member");
        graphql(
            &http,
            url,
            owner,
            "mutation($org: ID!, $n: Int!) { addCredits(input: {organizationId: $org, amount: $n}) { organization { id } } }",
            json!({ "org": seeded.org, "n": CREDITS }),
        )
        .await;
        graphql(
            &http,
            url,
            owner,
            "mutation($m: ID!, $n: Int!) { distributeCredits(input: {memberId: $m, amount: $n}) { member { id } } }",
            json!({ "m": member.id, "n": CREDITS }),
        )
        .await;
        let created = graphql(&http, url, owner, CREATE_KEY, json!({ "org": seeded.org })).await;
        let key = created["createServiceKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let key_id = created["createServiceKey"]["serviceKey"]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut calls = 0;
        for clients in CLIENTS {
            let (org, user) = (seeded.org.clone(), member.user_id.clone());
            let body = move |n: usize| {
                json!({ "query": SPEND, "variables": { "input": {
                    "organizationId": org, "userId": user, "amount": 1,
                    "idempotencyKey": format!("bench/{clients}/{n}"),
                } } })
                .to_string()
            };
            let load: Load = closed_loop_of(
                &http,
                &server,
                &key,
                body,
                clients,
                length,
                data_without_errors,
            )
            .await;
            calls += load.requests();
            println!(
                "{:<11} {clients:>8} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>12.3}",
                backend.name,
                load.per_second(),
                load.ms(0.5),
                load.ms(0.99),
                load.ms(1.0),
                load.cpu_ms_per_request()
            );
            rows.push((backend.name, clients, load.per_second(), load.ms(0.5)));
        }
        // Each call spent one credit once: the books say as much.
        let books = graphql(
            &http,
            url,
            owner,
            "query($org: ID!, $user: ID!) { organization(id: $org) { creditPool { spent } member(userId: $user) { spentCredits creditLedger(first: 1) { totalCount } } } }",
            json!({ "org": seeded.org, "user": member.user_id }),
        )
        .await["organization"]
            .clone();
        let spent = books["member"]["spentCredits"].as_u64().unwrap() as usize;
        assert!(spent >= calls, "{spent} spent, {calls} measured calls");
        assert_eq!(books["creditPool"]["spent"], spent);
        assert_eq!(
            books["member"]["creditLedger"]["totalCount"],
            spent + 1,
            "one entry per spend, and the distribution"
        );

        if backend.name == "PostgreSQL" {
            let ids = Ids {
                org: db_id(&seeded.org),
                user: db_id(&member.user_id),
                member: db_id(&member.id),
                key: db_id(&key_id),
            };
            // The server stays up, idle: it listens for the NOTIFYs, as it
            // does for its own.
            peers = pgbench(&database_url, &ids, &key, length);
        }
        drop(server);
        backend.discard("spend").await;
    }

    if !peers.is_empty() {
        println!(
            "\npgbench, the server's statements for one spend as one transaction (PostgreSQL)"
        );
        println!(
            "{:>8} {:>9} {:>8} {:>8} {:>14}",
            "clients", "tps", "p50 ms", "p99 ms", "orgql/pgbench"
        );
        for (clients, tps, p50, p99) in &peers {
            let orgql = rows
                .iter()
                .find(|(backend, c, ..)| *backend == "PostgreSQL" && c == clients)
                .map_or(0.0, |row| row.2);
            println!(
                "{clients:>8} {tps:>9.0} {p50:>8.2} {p99:>8.2} {:>13.2}x",
                orgql / tps
            );
        }
    }
    println!(
        "\ntargets: p50 under {TARGET_P50_MS} ms for 1 client; at 64 clients at least {TARGET_RATIO}x pgbench's rate"
    );
    for (backend, clients, per_second, p50) in &rows {
        if *clients == 1 {
            let verdict = if *p50 < TARGET_P50_MS {
                "met"
            } else {
                "missed"
            };
            println!("{backend:<11} 1 client: p50 {p50:.2} ms, {verdict}");
        }
        if *clients == 64
            && *backend == "PostgreSQL"
            && let Some((_, tps, ..)) = peers.iter().find(|p| p.0 == 64)
        {
            let ratio = per_second / tps;
            let verdict = if ratio >= TARGET_RATIO {
                "met"
            } else {
                "missed"
            };
            println!("{backend:<11} 64 clients: {ratio:.2}x pgbench, {verdict}");
        }
    }
}

/// The database ids pgbench's statements name.
struct Ids {
    org: i64,
    user: i64,
    member: i64,
    key: i64,
}

/// Runs [`PGBENCH_SCRIPT`] with pgbench at 1 and 64 clients on the
/// benchmark's database: (clients, tps, p50 ms, p99 ms) for each.
fn pgbench(
    database_url: &str,
    ids: &Ids,
    secret: &str,
    length: Duration,
) -> Vec<(usize, f64, f64, f64)> {
    use sha2::{Digest, Sha256};
    let dir = std::env::temp_dir().join(format!("orgql-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("spend.sql");
    std::fs::write(&script, PGBENCH_SCRIPT).unwrap();
    let key_hash: String = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let variables = [
        format!("org={}", ids.org),
        format!("user={}", ids.user),
        format!("member={}", ids.member),
        format!("key_id={}", ids.key),
        format!("key_hash={key_hash}"),
    ];
    let run = |clients: usize, how_long: &[&str], log: Option<&std::path::Path>| {
        let mut command = Command::new("pgbench");
        command
            .arg(database_url)
            .args(["-n", "-M", "prepared"])
            .args([
                "-c",
                &clients.to_string(),
                "-j",
                &clients.min(2).to_string(),
            ])
            .args(how_long)
            .arg("-f")
            .arg(&script);
        if let Some(prefix) = log {
            command.arg("-l").arg("--log-prefix").arg(prefix);
        }
        for variable in &variables {
            command.args(["-D", variable]);
        }
        let output = command.output().expect("pgbench runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !text.contains("aborted") && !text.contains("error"),
            "pgbench: {text}"
        );
        text
    };
    // The script runs as written before it is timed: one transaction
    // spends one credit, with its ledger entry.
    let entries = || {
        psql(
            database_url,
            "SELECT count(*) FROM credit_ledger WHERE idempotency_key LIKE 'pgbench/%'",
        )
    };
    let before = entries();
    run(1, &["-t", "1"], None);
    assert_eq!(entries(), before + 1, "one pgbench transaction, one spend");

    let mut results = Vec::new();
    for clients in CLIENTS {
        let prefix = dir.join(format!("log{clients}"));
        let seconds = length.as_secs().to_string();
        let text = run(clients, &["-T", &seconds], Some(&prefix));
        let tps: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no tps in {text}"));
        // Per-transaction logs (one file per thread): the third column is
        // the latency in microseconds.
        let logs = format!("log{clients}.");
        let mut latencies: Vec<Duration> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&logs)
            })
            .flat_map(|path| {
                std::fs::read_to_string(path)
                    .unwrap()
                    .lines()
                    .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
                    .collect::<Vec<u64>>()
            })
            .map(Duration::from_micros)
            .collect();
        latencies.sort();
        results.push((
            clients,
            tps,
            support::quantile_ms(&latencies, 0.5),
            support::quantile_ms(&latencies, 0.99),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    results
}

/// The one number `query` answers, through psql.
fn psql(database_url: &str, query: &str) -> u64 {
    let output = Command::new("psql")
        .arg(database_url)
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", query])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// The database id inside a global ID ("Type:id", base64url).
fn db_id(global: &str) -> i64 {
    use base64::Engine;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    text.split_once(':').unwrap().1.parse().unwrap()
}
