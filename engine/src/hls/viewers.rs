//! HLS viewer sessions. HLS has no connection to count, so a viewer is a client polling a
//! stream's playlist: its address and user agent, plus the session token a player URL may
//! carry (`?session=…`, so two players behind one address count twice). A session ends
//! after two target durations without a request; its bytes are what was actually sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewerKey {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub token: Option<String>,
}

/// A viewer session that has ended, for the statistics.
#[derive(Debug, Clone)]
pub struct EndedViewer {
    pub key: ViewerKey,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub bytes: u64,
}

#[derive(Debug)]
struct Viewer {
    started_at: SystemTime,
    started: Instant,
    last_seen: Instant,
    bytes: u64,
}

/// Why a new viewer was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("the stream is full ({0} viewers)")]
    Stream(usize),
    /// One address with many player tokens must not take every place.
    #[error("too many players from one address ({0})")]
    Address(usize),
}

/// Sessions one address may hold at once.
pub const MAX_PER_ADDRESS: usize = 16;

/// Sessions by client (address and agent), then by player token: a segment request
/// (which carries no token) finds its client's sessions without a scan.
type Clients = HashMap<(IpAddr, Option<String>), HashMap<Option<String>, Viewer>>;

#[derive(Debug, Default)]
struct Table {
    clients: Clients,
    count: usize,
    per_address: HashMap<IpAddr, usize>,
}

#[derive(Debug, Default)]
pub struct Viewers {
    table: Mutex<Table>,
    peak: Mutex<usize>,
}

impl Viewers {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A playlist request: continues the viewer's session or starts one (unless `max`
    /// viewers are already watching).
    pub fn playlist(&self, key: ViewerKey, bytes: u64, max: usize) -> Result<(), Full> {
        let now = Instant::now();
        let mut t = self.lock();
        let ViewerKey {
            ip,
            user_agent,
            token,
        } = key;
        if let Some(v) = t
            .clients
            .get_mut(&(ip, user_agent.clone()))
            .and_then(|tokens| tokens.get_mut(&token))
        {
            v.last_seen = now;
            v.bytes += bytes;
            return Ok(());
        }
        if t.count >= max {
            return Err(Full::Stream(max));
        }
        if t.per_address.get(&ip).copied().unwrap_or(0) >= MAX_PER_ADDRESS {
            return Err(Full::Address(MAX_PER_ADDRESS));
        }
        t.clients.entry((ip, user_agent)).or_default().insert(
            token,
            Viewer {
                started_at: SystemTime::now(),
                started: now,
                last_seen: now,
                bytes,
            },
        );
        t.count += 1;
        *t.per_address.entry(ip).or_default() += 1;
        let n = t.count;
        drop(t);
        let mut peak = self.peak.lock().unwrap_or_else(|p| p.into_inner());
        *peak = (*peak).max(n);
        Ok(())
    }

    /// A segment request: counted to the viewer's session (players do not carry the
    /// playlist's token on to segments, so the client's most recent session will do).
    pub fn segment(&self, ip: IpAddr, user_agent: Option<&str>, bytes: u64) {
        let now = Instant::now();
        let mut t = self.lock();
        if let Some(v) = t
            .clients
            .get_mut(&(ip, user_agent.map(str::to_owned)))
            .and_then(|tokens| tokens.values_mut().max_by_key(|v| v.last_seen))
        {
            v.last_seen = now;
            v.bytes += bytes;
        }
    }

    /// Ends the sessions silent for longer than `idle` (all of them with `Duration::ZERO`).
    ///
    /// A session lasts from its first request to its last, plus the media that last request
    /// gave it to play: about one target duration (`idle` is two), or until now if the
    /// stream ended sooner. Counting only up to the last request would make a player that
    /// fetched one segment a session of zero seconds, overlapping nobody.
    pub fn sweep(&self, idle: Duration) -> Vec<EndedViewer> {
        let now = Instant::now();
        let mut ended = Vec::new();
        let mut t = self.lock();
        let Table {
            clients,
            count,
            per_address,
        } = &mut *t;
        clients.retain(|(ip, agent), tokens| {
            tokens.retain(|token, v| {
                if now.duration_since(v.last_seen) < idle && !idle.is_zero() {
                    return true;
                }
                ended.push(EndedViewer {
                    key: ViewerKey {
                        ip: *ip,
                        user_agent: agent.clone(),
                        token: token.clone(),
                    },
                    started_at: v.started_at,
                    duration: v.last_seen.duration_since(v.started)
                        + (idle / 2).min(now.duration_since(v.last_seen)),
                    bytes: v.bytes,
                });
                *count -= 1;
                if let Some(n) = per_address.get_mut(ip) {
                    *n -= 1;
                }
                false
            });
            !tokens.is_empty()
        });
        per_address.retain(|_, n| *n > 0);
        ended
    }

    pub fn count(&self) -> usize {
        self.lock().count
    }

    /// The viewers watching now: address and when each started (for statistics that
    /// count sessions still open).
    pub fn open(&self) -> Vec<(IpAddr, SystemTime)> {
        let t = self.lock();
        t.clients
            .iter()
            .flat_map(|((ip, _), tokens)| tokens.values().map(|v| (*ip, v.started_at)))
            .collect()
    }

    pub fn peak(&self) -> usize {
        *self.peak.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str, token: Option<&str>) -> ViewerKey {
        ViewerKey {
            ip: ip.parse().expect("ip"),
            user_agent: Some("hls.js".into()),
            token: token.map(str::to_owned),
        }
    }

    #[test]
    fn sessions_limits_and_bytes() {
        let v = Viewers::default();
        v.playlist(key("192.0.2.1", None), 500, 2).expect("first");
        v.playlist(key("192.0.2.1", None), 500, 2)
            .expect("same viewer again");
        v.playlist(key("192.0.2.1", Some("tab2")), 500, 2)
            .expect("second tab");
        assert_eq!(
            v.playlist(key("192.0.2.9", None), 500, 2),
            Err(Full::Stream(2))
        );
        v.segment("192.0.2.1".parse().expect("ip"), Some("hls.js"), 100_000);
        assert_eq!(v.count(), 2);
        assert_eq!(v.peak(), 2);
        assert!(v.sweep(Duration::from_secs(60)).is_empty());
        let ended = v.sweep(Duration::ZERO);
        assert_eq!(ended.len(), 2);
        assert_eq!(ended.iter().map(|e| e.bytes).sum::<u64>(), 101_500);
        assert_eq!(v.count(), 0);
    }

    #[test]
    fn one_address_cannot_take_every_place() {
        let v = Viewers::default();
        for i in 0..MAX_PER_ADDRESS {
            v.playlist(key("192.0.2.1", Some(&i.to_string())), 0, 1000)
                .expect("room");
        }
        assert_eq!(
            v.playlist(key("192.0.2.1", Some("one-more")), 0, 1000),
            Err(Full::Address(MAX_PER_ADDRESS))
        );
        assert!(v.playlist(key("192.0.2.2", None), 0, 1000).is_ok());
    }
}
