//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket, speaking
//! graphql-transport-ws (and the legacy graphql-ws subprotocol) with the
//! protocol's own close codes, which async-graphql's built-in handler does
//! not follow. A connection is authenticated at `connection_init`, and
//! closes when its session ends (log-out, expiry).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_graphql::{Request, ServerError, Variables};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, SelectAll};
use futures_util::{FutureExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamMap;
use tracing::Instrument;

use super::client_address::client_ip;
use super::principal;
use super::refusal::{Refusal, error_code};
use super::state::AppState;
use crate::domain::principal::{Ended, Principal};
use crate::graphql::live::{self, Reply};
use crate::graphql::{code_uncoded, limit_exceeded};
use crate::metrics::{GaugeGuard, Metrics};

/// How often an idle connection is pinged.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a write may wait on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_MESSAGE: usize = 64 * 1024;
/// Socket buffers: small, so an idle connection costs little memory.
const BUFFER: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// graphql-transport-ws, the graphql-ws library's protocol.
    TransportWs,
    /// subscriptions-transport-ws, known as "graphql-ws".
    Legacy,
}

impl Protocol {
    const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    fn next(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        }
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(permit) = state.websockets.connections.clone().try_acquire_owned() else {
        return Refusal::limit(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many WebSocket connections are open: try again later".into(),
        )
        .into_response();
    };
    let upgrade = upgrade.protocols(Protocol::NAMES);
    let protocol = match upgrade.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-ws") => Protocol::Legacy,
        _ => Protocol::TransportWs,
    };
    let client_ip = client_ip(&headers, peer, state.client_ip_header.as_ref());
    let header_token = principal::header_token(&headers).map(str::to_owned);
    upgrade
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| {
            let connection = Connection {
                protocol,
                header_token,
                client_ip,
                _open: state.metrics.ws_connection(),
                _permit: permit,
                state,
                principal: None,
                init_received: false,
                subscriptions: StreamMap::new(),
            };
            // The connection logs within the upgrade request's span.
            connection.run(socket).instrument(tracing::Span::current())
        })
}

/// What an operation's stream has the connection send.
enum Outgoing {
    Message(String),
    /// The operation ended: tell the client (the stream ends with it).
    Complete,
}

struct Connection {
    protocol: Protocol,
    header_token: Option<String>,
    client_ip: IpAddr,
    /// Counts the connection as open until it is dropped.
    _open: GaugeGuard,
    _permit: OwnedSemaphorePermit,
    state: AppState,
    principal: Option<Principal>,
    init_received: bool,
    /// The running operations by id, each a stream of messages to send,
    /// polled by the connection's own task: a delivery costs no task hop.
    subscriptions: StreamMap<String, BoxStream<'static, Outgoing>>,
}

