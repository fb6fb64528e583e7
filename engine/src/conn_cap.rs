//! Connection caps shared by every port (HTTP, Icecast, RTMP): at most `per_address` open
//! connections from one address and at most `total` altogether.
//!
//! Without them one address holding thousands of half-open connections exhausts the
//! process's file descriptors and every port stops answering. A connection over a cap is
//! closed at once by the accept loop; refusals are logged once per address per
//! [`LOG_EVERY`] with a count, never once per connection (an attacker must not fill the log).
//!
//! Invariants: a [`ConnPermit`] is held for exactly as long as its connection is open and
//! gives its slot back when dropped, so the counts never drift; IPv6 addresses are counted
//! by their /64 (one subscriber's prefix), IPv4-mapped IPv6 as the IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::log_gate::LogGate;

/// How often refusals of one address are logged at most.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// The two caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapConfig {
    /// Open connections one address may hold (over all ports together).
    pub per_address: usize,
    /// Open connections over all ports together.
    pub total: usize,
}

impl CapConfig {
    /// No caps (tests that serve the engine in-process).
    pub const UNLIMITED: Self = Self {
        per_address: usize::MAX,
        total: usize::MAX,
    };
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds `per_address` connections.
    PerAddress,
    /// The server already holds `total` connections.
    Total,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PerAddress => "the per-address connection cap",
            Self::Total => "the server's connection cap",
        })
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The caps and the connections open now. Cheap to share (`Arc`); one for the whole server.
#[derive(Debug)]
pub struct ConnCap {
    config: CapConfig,
    counts: Mutex<Counts>,
    refusals: LogGate<IpAddr>,
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnPermit {
    cap: Arc<ConnCap>,
    key: IpAddr,
}

impl ConnCap {
    pub fn new(config: CapConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            counts: Mutex::default(),
            refusals: LogGate::new(LOG_EVERY),
        })
    }

    pub fn unlimited() -> Arc<Self> {
        Self::new(CapConfig::UNLIMITED)
    }

    pub fn config(&self) -> CapConfig {
        self.config
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for a connection from `ip`, or says which cap it is over (and logs
    /// that, at most once per address per [`LOG_EVERY`]).
    pub fn admit(self: &Arc<Self>, what: &str, ip: IpAddr) -> Result<ConnPermit, Refusal> {
        let key = address_key(ip);
        let mut counts = self.lock();
        let held = counts.by_address.get(&key).copied().unwrap_or(0);
        let refusal = if held >= self.config.per_address {
            Some(Refusal::PerAddress)
        } else if counts.total >= self.config.total {
            Some(Refusal::Total)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(counts);
            if let Some(refused) = self.refusals.event(key) {
                let limit = match refusal {
                    Refusal::PerAddress => self.config.per_address,
                    Refusal::Total => self.config.total,
                };
                tracing::warn!(
                    remote = %key,
                    refused,
                    "{what} port: refused {refused} connection(s) from {key}: over {refusal} \
                     ({limit}); further refusals from it are summed up once a minute"
                );
            }
            return Err(refusal);
        }
        counts.total += 1;
        *counts.by_address.entry(key).or_insert(0) += 1;
        Ok(ConnPermit {
            cap: Arc::clone(self),
            key,
        })
    }

    /// Connections open now: in all, and from `ip`.
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let counts = self.lock();
        let from = counts.by_address.get(&address_key(ip)).copied();
        (counts.total, from.unwrap_or(0))
    }
}

/// The key an address is counted under: IPv6 by its /64, IPv4-mapped as IPv4.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut counts = self.cap.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn per_address_cap_leaves_room_for_others() {
        let cap = ConnCap::new(CapConfig {
            per_address: 2,
            total: 3,
        });
        let a1 = cap.admit("test", ip("192.0.2.1")).expect("first");
        let _a2 = cap.admit("test", ip("192.0.2.1")).expect("second");
        assert_eq!(
            cap.admit("test", ip("192.0.2.1")).err(),
            Some(Refusal::PerAddress)
        );
        let _b1 = cap.admit("test", ip("192.0.2.2")).expect("another address");
        assert_eq!(
            cap.admit("test", ip("192.0.2.3")).err(),
            Some(Refusal::Total)
        );
        drop(a1);
        assert_eq!(cap.open(ip("192.0.2.1")), (2, 1));
        let _a3 = cap
            .admit("test", ip("192.0.2.1"))
            .expect("a slot came back");
    }

    #[test]
    fn ipv6_counted_by_prefix_and_mapped_as_ipv4() {
        let cap = ConnCap::new(CapConfig {
            per_address: 1,
            total: 10,
        });
        let _a = cap.admit("test", ip("2001:db8:1:2::1")).expect("first");
        assert!(cap.admit("test", ip("2001:db8:1:2::ffff")).is_err());
        let _b = cap.admit("test", ip("2001:db8:1:3::1")).expect("other /64");
        let _c = cap.admit("test", ip("198.51.100.4")).expect("v4");
        assert!(cap.admit("test", ip("::ffff:198.51.100.4")).is_err());
    }

    #[test]
    fn dropping_every_permit_empties_the_table() {
        let cap = ConnCap::new(CapConfig {
            per_address: 5,
            total: 5,
        });
        let permits: Vec<_> = (0..5)
            .map(|i| {
                cap.admit("test", ip(&format!("192.0.2.{i}")))
                    .expect("admit")
            })
            .collect();
        drop(permits);
        assert_eq!(cap.open(ip("192.0.2.0")), (0, 0));
        assert!(cap.lock().by_address.is_empty());
    }
}
