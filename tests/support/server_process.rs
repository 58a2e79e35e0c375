//! The server binary as a process of its own, shared by the integration
//! tests (for what only a process can show: a SIGKILL, a restart, a crash,
//! its log) and the benchmarks (so its CPU and memory are its own).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

pub struct ServerProcess {
    child: Option<Child>,
    args: Vec<String>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its GraphQL endpoint, `{base_url}/graphql`.
    pub url: String,
    /// Its mail folder and log, removed with it.
    dir: PathBuf,
    /// Another folder removed with it (a benchmark's SQLite database).
    owned: Option<PathBuf>,
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// `orgql serve` on a free port over `database_url`, with `extra`
    /// settings; returns once it answers.
    pub async fn start(database_url: &str, extra: &[&str]) -> ServerProcess {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("orgql-server-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args: Vec<String> = [
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
            "--mail-dir",
            dir.join("mail").to_str().unwrap(),
            // Tests and benchmarks sign many people up from one address.
            "--auth-rate-limit",
            "10000",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let base_url = format!("http://127.0.0.1:{port}");
        let mut process = ServerProcess {
            child: None,
            args,
            url: format!("{base_url}/graphql"),
            base_url,
            dir,
            owned: None,
        };
        process.resume().await;
        process
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again, with the same settings and port; returns once it answers.
    pub async fn resume(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_orgql"))
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        let health = format!("{}/healthz", self.base_url);
        for _ in 0..100 {
            if reqwest::get(&health).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not come up");
    }

    /// Removes `dir` too when it is dropped.
    pub fn owning(mut self, dir: PathBuf) -> ServerProcess {
        self.owned = Some(dir);
        self
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// Where its mail goes (`.eml` files, when no SMTP server is set).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.join("mail")
    }

    /// What it has logged so far, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("the server's log:\n{}", self.log());
        }
        for dir in std::iter::once(&self.dir).chain(&self.owned) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
