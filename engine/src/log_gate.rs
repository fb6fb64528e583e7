//! At most one log line per key (an address) per interval, with the count of what
//! happened since the last one: for events an attacker can repeat at will (refused
//! connections, wrong passwords), so they cannot fill the log or hide in it.
//!
//! Kept in memory and bounded: past [`SWEEP_AT`] keys, those whose interval is over are
//! swept; if that frees nothing, the table is cleared (every key then logs once more).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many keys, stale ones are swept.
pub const SWEEP_AT: usize = 10_000;

/// When each key last wrote a line, and how many events it has had since.
#[derive(Debug)]
pub struct LogGate<K> {
    every: Duration,
    seen: Mutex<HashMap<K, (Instant, u64)>>,
}

impl<K: Hash + Eq> LogGate<K> {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            seen: Mutex::default(),
        }
    }

    /// Records one event of `key`. `Some(n)` when a line is due now, `n` being the events
    /// it stands for (this one and those not logged since the key's last line).
    pub fn event(&self, key: K) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((last, pending)) = seen.get_mut(&key) {
            *pending += 1;
            if last.elapsed() < self.every {
                return None;
            }
            let n = *pending;
            *last = now;
            *pending = 0;
            return Some(n);
        }
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, (last, _)| last.elapsed() < self.every);
            if seen.len() >= SWEEP_AT {
                seen.clear();
            }
        }
        seen.insert(key, (now, 0));
        Some(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_interval_with_the_count() {
        let gate = LogGate::new(Duration::from_millis(200));
        assert_eq!(gate.event("a"), Some(1));
        assert_eq!(gate.event("b"), Some(1));
        for _ in 0..5 {
            assert_eq!(gate.event("a"), None);
        }
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(gate.event("a"), Some(6));
        assert_eq!(gate.event("a"), None);
    }
}
