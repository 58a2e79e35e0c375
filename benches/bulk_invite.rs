//! How long a 100-row bulk invitation takes, on SQLite and (when
//! BENCH_POSTGRES_URL names a server, e.g. postgres://postgres@127.0.0.1)
//! on PostgreSQL. Run: `cargo bench --bench bulk_invite`.
//!
//! The time is the request's round trip on loopback: the server's work
//! (parse and check 100 rows, then one transaction that creates 100
//! invitations and queues 100 emails) plus well under a millisecond of HTTP.

use std::time::{Duration, Instant};

use orgql::Server;
use orgql::config::Config;
use serde_json::{Value, json};

mod support;

const RUNS: usize = 30;

#[tokio::main]
async fn main() {
    let sqlite = std::env::temp_dir().join(format!("orgql-bench-{}.db", std::process::id()));
    let mut backends = vec![("SQLite", sqlite.display().to_string())];
    let postgres = std::env::var("BENCH_POSTGRES_URL")
        .ok()
        .map(|server| server.trim_end_matches('/').to_owned());
    let bench_database = format!("orgql_bench_{}", std::process::id());
    if let Some(server) = &postgres {
        backends.push(("PostgreSQL", format!("{server}/{bench_database}")));
    }
    println!("100-row bulk invitation, {RUNS} runs each (ms)");
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8}",
        "backend", "mean", "p50", "p95", "max"
    );
    for (name, url) in backends {
        let times = measure(&url).await;
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<12} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            ms(mean),
            ms(at(0.5)),
            ms(at(0.95)),
            ms(*times.last().unwrap())
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", sqlite.display()));
    }
    if let Some(server) = postgres {
        support::drop_database(&server, &bench_database).await;
    }
}

async fn measure(database_url: &str) -> Vec<Duration> {
    let mut config = Config::with_database(database_url);
    config.bind = "127.0.0.1:0".parse().unwrap();
    // Mail waits in the outbox: delivery is not what is measured.
    config.smtp_url = Some("smtp://127.0.0.1:9".into());
    config.mail_retry_max = Duration::from_secs(3600);
    let mut server = Server::start(&config).await.expect("server starts");
    let url = format!("http://{}/graphql", server.addr);
    let http = reqwest::Client::new();
    let call = |token: Option<String>, query: &str, variables: Value| {
        let mut request = http
            .post(&url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let signed_up = call(
        None,
        "mutation { signUp(input: {email: \"bench@example.com\", name: \"Bench\", password: \"benchmark\"}) { token } }",
        json!({}),
    )
    .await;
    let token = signed_up["signUp"]["token"].as_str().unwrap().to_owned();
    let created = call(
        Some(token.clone()),
        "mutation { createOrganization(input: {name: \"Bench\"}) { organization { id } } }",
        json!({}),
    )
    .await;
    let org = created["createOrganization"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let query = "mutation($input: BulkInviteMembersInput!) { bulkInviteMembers(input: $input) { invitedCount } }";
    let mut times = Vec::new();
    for run in 0..RUNS {
        let rows: String = (0..100)
            .map(|n| format!("run{run}-person{n}@example.com,member\n"))
            .collect();
        let input =
            json!({ "input": { "organizationId": org, "csv": format!("email,role\n{rows}") } });
        let started = Instant::now();
        let data = call(Some(token.clone()), query, input).await;
        times.push(started.elapsed());
        assert_eq!(data["bulkInviteMembers"]["invitedCount"], 100);
    }
    server.stop().await.unwrap();
    times.sort();
    times
}