/// Why the server closes a connection: a protocol close code and reason.
struct Close(u16, &'static str);

/// What the connection's timers and the server's signals have it do; rare
/// beside deliveries, so they wait apart from them (see [`Controls`]).
enum Control {
    Shutdown,
    InitDeadline,
    SessionExpired,
    CredentialEnded,
    KeepAlive,
    /// The server's event bus is gone: it is stopping.
    BusClosed,
}

/// The connection's timers and signals, each polled only when it fires: a
/// delivery wakes the connection thousands of times over in a fan-out, and
/// polling a timer or a channel shared by every connection on each wake
/// took locks all the connections share.
type Controls = SelectAll<BoxStream<'static, Control>>;

impl Connection {
    async fn run(mut self, mut socket: WebSocket) {
        let mut ended_credentials = Some(self.state.services.events.ended_credentials());
        let mut shutdown = self.state.websockets.shutdown.clone();
        let init_deadline = tokio::time::sleep(self.state.websockets.init_timeout);
        let mut controls: Controls = stream::select_all([
            stream::once(async move {
                let _ = shutdown.changed().await;
                Control::Shutdown
            })
            .boxed(),
            stream::once(init_deadline.map(|()| Control::InitDeadline)).boxed(),
        ]);
        let mut dropped = false;

        let close = loop {
            let result = tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => self.receive(&text).await,
                    Some(Ok(Message::Binary(_))) => {
                        Err(Close(4400, "Invalid message: binary frames are not GraphQL"))
                    }
                    // axum hides tungstenite's error type; its message is all there is.
                    Some(Err(error)) if error.to_string().contains("Message too long") => {
                        Err(Close(1009, "Message too big: the limit is 64 KiB"))
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => Ok(Vec::new()),
                },
                Some((id, outgoing)) = self.subscriptions.next(), if !self.subscriptions.is_empty() => {
                    Ok(vec![match outgoing {
                        Outgoing::Message(text) => text,
                        Outgoing::Complete => json!({ "type": "complete", "id": id }).to_string(),
                    }])
                }
                Some(control) = controls.next() => match control {
                    Control::Shutdown => Err(Close(1001, "the server is shutting down")),
                    Control::InitDeadline if !self.init_received => {
                        Err(Close(4408, "Connection initialisation timeout"))
                    }
                    Control::InitDeadline => Ok(Vec::new()),
                    Control::SessionExpired => Err(Close(4403, "Forbidden: the session has expired")),
                    Control::CredentialEnded => Err(Close(4403, "Forbidden: the credential has ended")),
                    Control::KeepAlive => Ok(vec![match self.protocol {
                        Protocol::TransportWs => json!({ "type": "ping" }).to_string(),
                        Protocol::Legacy => json!({ "type": "ka" }).to_string(),
                    }]),
                    Control::BusClosed => break None,
                },
            };
            match result {
                Ok(replies) => {
                    // Once authenticated: its end, and the keep-alive.
                    if let Some(principal) = self.principal
                        && let Some(ended) = ended_credentials.take()
                    {
                        watch_principal(&mut controls, principal, ended);
                    }
                    for reply in replies {
                        if !send(&mut socket, Message::Text(reply.into())).await {
                            // A client that does not read is dropped.
                            dropped = true;
                            break;
                        }
                    }
                    if dropped {
                        break None;
                    }
                }
                Err(close) => break Some(close),
            }
        };
        if let Some(Close(code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            send(&mut socket, Message::Close(Some(frame))).await;
        }
    }

    /// Handles one client message; returns the replies to send.
    async fn receive(&mut self, text: &str) -> Result<Vec<String>, Close> {
        let message: Value =
            serde_json::from_str(text).map_err(|_| Close(4400, "Invalid message: not JSON"))?;
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .ok_or(Close(4400, "Invalid message: no type"))?;
        let id = message.get("id").and_then(Value::as_str);
        match (self.protocol, kind) {
            (_, "connection_init") => self.init(message.get("payload")).await,
            (Protocol::TransportWs, "ping") => Ok(vec![json!({ "type": "pong" }).to_string()]),
            (Protocol::TransportWs, "pong") => Ok(Vec::new()),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                let id = id.ok_or(Close(4400, "Invalid message: subscribe needs an id"))?;
                let payload = message
                    .get("payload")
                    .ok_or(Close(4400, "Invalid message: subscribe needs a payload"))?;
                self.subscribe(id, payload)
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(id) = id {
                    self.subscriptions.remove(id);
                }
                Ok(Vec::new())
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close(1000, "terminated")),
            _ => Err(Close(4400, "Invalid message: unknown type")),
        }
    }

    /// Authenticates with the init payload's `authorization` or, failing
    /// that, the upgrade request's Authorization header.
    async fn init(&mut self, payload: Option<&Value>) -> Result<Vec<String>, Close> {
        if self.init_received {
            return Err(Close(4429, "Too many initialisation requests"));
        }
        self.init_received = true;
        let from_payload = payload
            .and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")))
            .and_then(Value::as_str);
        let token = from_payload
            .and_then(principal::bearer_token)
            .map(str::to_owned)
            .or_else(|| self.header_token.clone());
        let principal = match token {
            Some(token) => principal::authenticate(&self.state, &token)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let Some(principal) = principal else {
            return Err(Close(4403, "Forbidden"));
        };
        self.principal = Some(principal);
        Ok(vec![json!({ "type": "connection_ack" }).to_string()])
    }

    fn subscribe(&mut self, id: &str, payload: &Value) -> Result<Vec<String>, Close> {
        let Some(principal) = self.principal else {
            return Err(Close(4401, "Unauthorized"));
        };
        if self.subscriptions.contains_key(id) {
            return match self.protocol {
                Protocol::TransportWs => Err(Close(4409, "Subscriber for this id already exists")),
                Protocol::Legacy => Ok(vec![error_message(
                    id,
                    &[ServerError::new("this id is in use", None)],
                )]),
            };
        }
        if self.subscriptions.len() >= self.state.websockets.max_subscriptions {
            let refusal = limit_exceeded(format!(
                "a connection runs at most {} subscriptions: complete one first",
                self.state.websockets.max_subscriptions
            ));
            return Ok(vec![error_message(id, &[refusal])]);
        }
        let query = payload
            .get("query")
            .and_then(Value::as_str)
            .ok_or(Close(4400, "Invalid message: no query"))?;
        let mut request = Request::new(query);
        if let Some(variables) = payload.get("variables").filter(|v| !v.is_null()) {
            request = request.variables(Variables::from_json(variables.clone()));
        }
        if let Some(name) = payload.get("operationName").and_then(Value::as_str) {
            request = request.operation_name(name);
        }
        let operation = match self
            .state
            .limits
            .admit(&mut request, &self.state.services.documents)
        {
            Ok(operation) => operation,
            Err(refusal) => {
                self.state.metrics.record_errors([error_code(&refusal)]);
                return Ok(vec![error_message(id, &[refusal])]);
            }
        };
        let replies = live::run(
            &self.state.schema,
            &self.state.services,
            principal,
            self.client_ip,
            request,
        );
        let metrics = self.state.metrics.clone();
        metrics.record_operation(operation.as_deref(), None);
        let messages = Messages {
            id: id.to_owned(),
            next: self.protocol.next(),
            first: true,
            _running: metrics.subscription(),
            metrics,
        };
        self.subscriptions
            .insert(id.to_owned(), messages.of(replies));
        Ok(Vec::new())
    }
}

/// Adds what ends an authenticated connection, and its keep-alive, to
/// its controls: the credential's expiry, the credential ending (log-out,
/// a revoked key) as `ended` tells, and a ping every [`KEEP_ALIVE`].
fn watch_principal(controls: &mut Controls, principal: Principal, ended: Receiver<Ended>) {
    if let Some(expires_at) = principal.expires_at() {
        let left = (expires_at - crate::domain::now())
            .to_std()
            .unwrap_or_default();
        controls
            .push(stream::once(tokio::time::sleep(left).map(|()| Control::SessionExpired)).boxed());
    }
    controls.push(
        stream::unfold(ended, move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(ended) if !principal.ended_by(ended) => {}
                    Ok(_) => return Some((Control::CredentialEnded, receiver)),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return Some((Control::BusClosed, receiver)),
                }
            }
        })
        .boxed(),
    );
    let keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    controls.push(
        stream::unfold(keep_alive, |mut keep_alive| async move {
            keep_alive.tick().await;
            Some((Control::KeepAlive, keep_alive))
        })
        .boxed(),
    );
}

