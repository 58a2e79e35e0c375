//! What the benchmark programs share: the release server as its own
//! process (so its CPU and memory are its own), and a GraphQL call.

#![allow(dead_code)] // Each benchmark uses its own part of this.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

#[path = "../../tests/support/server_process.rs"]
mod server_process;
pub use server_process::{ServerProcess, free_port};

/// A scratch folder, and the SQLite database in it unless `database_url`
/// names another.
pub fn scratch(database_url: Option<&str>) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!(
        "orgql-bench-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url =
        database_url.map_or_else(|| dir.join("bench.db").display().to_string(), str::to_owned);
    (dir, url)
}

/// Runs `orgql ARGS` to completion on the database and returns its stdout.
pub fn orgql(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_orgql"))
        .args(["--database-url", database_url])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the orgql binary runs");
    assert!(
        output.status.success(),
        "orgql {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// CPU time the process has used, user and system.
pub fn cpu(pid: u32) -> Duration {
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

/// Resident memory now (`VmRSS`) or at its peak (`VmHWM`), in KiB.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The data of a GraphQL call that must succeed.
pub async fn graphql(
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

/// The value at quantile `q` of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

/// Drops a benchmark's PostgreSQL database on `server` (postgres://host).
pub async fn drop_database(server: &str, database: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let mut conn = AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .expect("maintenance connection");
    conn.batch_execute(&format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    ))
    .await
    .unwrap();
}

/// How long each measurement lasts: BENCH_SECONDS, or `default` seconds.
pub fn bench_seconds(default: u64) -> Duration {
    Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

/// A database a benchmark runs on: SQLite always, PostgreSQL when
/// BENCH_POSTGRES_URL names a server (e.g. postgres://postgres@127.0.0.1).
pub struct Backend {
    pub name: &'static str,
    /// The PostgreSQL server, postgres://host, without a database.
    postgres: Option<String>,
}

/// SQLite, then PostgreSQL if BENCH_POSTGRES_URL is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend {
        name: "SQLite",
        postgres: None,
    }];
    if let Ok(server) = std::env::var("BENCH_POSTGRES_URL") {
        all.push(Backend {
            name: "PostgreSQL",
            postgres: Some(server.trim_end_matches('/').to_owned()),
        });
    }
    all
}

impl Backend {
    fn database_name(tag: &str) -> String {
        format!("orgql_bench_{}_{tag}", std::process::id())
    }

    /// A fresh database for `tag` (lower case, digits and `_`): a scratch
    /// folder, and the database URL (a file in that folder on SQLite).
    pub fn database(&self, tag: &str) -> (std::path::PathBuf, String) {
        let url = self
            .postgres
            .as_ref()
            .map(|server| format!("{server}/{}", Self::database_name(tag)));
        scratch(url.as_deref())
    }

    /// Drops the database of `tag` once its server has stopped (SQLite's
    /// file goes with the server's folder).
    pub async fn discard(&self, tag: &str) {
        if let Some(server) = &self.postgres {
            drop_database(server, &Self::database_name(tag)).await;
        }
    }
}

/// What `orgql seed` made.
pub struct Seeded {
    /// The organization's global ID.
    pub org: String,
    pub slug: String,
    pub owner_email: String,
    /// A session of the owner.
    pub owner_token: String,
}

/// Seeds an organization of `members` members, the owner included, with
/// `orgql seed` (batched inserts; roles mostly MEMBER, some MANAGER and
/// ADMIN).
pub fn seed(database_url: &str, members: usize) -> Seeded {
    let printed: Value = serde_json::from_str(&orgql(
        database_url,
        &["seed", "--members", &members.to_string()],
    ))
    .expect("seed prints JSON");
    let field = |name: &str| printed[name].as_str().unwrap().to_owned();
    Seeded {
        org: field("organizationId"),
        slug: field("slug"),
        owner_email: field("ownerEmail"),
        owner_token: field("ownerToken"),
    }
}

/// A member as the members list shows it.
pub struct MemberRow {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
}

/// Every member of the organization, in join order (pages of 100).
pub async fn members(http: &reqwest::Client, url: &str, token: &str, org: &str) -> Vec<MemberRow> {
    let page = "query($org: ID!, $after: String) { organization(id: $org) { members(first: 100, after: $after) { nodes { id role user { id email } } pageInfo { hasNextPage endCursor } } } }";
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = graphql(
            http,
            url,
            Some(token),
            page,
            json!({ "org": org, "after": after }),
        )
        .await;
        let members = &data["organization"]["members"];
        for node in members["nodes"].as_array().unwrap() {
            all.push(MemberRow {
                id: node["id"].as_str().unwrap().to_owned(),
                user_id: node["user"]["id"].as_str().unwrap().to_owned(),
                email: node["user"]["email"].as_str().unwrap().to_owned(),
                role: node["role"].as_str().unwrap().to_owned(),
            });
        }
        if members["pageInfo"]["hasNextPage"] != true {
            return all;
        }
        after = members["pageInfo"]["endCursor"].clone();
    }
}

