//! The accept loop: HTTP/1.1 connections, kept alive or upgraded to
//! WebSocket, each closed when its client is too slow to send a request,
//! and no more than `max_connections` open at once.
//!
//! hyper's header read timeout runs whenever a connection waits for a
//! request head: from the connection's start, and again from the moment
//! each response is written (hyper 1.x, `proto/h1/conn.rs`: `poll_read_head`
//! starts it, and going idle has the next read begin at once), and ends the
//! connection with a timeout error whether a byte came or not. So it is a
//! kept-alive connection's idle timeout, its next head included, and is set
//! to `idle_timeout`; a new connection's first head has the shorter
//! `header_read_timeout`, a deadline of this module's own.

use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::metrics::{GaugeGuard, Metrics};

/// How often "every connection slot is taken" may be logged.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

pub struct ConnectionLimits {
    /// How long a new connection has to send its first request head.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// WebSocket connections included.
    pub max_connections: u32,
}

/// Serves `app` on `listener` until `stop` turns true; then stops accepting
/// and returns once the requests in flight are answered (WebSocket
/// connections watch `stop` and close by themselves).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.idle_timeout);
    let connection = Connection {
        http,
        app,
        first_head: limits.header_read_timeout,
        metrics,
        stop: stop.clone(),
    };
    let mut slots = Slots::new(limits.max_connections);
    // Every connection's task holds a receiver: when none is left, all ended.
    let (ended, running) = watch::channel(());
    loop {
        let (slot, accepted) = tokio::select! {
            next = async { (slots.take().await, listener.accept().await) } => next,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Small writes (events, pongs) go out at once, not after Nagle's delay.
                let _ = tcp.set_nodelay(true);
                let socket = Socket {
                    tcp,
                    _slot: slot,
                    _open: connection.metrics.connection(),
                };
                tokio::spawn(connection.clone().serve(socket, peer, running.clone()));
            }
            Err(error) => accept_failed(error).await,
        }
    }
    drop(listener);
    drop(running);
    ended.closed().await;
}

/// What serving a connection needs, cloned into each connection's task.
#[derive(Clone)]
struct Connection {
    http: http1::Builder,
    app: Router,
    /// The header read timeout, for the first request head.
    first_head: Duration,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    /// Serves one connection until it closes, is upgraded (the WebSocket
    /// then has the socket) or misses a deadline; `_running` says it runs.
    async fn serve(mut self, socket: Socket, peer: SocketAddr, _running: watch::Receiver<()>) {
        let asked = Arc::new(AtomicBool::new(false));
        let app = self.app.map_request({
            let asked = asked.clone();
            move |mut request: Request<Incoming>| {
                asked.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            }
        });
        let served = self
            .http
            .serve_connection(TokioIo::new(socket), TowerToHyperService::new(app))
            .with_upgrades();
        let mut served = pin!(served);
        let mut first_head = pin!(tokio::time::sleep(self.first_head));
        let (mut waiting, mut stopping) = (true, false);
        loop {
            tokio::select! {
                ended = served.as_mut() => {
                    // hyper's timer, which bounds the first head too when
                    // it is the shorter: no complete (next) request in time.
                    if ended.is_err_and(|error| error.is_timeout()) {
                        let first = !asked.load(Ordering::Relaxed);
                        self.metrics.connection_timed_out(if first { "header" } else { "idle" });
                    }
                    return;
                }
                () = &mut first_head, if waiting => {
                    if !asked.load(Ordering::Relaxed) {
                        self.metrics.connection_timed_out("header");
                        // Dropping the connection closes its socket.
                        return;
                    }
                    waiting = false;
                }
                _ = self.stop.wait_for(|stop| *stop), if !stopping => {
                    // The request in flight is answered, then the connection closes.
                    served.as_mut().graceful_shutdown();
                    stopping = true;
                }
            }
        }
    }
}

/// The connection cap. A slot is taken before a connection is accepted:
/// while none is free, new connections wait in the kernel's listen queue
/// and are served in turn as slots free up (the deadlines free those held
/// by silent clients within `header_read_timeout`), instead of each being
/// accepted only to be closed, which costs the server a file descriptor
/// and a system call per attempt under a flood and turns a brief burst
/// into errors.
struct Slots {
    free: Arc<Semaphore>,
    max: u32,
    warned: Option<Instant>,
}

impl Slots {
    fn new(max: u32) -> Slots {
        Slots {
            free: Arc::new(Semaphore::new(max as usize)),
            max,
            warned: None,
        }
    }

    async fn take(&mut self) -> OwnedSemaphorePermit {
        if let Ok(slot) = self.free.clone().try_acquire_owned() {
            return slot;
        }
        if self
            .warned
            .is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY)
        {
            self.warned = Some(Instant::now());
            tracing::warn!(
                max_connections = self.max,
                "every connection slot is taken: new connections wait to be accepted until one closes"
            );
        }
        self.free
            .clone()
            .acquire_owned()
            .await
            .expect("the slots are never closed")
    }
}

/// A connection reset before it was accepted is its client's affair. Any
/// other failure (no file descriptor left) is logged and waited out, since
/// accepting again at once would fail again at once.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A connection's socket, which holds its slot and counts it open until
/// dropped: after an upgrade it goes on as the WebSocket's, so WebSocket
/// connections count against the cap too.
struct Socket {
    tcp: TcpStream,
    _slot: OwnedSemaphorePermit,
    _open: GaugeGuard,
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
