//! Which addresses the server may reach on a customer's behalf (webhooks now; relays and
//! publish targets use the same policy).
//!
//! A URL a customer types could point the server at itself or at the hosting company's
//! internal network (SSRF). Public addresses are allowed; the IANA special-purpose ranges
//! (loopback, private, link-local, carrier-grade NAT, documentation, benchmarking,
//! unique-local, multicast, reserved…) and the server's own interface addresses are refused
//! unless the operator allows their range (`--relay-allow CIDR,…`). The check runs after DNS
//! resolution, every time, and the connection is pinned to the addresses that passed, so a
//! name that resolves differently a moment later (DNS rebinding) cannot slip through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;

const DNS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    BadUrl(String),
    #[error(
        "{host} resolves to {ip}, a {kind} address the server may not reach (an operator can allow it with --relay-allow)"
    )]
    Address {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
    #[error("cannot resolve {0}: {1}")]
    Dns(String, String),
}

/// The operator's allowed ranges beside public addresses.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<IpNet>,
}

impl Policy {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Why `ip` may not be reached, if it may not.
    pub fn check(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let kind = special(ip).or_else(|| own_address(ip).then_some("this server's own"))?;
        if self.allow.iter().any(|net| net.contains(&ip)) {
            None
        } else {
            Some(kind)
        }
    }

    /// The addresses `url` may be reached at: its host resolved, every address checked.
    pub async fn resolve(&self, url: &reqwest::Url) -> Result<Vec<SocketAddr>, Refused> {
        let host = url
            .host_str()
            .ok_or_else(|| Refused::BadUrl("the URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refused::BadUrl("the URL has no port".into()))?;
        self.resolve_host(host, port).await
    }

    /// The addresses `host:port` may be reached at: resolved, every address checked.
    pub async fn resolve_host(&self, host: String, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let addrs: Vec<SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else {
            let found =
                tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.clone(), port)))
                    .await;
            match found {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => return Err(Refused::Dns(host, e.to_string())),
                Err(_) => return Err(Refused::Dns(host, "no answer within 5 s".into())),
            }
        };
        if addrs.is_empty() {
            return Err(Refused::Dns(host, "no addresses".into()));
        }
        for a in &addrs {
            if let Some(kind) = self.check(a.ip()) {
                return Err(Refused::Address {
                    host,
                    ip: a.ip(),
                    kind,
                });
            }
        }
        Ok(addrs)
    }
}

/// The kind of a non-public address; `None` for a public one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