/// Signs up a password account; its session token.
pub async fn sign_up(http: &reqwest::Client, url: &str, email: &str) -> String {
    let query = "mutation($input: SignUpInput!) { signUp(input: $input) { token } }";
    let input = json!({ "input": { "email": email, "name": email, "password": "benchmark" } });
    graphql(http, url, None, query, input).await["signUp"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token of the invitation email to `email` that the server wrote as a
/// file in `mail_dir` (no SMTP server is configured).
pub async fn invitation_token(mail_dir: &std::path::Path, email: &str) -> String {
    for _ in 0..100 {
        for entry in std::fs::read_dir(mail_dir).into_iter().flatten() {
            let text = std::fs::read_to_string(entry.unwrap().path())
                .unwrap_or_default()
                .replace("=\r\n", "")
                .replace("=3D", "=");
            if !text.to_lowercase().contains(&email.to_lowercase()) {
                continue;
            }
            // Not the verification mail its sign-up got.
            const LINK: &str = "/invitations/accept?token=";
            let Some(start) = text.find(LINK) else {
                continue;
            };
            return text[start + LINK.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no invitation email to {email} was written");
}

/// The owner invites `email` with `role` and its holder (signed in with
/// `token`, that address's account) accepts, as a person would.
pub async fn join_by_invitation(
    http: &reqwest::Client,
    server: &ServerProcess,
    owner_token: &str,
    org: &str,
    email: &str,
    role: &str,
    token: &str,
) {
    let invite = "mutation($org: ID!, $email: String!, $role: AssignableRole!) { inviteMember(input: {organizationId: $org, email: $email, role: $role}) { invitation { id } } }";
    graphql(
        http,
        &server.base_url,
        Some(owner_token),
        invite,
        json!({ "org": org, "email": email, "role": role }),
    )
    .await;
    let invitation = invitation_token(&server.mail_dir(), email).await;
    graphql(
        http,
        &server.base_url,
        Some(token),
        "mutation($t: String!) { acceptInvitation(input: {token: $t}) { member { id } } }",
        json!({ "t": invitation }),
    )
    .await;
}

/// A members page: the first 50 (or those `after`) with each member's
/// user, role, permissions, credits and seat, and `totalCount`.
pub const MEMBERS_PAGE: &str = "query Page($org: ID!, $after: String, $order: MemberOrder) {
  organization(id: $org) {
    members(first: 50, after: $after, orderBy: $order) {
      totalCount
      edges { cursor node { id role permissions credits seat joinedAt user { id email name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}";

/// Whether an answer is GraphQL data without errors (a cheap look at the
/// bytes, for the load generator).
pub fn data_without_errors(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .is_ok_and(|text| text.starts_with("{\"data\":{") && !text.contains("\"errors\""))
}

/// What a closed-loop load measured.
pub struct Load {
    /// Of the requests started in the measured window, sorted.
    pub latencies: Vec<Duration>,
    /// The measured window (after the warm-up).
    pub length: Duration,
    /// The server's CPU time (user and system) over the window.
    pub server_cpu: Duration,
}

impl Load {
    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    pub fn per_second(&self) -> f64 {
        self.requests() as f64 / self.length.as_secs_f64()
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    /// Server CPU per request, in milliseconds.
    pub fn cpu_ms_per_request(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1000.0 / self.requests() as f64
    }

    /// Several measurements as one (e.g. interleaved rounds).
    pub fn merge(loads: impl IntoIterator<Item = Load>) -> Load {
        let mut all = Load {
            latencies: Vec::new(),
            length: Duration::ZERO,
            server_cpu: Duration::ZERO,
        };
        for load in loads {
            all.latencies.extend(load.latencies);
            all.length += load.length;
            all.server_cpu += load.server_cpu;
        }
        all.latencies.sort();
        all
    }
}

/// A closed loop: `clients` clients, each sending its next request as soon
/// as the last one is answered, over HTTP keep-alive, for a warm-up of half
/// a second and then `length`. Request n posts `bodies[n % len]` to
/// /graphql with `token`; every answer must be 200 and pass `check`.
pub async fn closed_loop(
    http: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    bodies: &[String],
    clients: usize,
    length: Duration,
    check: fn(&[u8]) -> bool,
) -> Load {
    let bodies = bodies.to_vec();
    let body = move |n: usize| bodies[n % bodies.len()].clone();
    closed_loop_of(http, server, token, body, clients, length, check).await
}

/// [`closed_loop`] where request n posts `body(n)` (n counts from 0 over
/// all clients, the warm-up included): for requests that must each differ.
pub async fn closed_loop_of(
    http: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
    body: impl Fn(usize) -> String + Send + Sync + 'static,
    clients: usize,
    length: Duration,
    check: fn(&[u8]) -> bool,
) -> Load {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    let body = Arc::new(body);
    let next = Arc::new(AtomicUsize::new(0));
    // Warm the connections and the caches.
    let warm_until = Instant::now() + Duration::from_millis(500);
    let deadline = warm_until + length;
    let pid = server.pid();
    let server_cpu = tokio::spawn(async move {
        tokio::time::sleep_until(warm_until.into()).await;
        let before = cpu(pid);
        tokio::time::sleep_until(deadline.into()).await;
        cpu(pid) - before
    });
    let clients = (0..clients).map(|_| {
        let (http, url, token, body, next) = (
            http.clone(),
            server.url.clone(),
            token.to_owned(),
            body.clone(),
            next.clone(),
        );
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let started = Instant::now();
                if started >= deadline {
                    return latencies;
                }
                let body = body(next.fetch_add(1, Ordering::Relaxed));
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let bytes = response.bytes().await.unwrap();
                if started >= warm_until {
                    latencies.push(started.elapsed());
                }
                assert!(
                    status.is_success() && check(&bytes),
                    "{status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
                );
            }
        })
    });
    let mut latencies: Vec<Duration> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    latencies.sort();
    Load {
        latencies,
        length,
        server_cpu: server_cpu.await.unwrap(),
    }
}

pub const ROLE_CHANGE: &str = "mutation($m: ID!, $role: AssignableRole!) { updateMemberRole(input: {memberId: $m, role: $role}) { member { role } } }";

/// The latencies of `count` role changes of one member, one at a time, in
/// order: MANAGER, MEMBER, MANAGER, … (so an even count leaves a MEMBER as
/// it was).
pub async fn role_changes(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    member: &str,
    count: usize,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let role = ["MANAGER", "MEMBER"][n % 2];
        let started = std::time::Instant::now();
        graphql(
            http,
            url,
            Some(token),
            ROLE_CHANGE,
            json!({ "m": member, "role": role }),
        )
        .await;
        latencies.push(started.elapsed());
    }
    latencies
}

/// The suite's third-party counterparts on loopback (an OpenID provider, a
/// Standard Webhooks receiver), the same code the tests drive them with.
#[path = "../../tests/api/fixtures.rs"]
pub mod fixtures;