/// Sends one message; false if the client did not take it within
/// [`WRITE_TIMEOUT`], or the connection failed. A send the socket takes at
/// once (nearly all) arms no timer: a fan-out to thousands of connections
/// would otherwise set and cancel one per delivery.
async fn send(socket: &mut WebSocket, message: Message) -> bool {
    let mut sending = std::pin::pin!(socket.send(message));
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(sent) => sent.is_ok(),
        Poll::Pending => matches!(
            tokio::time::timeout(WRITE_TIMEOUT, sending).await,
            Ok(Ok(()))
        ),
    }
}

/// Turns an operation's replies into the messages of the protocol.
struct Messages {
    id: String,
    next: &'static str,
    first: bool,
    metrics: Arc<Metrics>,
    /// Counts the operation as running while its stream lives.
    _running: GaugeGuard,
}

impl Messages {
    /// The messages, ending with `complete`, or with an `error` when the
    /// operation is refused before it runs (invalid, forbidden).
    fn of(self, replies: BoxStream<'static, Reply>) -> BoxStream<'static, Outgoing> {
        stream::unfold(Some((self, replies)), |state| async move {
            let (mut messages, mut replies) = state?;
            match replies.next().await {
                None => Some((Outgoing::Complete, None)),
                Some(reply) => {
                    let (message, refused) = messages.message(reply);
                    let state = (!refused).then_some((messages, replies));
                    Some((Outgoing::Message(message), state))
                }
            }
        })
        .boxed()
    }

    fn message(&mut self, reply: Reply) -> (String, bool) {
        let first = std::mem::replace(&mut self.first, false);
        match reply {
            Reply::Shared(payload) => (shared_message(self.next, &self.id, &payload), false),
            Reply::Response(response) => {
                let mut response = *response;
                code_uncoded(&mut response.errors);
                let refused =
                    first && response.data == async_graphql::Value::Null && response.is_err();
                self.metrics
                    .record_errors(response.errors.iter().map(error_code));
                match refused {
                    true => (error_message(&self.id, &response.errors), true),
                    false => (protocol_message(self.next, &self.id, &response), false),
                }
            }
        }
    }
}

/// A message for one operation, serialized in one pass (a delivery to
/// thousands of subscribers is this, thousands of times).
fn protocol_message(kind: &'static str, id: &str, payload: &impl serde::Serialize) -> String {
    #[derive(serde::Serialize)]
    struct Message<'a, P> {
        r#type: &'static str,
        id: &'a str,
        payload: P,
    }
    serde_json::to_string(&Message {
        r#type: kind,
        id,
        payload,
    })
    .expect("GraphQL responses serialize")
}

/// A message around a payload rendered once for many subscriptions: only
/// the id is this subscription's own.
fn shared_message(kind: &'static str, id: &str, payload: &str) -> String {
    let id = serde_json::to_string(id).expect("strings serialize");
    format!(r#"{{"type":"{kind}","id":{id},"payload":{payload}}}"#)
}

fn error_message(id: &str, errors: &[ServerError]) -> String {
    protocol_message("error", id, &errors)
}
