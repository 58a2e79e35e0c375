//! Name resolution that refuses forbidden destinations: reqwest connects
//! only to the addresses this returns, so an endpoint whose name resolves to
//! a private address (now, or after a DNS change) is never reached.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhooks::{WebhookSettings, forbidden};

pub const REFUSED: &str =
    "refused: the endpoint resolves to a loopback, private, link-local or unspecified address";

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
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|address| allow_private || !forbidden(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
