//! Where webhooks may be sent: public `https` destinations only, so an
//! endpoint cannot make orgql reach into the network it runs in (server-side
//! request forgery). The rule is checked when an endpoint is set, and again
//! by the delivery worker on a literal address and on every address a name
//! resolves to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::DomainError;

/// Whether webhooks may reach private networks (and plain `http`): for
/// development and tests only.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookSettings {
    pub allow_private_networks: bool,
}

/// A block of addresses no webhook may reach, and what it is.
#[derive(Debug)]
struct SpecialUse {
    network: IpAddr,
    prefix: u8,
    /// Read after the address in a refusal: "198.18.0.1, a benchmarking address".
    what: &'static str,
}

const fn v4(octets: [u8; 4], prefix: u8, what: &'static str) -> SpecialUse {
    let [a, b, c, d] = octets;
    let network = IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    SpecialUse {
        network,
        prefix,
        what,
    }
}

const fn v6(segments: [u16; 8], prefix: u8, what: &'static str) -> SpecialUse {
    let [a, b, c, d, e, f, g, h] = segments;
    let network = IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h));
    SpecialUse {
        network,
        prefix,
        what,
    }
}

/// What the three blocks around global unicast (2000::/3) are called.
const RESERVED_V6: &str = "a reserved address outside 2000::/3";

/// Every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries,
/// globally reachable or not, and a few more. A webhook receiver is an
/// ordinary unicast host, and none lives in these blocks: the globally
/// reachable ones hold anycast services (PCP and TURN in 192.0.0.0/24 and
/// 2001:1::/48), AS112 DNS sinks, AMT relays and identifiers (ORCHIDv2,
/// drone tags in 2001::/23), so all of 192.0.0.0/24 and 2001::/23 is refused
/// rather than picked apart.
///
/// Addresses that embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped,
/// -compatible and -translated) are refused whole rather than unwrapped:
/// what they reach is decided by a translator or relay orgql cannot see (on
/// a network with a NAT64 gateway, `64:ff9b::a00:1` *is* 10.0.0.1), and a
/// webhook has no need to go through one. A resolver never answers an
/// IPv4-mapped address for a public name (getaddrinfo gives IPv4 as IPv4).
///
/// IPv6 outside 2000::/3 is refused outright: it is the only block IANA has
/// allocated for global unicast; the rest is special (above) or reserved by
/// the IETF, and may become special. The named blocks inside it are listed
/// so that a refusal says which one matched (the longest prefix wins).
#[rustfmt::skip]
const SPECIAL_USE: &[SpecialUse] = &[
    v4([0, 0, 0, 0], 8, "a this-network address"),
    v4([0, 0, 0, 0], 32, "the unspecified address"),
    v4([10, 0, 0, 0], 8, "a private address"),
    v4([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
    v4([127, 0, 0, 0], 8, "a loopback address"),
    v4([169, 254, 0, 0], 16, "a link-local address"),
    v4([172, 16, 0, 0], 12, "a private address"),
    v4([192, 0, 0, 0], 24, "an IETF protocol assignment"),
    v4([192, 0, 2, 0], 24, "a documentation address"),
    v4([192, 31, 196, 0], 24, "an AS112 DNS address"),
    v4([192, 52, 193, 0], 24, "an AMT relay address"),
    v4([192, 88, 99, 0], 24, "a 6to4 relay anycast address"),
    v4([192, 168, 0, 0], 16, "a private address"),
    v4([192, 175, 48, 0], 24, "an AS112 DNS address"),
    v4([198, 18, 0, 0], 15, "a benchmarking address"),
    v4([198, 51, 100, 0], 24, "a documentation address"),
    v4([203, 0, 113, 0], 24, "a documentation address"),
    v4([224, 0, 0, 0], 4, "a multicast address"),
    v4([240, 0, 0, 0], 4, "a reserved address"),
    v4([255, 255, 255, 255], 32, "the broadcast address"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 3, RESERVED_V6),
    v6([0x4000, 0, 0, 0, 0, 0, 0, 0], 2, RESERVED_V6),
    v6([0x8000, 0, 0, 0, 0, 0, 0, 0], 1, RESERVED_V6),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "the unspecified address"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "the loopback address"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "an IPv4-compatible address"),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "an IPv4-mapped address"),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "an IPv4-translated (SIIT) address"),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "a NAT64 address"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "a local-use NAT64 address"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "an IETF protocol assignment"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "a Teredo address"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "a benchmarking address"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "an ORCHIDv2 identifier"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "a documentation address"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "a 6to4 address"),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "an AS112 DNS address"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "an SRv6 segment identifier"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "a unique-local address"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "a site-local address"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
];

