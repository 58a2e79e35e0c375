//! The client's address, which its attempts at secrets are counted by.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

/// The last address in `forwarded_by` (the one the proxy in front added;
/// those before it are the client's to invent), or the connection's when
/// there is no such header or address.
pub fn client_ip(
    headers: &HeaderMap,
    peer: SocketAddr,
    forwarded_by: Option<&HeaderName>,
) -> IpAddr {
    forwarded_by
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer.ip())
}
