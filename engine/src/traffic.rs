//! Bytes sent to listeners and viewers per service since the process started, for
//! `/metrics` (a Prometheus counter: it only grows, and restarts at zero with the process).
//!
//! Each listener holds its service's counter and adds to it as it writes (one relaxed
//! atomic add per write); the map is only locked when a session starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::admission::ServiceId;

#[derive(Debug, Default)]
pub struct Traffic {
    services: Mutex<HashMap<ServiceId, Arc<AtomicU64>>>,
}

impl Traffic {
    /// The counter of one service (created at its first use).
    pub fn counter(&self, service: ServiceId) -> Arc<AtomicU64> {
        let mut map = self.services.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(service).or_default())
    }

    /// Adds `bytes` sent by `service` (HTTP responses, which have no session to hold a
    /// counter).
    pub fn add(&self, service: ServiceId, bytes: u64) {
        self.counter(service).fetch_add(bytes, Ordering::Relaxed);
    }

    /// Every service's bytes sent so far.
    pub fn totals(&self) -> Vec<(ServiceId, u64)> {
        let map = self.services.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = map
            .iter()
            .map(|(s, n)| (*s, n.load(Ordering::Relaxed)))
            .collect();
        out.sort_unstable_by_key(|(s, _)| s.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_service() {
        let t = Traffic::default();
        let c = t.counter(ServiceId(2));
        c.fetch_add(10, Ordering::Relaxed);
        t.add(ServiceId(2), 5);
        t.add(ServiceId(1), 1);
        assert_eq!(t.totals(), vec![(ServiceId(1), 1), (ServiceId(2), 15)]);
    }
}