/// IPv4 ranges that are not ordinary public unicast: IANA's "IPv4 Special-Purpose Address
/// Registry" (https://www.iana.org/assignments/iana-ipv4-special-registry/, RFC 6890 and
/// its updates) minus the blocks marked globally reachable (AS112 192.31.196.0/24 and
/// 192.175.48.0/24, AMT 192.52.193.0/24), plus multicast (224.0.0.0/4, from the multicast
/// registry). 192.0.0.0/24 is refused whole: its two reachable anycast addresses (PCP,
/// TURN) are nothing a customer's URL needs. Most specific first, so the kind says the
/// narrowest reason.
const V4_SPECIAL: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "unspecified"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared (carrier-grade NAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignment"),
    ([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
    ([192, 88, 99, 0], 24, "deprecated 6to4 relay anycast"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
    ([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([255, 255, 255, 255], 32, "broadcast"),
    ([240, 0, 0, 0], 4, "reserved"),
];

/// IPv6 ranges that are not ordinary public unicast: IANA's "IPv6 Special-Purpose Address
/// Registry" (https://www.iana.org/assignments/iana-ipv6-special-registry/) minus the
/// globally reachable blocks outside 2001::/23 (AS112 2620:4f:8000::/48), plus multicast
/// and the deprecated site-local range. 2001::/23 (IETF protocol assignments) is refused
/// whole, like 192.0.0.0/24: its reachable entries are anycast and overlay services. Ranges
/// that embed an IPv4 address (::/96, 64:ff9b::/96, 2002::/16) are judged by that address in
/// [`special_v6`] first; anything outside global unicast 2000::/3 is reserved.
const V6_SPECIAL: &[(u128, u8, &str)] = &[
    (0, 128, "unspecified"),
    (1, 128, "loopback"),
    (0x0064_ff9b_0001 << 80, 48, "local NAT64"),
    (0x0100 << 112, 64, "discard-only"),
    (0x0100_0000_0000_0001 << 64, 64, "dummy prefix"),
    (0x2001_0000 << 96, 32, "Teredo"),
    (0x2001_0db8 << 96, 32, "documentation"),
    (0x2001 << 112, 23, "IETF protocol assignment"),
    (0x3fff << 112, 20, "documentation"),
    (0x5f00 << 112, 16, "segment routing (SRv6)"),
    (0xfc00 << 112, 7, "unique local"),
    (0xfe80 << 112, 10, "link-local"),
    (0xfec0 << 112, 10, "site-local"),
    (0xff00 << 112, 8, "multicast"),
];

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let ip = u32::from(ip);
    V4_SPECIAL.iter().find_map(|(net, len, kind)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
        (ip & mask == u32::from_be_bytes(*net) & mask).then_some(*kind)
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let o = ip.octets();
    let bits = u128::from(ip);
    let in_net = |net: u128, len: u32| {
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        bits & mask == net & mask
    };
    let v4 = |a: u8, b: u8, c: u8, d: u8| special_v4(Ipv4Addr::new(a, b, c, d));
    // Addresses that carry an IPv4 address reach it: check that one.
    if in_net(0, 96) && bits > 1 {
        // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291)
        return v4(o[12], o[13], o[14], o[15]).or(Some("IPv4-compatible"));
    }
    if in_net(0x0064_ff9b << 96, 96) {
        // NAT64 64:ff9b::a.b.c.d: a public IPv4 address through the gateway is public
        return v4(o[12], o[13], o[14], o[15]);
    }
    if in_net(0x2002 << 112, 16) {
        // 6to4 2002:AABB:CCDD::
        return v4(o[2], o[3], o[4], o[5]);
    }
    let listed = V6_SPECIAL
        .iter()
        .find(|(net, len, _)| in_net(*net, u32::from(*len)))
        .map(|(_, _, kind)| *kind);
    listed.or_else(|| (!in_net(0x2000 << 112, 3)).then_some("reserved"))
}

/// Whether `ip` is one of this machine's own interface addresses (a public one included:
/// the server must not be pointed at its own ports from outside either). Read at every
/// check, so an address that a DHCP lease or a new interface brings is covered.
fn own_address(ip: IpAddr) -> bool {
    match if_addrs::get_if_addrs() {
        Ok(ifaces) => ifaces.iter().any(|i| i.ip() == ip),
        Err(e) => {
            // Without the list the other rules still hold; say why this one was skipped.
            tracing::warn!("cannot list this server's network interfaces: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        let p = Policy::default();
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("64:ff9b::a00:5", "private"),
            ("::a00:5", "private"),
            ("2002:a00:5::1", "private"),
            ("2001:0:4136:e378::1", "Teredo"),
            ("fec0::1", "site-local"),
            ("0.1.2.3", "unspecified"),
            ("100.127.255.255", "shared (carrier-grade NAT)"),
            ("100.128.0.1", "public"),
            ("192.0.0.8", "IETF protocol assignment"),
            ("192.0.2.10", "documentation (TEST-NET-1)"),
            ("192.88.99.1", "deprecated 6to4 relay anycast"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.20.0.1", "public"),
            ("198.51.100.7", "documentation (TEST-NET-2)"),
            ("203.0.113.9", "documentation (TEST-NET-3)"),
            ("224.0.0.251", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("192.31.196.1", "public"), // AS112: globally reachable
            ("::", "unspecified"),
            ("::ffff:192.0.2.1", "documentation (TEST-NET-1)"),
            ("::ffff:8.8.8.8", "public"),
            ("64:ff9b::c000:201", "documentation (TEST-NET-1)"),
            ("64:ff9b::808:808", "public"),
            ("64:ff9b:1::1", "local NAT64"),
            ("100::1", "discard-only"),
            ("2001:db8::1", "documentation"),
            ("2001:2::1", "IETF protocol assignment"),
            ("2002:c633:6401::1", "documentation (TEST-NET-2)"),
            ("3fff::1", "documentation"),
            ("5f00::1", "segment routing (SRv6)"),
            ("ff02::1", "multicast"),
            ("4000::1", "reserved"),
            ("2606:4700::1", "public"),
        ] {
            let want = (kind != "public").then_some(kind);
            assert_eq!(p.check(ip.parse().expect("ip")), want, "{ip}");
        }
        assert_eq!(p.check("93.184.216.34".parse().expect("ip")), None);
        let allowed = Policy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert_eq!(allowed.check("127.0.0.1".parse().expect("ip")), None);
        assert_eq!(
            allowed.check("10.0.0.1".parse().expect("ip")),
            Some("private")
        );
    }

    #[test]
    fn own_interface_addresses_are_refused() {
        let p = Policy::default();
        let ifaces = if_addrs::get_if_addrs().expect("interfaces");
        assert!(!ifaces.is_empty());
        for i in ifaces {
            assert!(own_address(i.ip()), "{}", i.ip());
            assert!(p.check(i.ip()).is_some(), "{} is this server's own", i.ip());
        }
        assert!(!own_address("93.184.216.34".parse().expect("ip")));
    }

    #[tokio::test]
    async fn resolution_is_checked() {
        let p = Policy::default();
        let url = reqwest::Url::parse("http://localhost:9/hook").expect("url");
        assert!(matches!(
            p.resolve(&url).await,
            Err(Refused::Address {
                kind: "loopback",
                ..
            })
        ));
        let url = reqwest::Url::parse("http://[::1]:9/hook").expect("url");
        assert!(matches!(
            p.resolve(&url).await,
            Err(Refused::Address { .. })
        ));
    }
}

/// The engine's publish targets connect where this policy lets them (checked at every
/// connect, after DNS).
#[derive(Debug, Clone)]
pub struct PolicyDialer(pub std::sync::Arc<Policy>);

impl tidecast_engine::targets::Dialer for PolicyDialer {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> tidecast_engine::admission::BoxFuture<
        'a,
        Result<Vec<SocketAddr>, tidecast_engine::dial::DialError>,
    > {
        Box::pin(async move {
            self.0
                .resolve_host(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                    port,
                )
                .await
                .map_err(|e| tidecast_engine::dial::DialError::Resolve(e.to_string()))
        })
    }

    fn tls<'a>(
        &'a self,
        host: &'a str,
        tcp: tokio::net::TcpStream,
    ) -> tidecast_engine::admission::BoxFuture<
        'a,
        Result<Box<dyn tidecast_engine::targets::Io>, tidecast_engine::dial::DialError>,
    > {
        use tidecast_engine::dial::DialError;
        Box::pin(async move {
            use rustls_platform_verifier::ConfigVerifierExt as _;
            let config = rustls::ClientConfig::with_platform_verifier()
                .map_err(|e| DialError::Tls(format!("TLS is not available: {e}")))?;
            let name = rustls::pki_types::ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            )
            .map_err(|e| DialError::Tls(format!("{host} is not a name TLS can check: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| DialError::Tls(format!("TLS with {host} failed: {e}")))?;
            Ok(Box::new(tls) as Box<dyn tidecast_engine::targets::Io>)
        })
    }
}