/// An address's bits, right-aligned, and how many there are.
fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4).into(), 32),
        IpAddr::V6(v6) => (v6.into(), 128),
    }
}

impl SpecialUse {
    /// Whether `ip` is of the block's family and its first `prefix` bits are the block's.
    fn contains(&self, ip: IpAddr) -> bool {
        let ((network, width), (address, width_of_ip)) = (bits(self.network), bits(ip));
        let host_bits = width - u32::from(self.prefix);
        width == width_of_ip && (network ^ address).checked_shr(host_bits).unwrap_or(0) == 0
    }
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.what, self.network, self.prefix)
    }
}

/// An address no webhook may reach; it reads "198.18.0.1, a benchmarking
/// address (198.18.0.0/15)".
#[derive(Debug)]
pub struct Forbidden {
    address: IpAddr,
    block: &'static SpecialUse,
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.address, self.block)
    }
}

/// The special-use block `ip` is in, if any: the most specific one.
pub fn forbidden(ip: IpAddr) -> Option<Forbidden> {
    SPECIAL_USE
        .iter()
        .filter(|block| block.contains(ip))
        .max_by_key(|block| block.prefix)
        .map(|block| Forbidden { address: ip, block })
}

/// The address a URL's host is written as, if it is one: such a host is
/// never resolved, so it is checked as it is.
pub fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}

