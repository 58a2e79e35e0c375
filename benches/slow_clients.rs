//! Slow clients: 500 connections that trickle a request head one byte a
//! second, beside an ordinary client asking `{ viewer { user { id } } }`
//! one request after another. Prints how many of the 500 the server closed
//! and when (seconds after connecting, beside `--header-read-timeout`),
//! and the ordinary client's latency alone and while the 500 trickle. Once
//! with the default deadline (10 s) and once with the deadline an hour
//! away, as the server was before it had one.
//!
//! Run: `cargo bench --bench slow_clients` (BENCH_SECONDS sets each latency
//! measurement, default 5; under 9 s, the trickle is measured while all 500
//! are open). SQLite only: the deadlines are the transport's. The server is
//! the release binary in its own process; the clients share its two cores.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{Load, ServerProcess, closed_loop, data_without_errors, quantile_ms, scratch};

const TRICKLING: usize = 500;
/// How long the trickling connections are watched for a close.
const WATCH: Duration = Duration::from_secs(20);
/// (--header-read-timeout, what the run stands for)
const RUNS: [(&str, &str); 2] = [("10s", "the default"), ("1h", "no deadline")];
const VIEWER: &str = "{ viewer { user { id } } }";

/// What became of a trickling connection.
enum Fate {
    /// The server closed it (an end of stream or a reset), this long after it connected.
    Closed(Duration),
    /// The server answered it: its head was complete.
    Answered,
    /// Still open when the watch ended.
    Open,
}

#[tokio::main]
async fn main() {
    let length = support::bench_seconds(5);
    println!(
        "{TRICKLING} connections trickling a request head at 1 byte/s, beside one client asking {VIEWER}; latency over {} s",
        length.as_secs()
    );
    println!(
        "{:<20} {:>14} {:>8} {:>8} {:>18} {:>20}",
        "header deadline", "closed", "p50 s", "max s", "alone p50/p99 ms", "trickle p50/p99 ms"
    );
    for (deadline, meaning) in RUNS {
        let (dir, database_url) = scratch(None);
        let server = ServerProcess::start(&database_url, &["--header-read-timeout", deadline])
            .await
            .owning(dir);
        let http = reqwest::Client::new();
        let token = support::sign_up(&http, &server.base_url, "ordinary@example.com").await;
        let bodies = [json!({ "query": VIEWER }).to_string()];
        let ordinary = || {
            closed_loop(
                &http,
                &server,
                &token,
                &bodies,
                1,
                length,
                data_without_errors,
            )
        };

        let alone = ordinary().await;
        let addr = server.base_url.trim_start_matches("http://").to_owned();
        let tricklers: Vec<_> = (0..TRICKLING)
            .map(|_| tokio::spawn(trickle(addr.clone())))
            .collect();
        let beside = ordinary().await;
        let fates = futures_util::future::join_all(tricklers).await;

        let mut closed: Vec<Duration> = fates
            .iter()
            .filter_map(|fate| match fate.as_ref().unwrap() {
                Fate::Closed(after) => Some(*after),
                Fate::Answered | Fate::Open => None,
            })
            .collect();
        closed.sort();
        let answered = fates
            .iter()
            .filter(|fate| matches!(fate.as_ref().unwrap(), Fate::Answered))
            .count();
        assert_eq!(answered, 0, "a trickled head was answered");
        let seconds = |q: f64| match closed.is_empty() {
            true => "-".to_owned(),
            false => format!("{:.2}", quantile_ms(&closed, q) / 1000.0),
        };
        println!(
            "{:<20} {:>14} {:>8} {:>8} {:>18} {:>20}",
            format!("{deadline} ({meaning})"),
            format!("{} in {} s", closed.len(), WATCH.as_secs()),
            seconds(0.5),
            seconds(1.0),
            latency(&alone),
            latency(&beside)
        );
    }
}

fn latency(load: &Load) -> String {
    format!("{:.2}/{:.2}", load.ms(0.5), load.ms(0.99))
}

/// Connects and sends a request head one byte a second (it would take
/// 100 s) until the server closes the connection or the watch ends.
async fn trickle(addr: String) -> Fate {
    let socket = TcpStream::connect(&addr).await.expect("connects");
    let connected = Instant::now();
    let (mut from_server, mut to_server) = socket.into_split();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nUser-Agent: slow\r\n\r\n{{}}"
    );
    let writer = tokio::spawn(async move {
        for byte in head.bytes() {
            if to_server.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut chunk = [0; 512];
    let fate =
        match tokio::time::timeout_at((connected + WATCH).into(), from_server.read(&mut chunk))
            .await
        {
            Ok(Ok(0) | Err(_)) => Fate::Closed(connected.elapsed()),
            Ok(Ok(_)) => Fate::Answered,
            Err(_) => Fate::Open,
        };
    writer.abort();
    fate
}
