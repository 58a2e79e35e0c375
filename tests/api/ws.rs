//! A WebSocket GraphQL client for tests: graphql-transport-ws (or the
//! legacy graphql-ws) over a real socket to the real server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects to the server whose GraphQL endpoint is `http_url`.
    pub async fn connect(http_url: &str, protocol: &str, authorization: Option<&str>) -> WsClient {
        let url = http_url.replace("http://", "ws://") + "/ws";
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        if let Some(authorization) = authorization {
            request
                .headers_mut()
                .insert("Authorization", authorization.parse().unwrap());
        }
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket connects");
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        WsClient { socket }
    }

    /// Connects with graphql-transport-ws and initialises with `token`.
    pub async fn signed_in(http_url: &str, token: &str) -> WsClient {
        let mut client = Self::connect(http_url, "graphql-transport-ws", None).await;
        client.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })).await;
        assert_eq!(client.recv().await["type"], "connection_ack");
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// The next protocol message, answering and skipping pings.
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a message in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return message;
                }
                Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("no message: {other:?}"),
            }
        }
    }

    /// The next protocol message, or the close code and reason if the server
    /// closes instead.
    pub async fn reply_or_close(&mut self) -> Result<Value, (u16, String)> {
        let frame = tokio::time::timeout(WAIT, self.socket.next())
            .await
            .expect("a message in time");
        match frame {
            Some(Ok(Message::Text(text))) => Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(Some(frame)))) => {
                Err((u16::from(frame.code), frame.reason.to_string()))
            }
            other => panic!("neither a message nor a close: {other:?}"),
        }
    }

    /// Waits for the server to close; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a close in time");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => {
                    return (u16::from(CloseCode::Status), String::new());
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("socket error before a close frame: {error}"),
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } })).await;
        // The subscription reaches the event bus once the server runs it.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// The payload of the next `next` message for `id`.
    pub async fn next(&mut self, id: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(
            (message["type"].as_str(), message["id"].as_str()),
            (Some("next"), Some(id)),
            "{message}"
        );
        message["payload"].clone()
    }

    /// Whether nothing arrives for a while.
    pub async fn quiet(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.socket.next()).await {
            Err(_) => true,
            Ok(frame) => {
                eprintln!("arrived instead of quiet: {frame:?}");
                false
            }
        }
    }
}
