//! A PostgreSQL server of a test's own, on a free port, that the test may
//! stop and start without disturbing the shared one the other tests use.
//! It runs Debian's PostgreSQL binaries, as the `postgres` user when the
//! tests run as root (initdb refuses root).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::server_process::free_port;

pub struct PgCluster {
    dir: PathBuf,
    pub port: u16,
}

fn binary(name: &str) -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is installed");
    let mut found: Vec<PathBuf> = versions
        .filter_map(|v| Some(v.ok()?.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql"))
}

/// Runs a PostgreSQL tool as the user that owns the cluster.
fn run(tool: &str, args: &[&str]) {
    let as_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
    let mut command = match as_root {
        true => {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(binary(tool));
            c
        }
        false => Command::new(binary(tool)),
    };
    let output = command.args(args).output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgCluster {
    /// A new cluster with trust authentication, started.
    pub fn start() -> PgCluster {
        let dir =
            std::env::temp_dir().join(format!("orgql-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status();
        let data = dir.join("data");
        let data = data.to_str().unwrap();
        run(
            "initdb",
            &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let cluster = PgCluster {
            dir,
            port: free_port(),
        };
        cluster.resume();
        cluster
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Stops the server, ending every connection (a database restart).
    pub fn stop(&self) {
        run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the stopped server again, on the same port.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        if Path::new(&data).join("postmaster.pid").exists() {
            let _ = std::panic::catch_unwind(|| self.stop());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
