//! What the benchmark programs share: the release server as its own
//! process (so its CPU and memory are its own), and a GraphQL call.

#![allow(dead_code)] // Each benchmark uses its own part of this.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub struct ServerProcess {
    pub child: Child,
    /// http://127.0.0.1:PORT
    pub url: String,
    /// Holds the SQLite database (if used) and the mail folder.
    pub dir: std::path::PathBuf,
    pub database_url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

impl ServerProcess {
    /// Serves `database_url` (None: a fresh SQLite file) from `dir`, with
    /// `extra` flags.
    pub async fn start(
        dir: std::path::PathBuf,
        database_url: String,
        extra: &[&str],
    ) -> ServerProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_orgql"))
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database_url])
            .args(["--mail-dir", dir.join("mail").to_str().unwrap()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the orgql binary starts");
        let server = ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            database_url,
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