/// Checks an endpoint's URL: `https` (or `http` where private networks are
/// allowed), a host, no credentials, and no forbidden address: the literal
/// one it is written with, or any its host resolves to now. Returns the URL
/// as it will be used.
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
        let addresses: Vec<IpAddr> = match literal_address(&parsed) {
            Some(ip) => vec![ip],
            None => {
                let port = parsed.port_or_known_default().unwrap_or(443);
                let resolved = tokio::net::lookup_host((host, port)).await;
                resolved
                    .map(|found| found.map(|address| address.ip()).collect())
                    .unwrap_or_default()
            }
        };
        if addresses.is_empty() {
            return Err(refuse("names a host that does not resolve"));
        }
        if let Some(found) = addresses.into_iter().find_map(forbidden) {
            return Err(refuse(&format!("points at {found}")));
        }
    }
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the rule says of `address`: the block's description, or None.
    fn verdict(address: &str) -> Option<String> {
        forbidden(address.parse().unwrap()).map(|found| found.block.to_string())
    }

    #[test]
    fn every_special_use_block_is_refused_by_name() {
        for (address, block) in [
            ("0.1.2.3", "a this-network address (0.0.0.0/8)"),
            ("0.0.0.0", "the unspecified address (0.0.0.0/32)"),
            ("10.1.2.3", "a private address (10.0.0.0/8)"),
            (
                "100.64.0.1",
                "a shared (carrier-grade NAT) address (100.64.0.0/10)",
            ),
            (
                "100.127.255.255",
                "a shared (carrier-grade NAT) address (100.64.0.0/10)",
            ),
            ("127.0.0.1", "a loopback address (127.0.0.0/8)"),
            ("169.254.169.254", "a link-local address (169.254.0.0/16)"),
            ("172.31.255.255", "a private address (172.16.0.0/12)"),
            ("192.0.0.9", "an IETF protocol assignment (192.0.0.0/24)"),
            ("192.0.0.170", "an IETF protocol assignment (192.0.0.0/24)"),
            ("192.0.2.1", "a documentation address (192.0.2.0/24)"),
            ("192.31.196.1", "an AS112 DNS address (192.31.196.0/24)"),
            ("192.52.193.1", "an AMT relay address (192.52.193.0/24)"),
            (
                "192.88.99.1",
                "a 6to4 relay anycast address (192.88.99.0/24)",
            ),
            ("192.168.1.1", "a private address (192.168.0.0/16)"),
            ("192.175.48.1", "an AS112 DNS address (192.175.48.0/24)"),
            ("198.18.0.1", "a benchmarking address (198.18.0.0/15)"),
            ("198.19.255.255", "a benchmarking address (198.18.0.0/15)"),
            ("198.51.100.7", "a documentation address (198.51.100.0/24)"),
            ("203.0.113.7", "a documentation address (203.0.113.0/24)"),
            ("224.0.0.1", "a multicast address (224.0.0.0/4)"),
            ("239.255.255.250", "a multicast address (224.0.0.0/4)"),
            ("240.0.0.1", "a reserved address (240.0.0.0/4)"),
            ("255.255.255.254", "a reserved address (240.0.0.0/4)"),
            (
                "255.255.255.255",
                "the broadcast address (255.255.255.255/32)",
            ),
            ("::", "the unspecified address (::/128)"),
            ("::1", "the loopback address (::1/128)"),
            ("::10.0.0.1", "an IPv4-compatible address (::/96)"),
            ("::1.1.1.1", "an IPv4-compatible address (::/96)"),
            (
                "::ffff:127.0.0.1",
                "an IPv4-mapped address (::ffff:0.0.0.0/96)",
            ),
            (
                "::ffff:1.1.1.1",
                "an IPv4-mapped address (::ffff:0.0.0.0/96)",
            ),
            (
                "::ffff:0:10.0.0.1",
                "an IPv4-translated (SIIT) address (::ffff:0:0:0/96)",
            ),
            ("64:ff9b::10.0.0.1", "a NAT64 address (64:ff9b::/96)"),
            ("64:ff9b::1.1.1.1", "a NAT64 address (64:ff9b::/96)"),
            (
                "64:ff9b:1::a00:1",
                "a local-use NAT64 address (64:ff9b:1::/48)",
            ),
            ("100::1", "a discard-only address (100::/64)"),
            ("2001:1::1", "an IETF protocol assignment (2001::/23)"),
            ("2001:3::1", "an IETF protocol assignment (2001::/23)"),
            ("2001:4:112::1", "an IETF protocol assignment (2001::/23)"),
            (
                "2001:1ff:ffff::1",
                "an IETF protocol assignment (2001::/23)",
            ),
            ("2001:0:4136:e378::1", "a Teredo address (2001::/32)"),
            ("2001:2::1", "a benchmarking address (2001:2::/48)"),
            ("2001:20::1", "an ORCHIDv2 identifier (2001:20::/28)"),
            ("2001:db8::1", "a documentation address (2001:db8::/32)"),
            ("2002:a00:1::1", "a 6to4 address (2002::/16)"),
            ("2002:101:101::1", "a 6to4 address (2002::/16)"),
            (
                "2620:4f:8000::1",
                "an AS112 DNS address (2620:4f:8000::/48)",
            ),
            ("3fff::1", "a documentation address (3fff::/20)"),
            ("3fff:fff:ffff::1", "a documentation address (3fff::/20)"),
            ("5f00::1", "an SRv6 segment identifier (5f00::/16)"),
            ("fc00::1", "a unique-local address (fc00::/7)"),
            ("fd12:3456::1", "a unique-local address (fc00::/7)"),
            ("fe80::1", "a link-local address (fe80::/10)"),
            ("fec0::1", "a site-local address (fec0::/10)"),
            ("ff02::1", "a multicast address (ff00::/8)"),
            ("1fff:ffff::1", "a reserved address outside 2000::/3 (::/3)"),
            ("4000::1", "a reserved address outside 2000::/3 (4000::/2)"),
            ("e000::1", "a reserved address outside 2000::/3 (8000::/1)"),
        ] {
            assert_eq!(verdict(address).as_deref(), Some(block), "{address}");
        }
    }

    #[test]
    fn public_addresses_are_allowed_up_to_the_edge_of_each_block() {
        for address in [
            "1.1.1.1",
            "93.184.216.34",
            "8.8.8.8",
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:200::1",
            "2001:db9::1",
            "2001:db7:ffff::1",
            "2003::1",
            "2001:4860:4860::8888",
            "2620:4f:8001::1",
            "3fff:1000::1",
            "2000::1",
            "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(verdict(address), None, "{address}");
        }
    }

    #[test]
    fn each_block_is_written_as_its_first_address() {
        for block in SPECIAL_USE {
            let (network, width) = bits(block.network);
            let host_bits = network.checked_shl(u32::from(block.prefix) + 128 - width);
            assert_eq!(host_bits.unwrap_or(0), 0, "{block}");
            assert!(u32::from(block.prefix) <= width, "{block}");
        }
    }

    #[test]
    fn a_refusal_names_the_address_and_its_block() {
        let found = forbidden("198.18.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            found.to_string(),
            "198.18.0.1, a benchmarking address (198.18.0.0/15)"
        );
    }

    #[tokio::test]
    async fn literal_addresses_are_refused_at_creation_without_resolution() {
        let settings = WebhookSettings::default();
        for (url, block) in [
            ("https://[64:ff9b::a00:1]/hooks", "(64:ff9b::/96)"),
            ("https://198.18.0.1/hooks", "(198.18.0.0/15)"),
            ("https://[::ffff:10.0.0.1]/hooks", "(::ffff:0.0.0.0/96)"),
            ("https://2130706433/hooks", "(127.0.0.0/8)"),
        ] {
            let Err(DomainError::BadInput(refused)) = check(url, settings).await else {
                panic!("{url} is accepted");
            };
            assert!(refused.contains(block), "{url}: {refused}");
        }
        assert!(check("https://1.1.1.1/hooks", settings).await.is_ok());
        assert!(
            check("https://[2606:4700:4700::1111]/", settings)
                .await
                .is_ok()
        );
    }
}
