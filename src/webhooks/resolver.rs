//! Name resolution that refuses forbidden destinations: reqwest connects
//! only to the addresses this returns, so an endpoint whose name resolves to
//! a special-use address (now, or after a DNS change) is never reached.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhooks::{Forbidden, WebhookSettings, forbidden};

/// Why a delivery was not attempted, as its `lastError` says it.
pub fn refusal(found: &Forbidden) -> String {
    format!("refused: the endpoint points at {found}")
}

pub struct CheckedResolver {
    settings: WebhookSettings,
}

impl CheckedResolver {
    pub fn new(settings: WebhookSettings) -> CheckedResolver {
        CheckedResolver { settings }
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.settings.allow_private_networks;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|address| allow_private || forbidden(address.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let why = match resolved.iter().find_map(|address| forbidden(address.ip())) {
                    Some(found) => refusal(&found),
                    None => format!("{} resolves to no address", name.as_str()),
                };
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolve(name: &str) -> Result<Vec<SocketAddr>, String> {
        let resolver = CheckedResolver::new(WebhookSettings::default());
        match resolver.resolve(name.parse().unwrap()).await {
            Ok(addresses) => Ok(addresses.collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The system resolver answers these names without asking DNS (an
    /// address is its own answer, localhost is in the hosts file), so each
    /// goes through the same lookup and check as any name.
    #[tokio::test]
    async fn names_resolving_to_special_use_addresses_are_refused() {
        for (name, block) in [
            ("localhost", "a loopback address"),
            ("64:ff9b::a00:1", "a NAT64 address (64:ff9b::/96)"),
            ("2002:a00:1::", "a 6to4 address (2002::/16)"),
            ("2001:0:4136:e378::1", "a Teredo address (2001::/32)"),
            ("::a00:1", "an IPv4-compatible address (::/96)"),
            ("fec0::1", "a site-local address (fec0::/10)"),
            ("198.18.0.1", "a benchmarking address (198.18.0.0/15)"),
            ("240.0.0.1", "a reserved address (240.0.0.0/4)"),
        ] {
            let refused = resolve(name).await.unwrap_err();
            assert!(
                refused.starts_with("refused: the endpoint points at "),
                "{name}: {refused}"
            );
            assert!(refused.contains(block), "{name}: {refused}");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_public_addresses_are_kept() {
        for address in ["1.1.1.1", "2606:4700:4700::1111"] {
            let resolved = resolve(address).await.unwrap();
            let ips: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
            assert_eq!(ips, [address]);
        }
    }
}
