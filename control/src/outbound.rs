//! Which addresses the server may reach on a customer's behalf (webhooks now; relays and
//! publish targets use the same policy).
//!
//! A URL a customer types could point the server at itself or at the hosting company's
//! internal network (SSRF). Public addresses are allowed; loopback, private, link-local,
//! carrier-grade NAT, unique-local, multicast and reserved ones are refused unless the
//! operator allows their range (`--relay-allow CIDR,…`). The check runs after DNS
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
        let kind = special(ip)?;
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

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if o[0] == 0 {
        Some("unspecified")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        Some("benchmarking")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if o[0] >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let o = ip.octets();
    let v4 = |a: u8, b: u8, c: u8, d: u8| special_v4(Ipv4Addr::new(a, b, c, d));
    // Addresses that carry an IPv4 address reach it: check that one.
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        // IPv4-compatible ::a.b.c.d
        return v4(o[12], o[13], o[14], o[15]).or(Some("IPv4-compatible"));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 64:ff9b::a.b.c.d: a public IPv4 address through the gateway is public
        return v4(o[12], o[13], o[14], o[15]);
    }
    if s[0] == 0x2002 {
        // 6to4 2002:AABB:CCDD::
        return v4(o[2], o[3], o[4], o[5]);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return Some("local NAT64");
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return Some("Teredo");
    }
    if (s[0] & 0xffc0) == 0xfec0 {
        return Some("site-local");
    }
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("unique local")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
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
        ] {
            assert_eq!(p.check(ip.parse().expect("ip")), Some(kind), "{ip}");
        }
        assert_eq!(p.check("93.184.216.34".parse().expect("ip")), None);
        assert_eq!(p.check("2606:4700::1".parse().expect("ip")), None);
        let allowed = Policy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert_eq!(allowed.check("127.0.0.1".parse().expect("ip")), None);
        assert_eq!(
            allowed.check("10.0.0.1".parse().expect("ip")),
            Some("private")
        );
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
