//! The transports: GraphQL over HTTP and over WebSocket, the router that
//! serves them with the probes and metrics, the accept loop that serves the
//! router to connections, and what both share (refusals and error codes,
//! the client's address, the bearer principal).

mod assets;
mod client_address;
mod http;
mod principal;
mod refusal;
mod router;
mod serve;
mod state;
mod websocket;

pub use router::{cors_layer, router};
pub use serve::{ConnectionLimits, serve};
pub use state::{AppState, WebSocketSettings};
