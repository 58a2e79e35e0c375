//! Where webhooks may be sent: public `https` destinations only, so an
//! endpoint cannot make orgql reach into the network it runs in (server-side
//! request forgery). The rule is checked when an endpoint is set, and again
//! by the delivery worker on every address a name resolves to.

use std::net::IpAddr;

use super::super::DomainError;

/// Whether webhooks may reach private networks (and plain `http`): for
/// development and tests only.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookSettings {
    pub allow_private_networks: bool,
}

/// Addresses no webhook may reach: loopback, private, link-local, shared
/// (carrier-grade NAT), unique-local, multicast, broadcast, unspecified and
/// the "this network" block, in IPv4 and IPv6 (IPv4-mapped ones included).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Checks an endpoint's URL: `https` (or `http` where private networks are
/// allowed), a host, no credentials, and no forbidden address among those
/// its host resolves to now. Returns the URL as it will be used.
pub async fn check(url: &str, settings: WebhookSettings) -> Result<String, DomainError> {
    let refuse = |why: &str| DomainError::bad_input(format!("the endpoint URL {url:?} {why}"));
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| refuse("is not a URL"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if settings.allow_private_networks => {}
        _ => return Err(refuse("must be https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    let host = parsed.host_str().ok_or_else(|| refuse("has no host"))?;
    if !settings.allow_private_networks {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| refuse("names a host that does not resolve"))?
            .map(|address| address.ip())
            .collect();
        if addresses.is_empty() || addresses.iter().any(|ip| forbidden(*ip)) {
            return Err(refuse(
                "points at a loopback, private, link-local or unspecified address",
            ));
        }
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(forbidden(address.parse().unwrap()), "{address}");
        }
        for address in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!forbidden(address.parse().unwrap()), "{address}");
        }
    }
}
