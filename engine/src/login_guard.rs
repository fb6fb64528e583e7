//! Slows down password guessing on the media ports.
//!
//! DJ passwords are checked with Argon2 (tens of milliseconds of CPU each), and the Icecast
//! port is open to the internet. An address that fails too often within a minute is
//! refused at once, without a password check, until the minute is over. A success does not
//! clear the count: otherwise a tenant could guess another tenant's password between
//! logins to its own mount. Kept in memory and bounded: old records are swept when the
//! table grows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may have within [`WINDOW`] before it is refused outright.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many addresses, records older than the window are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginGuard {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl LoginGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `ip` has failed too often lately; if so, for how much longer it is refused.
    pub fn refused_for(&self, ip: IpAddr) -> Option<Duration> {
        let map = self.lock();
        let (count, since) = map.get(&ip)?;
        let left = WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then_some(left)
    }

    /// Records a failed password from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let now = Instant::now();
        let entry = map.entry(ip).or_insert((0, now));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_repeated_failures_per_address() {
        let g = LoginGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        for _ in 0..MAX_FAILURES - 1 {
            g.failed(ip);
        }
        assert!(g.refused_for(ip).is_none());
        g.failed(ip);
        assert!(g.refused_for(ip).is_some_and(|d| d <= WINDOW));
        assert!(g.refused_for(other).is_none());
    }
}
