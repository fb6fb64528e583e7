//! The mount registry: every live session, by service.
//!
//! Protocol servers open a [`SessionGuard`] when admission lets a source or listener in and
//! keep it for the life of the connection; dropping the guard unregisters the session. The
//! control plane uses the registry to see who is connected and to drop every session of a
//! service at once (suspend, delete, credential rotation).
//!
//! A plain `std::sync::Mutex` is enough: every critical section is a few map operations and
//! never awaits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::admission::ServiceId;

/// What a session does on its mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionRole {
    Source,
    Listener,
}

/// A copy of one session's state, for status pages and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    pub id: u64,
    pub service_id: ServiceId,
    pub mount: String,
    pub role: SessionRole,
    pub remote: SocketAddr,
    pub label: String,
    pub started_at: SystemTime,
}

#[derive(Debug)]
struct Entry {
    snapshot: SessionSnapshot,
    cancel: CancellationToken,
}

/// Every live session, indexed by service.
#[derive(Debug, Default)]
pub struct MountRegistry {
    next_id: AtomicU64,
    services: Mutex<HashMap<ServiceId, HashMap<u64, Entry>>>,
}

impl MountRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<ServiceId, HashMap<u64, Entry>>> {
        // A panic while holding this lock cannot leave the maps half-updated (every
        // operation is a single insert or remove), so a poisoned lock is safe to reuse.
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a live session; it stays registered until the guard is dropped.
    pub fn open_session(
        self: &Arc<Self>,
        service_id: ServiceId,
        mount: impl Into<String>,
        role: SessionRole,
        remote: SocketAddr,
        label: impl Into<String>,
    ) -> SessionGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let cancel = CancellationToken::new();
        let snapshot = SessionSnapshot {
            id,
            service_id,
            mount: mount.into(),
            role,
            remote,
            label: label.into(),
            started_at: SystemTime::now(),
        };
        self.lock().entry(service_id).or_default().insert(
            id,
            Entry {
                snapshot,
                cancel: cancel.clone(),
            },
        );
        SessionGuard {
            registry: Arc::clone(self),
            service_id,
            id,
            cancel,
        }
    }

    /// Ends every session of a service (suspension, deletion, rotated credentials) and
    /// returns how many there were. Each session's task sees its guard cancelled and closes
    /// its connection; the guard's drop then unregisters it.
    pub fn drop_service(&self, service_id: ServiceId, reason: &str) -> usize {
        self.drop_matching(service_id, None, reason)
    }

    /// Ends the sources of a service but keeps its listeners (rotated credentials: whoever
    /// holds the old key goes off air, listeners wait for the next source).
    pub fn drop_sources(&self, service_id: ServiceId, reason: &str) -> usize {
        self.drop_matching(service_id, Some(SessionRole::Source), reason)
    }

    fn drop_matching(
        &self,
        service_id: ServiceId,
        role: Option<SessionRole>,
        reason: &str,
    ) -> usize {
        let map = self.lock();
        let Some(sessions) = map.get(&service_id) else {
            return 0;
        };
        let mut dropped = 0;
        for entry in sessions
            .values()
            .filter(|e| role.is_none_or(|r| e.snapshot.role == r))
        {
            dropped += 1;
            tracing::info!(
                service = service_id.0,
                mount = %entry.snapshot.mount,
                remote = %entry.snapshot.remote,
                role = ?entry.snapshot.role,
                "dropping live session: {reason}"
            );
            entry.cancel.cancel();
        }
        dropped
    }

    /// The live sessions of one service.
    pub fn sessions(&self, service_id: ServiceId) -> Vec<SessionSnapshot> {
        let map = self.lock();
        let mut out: Vec<_> = map
            .get(&service_id)
            .map(|s| s.values().map(|e| e.snapshot.clone()).collect())
            .unwrap_or_default();
        out.sort_by_key(|s| s.id);
        out
    }

    /// Every listener connected now, of every service.
    pub fn listeners(&self) -> Vec<SessionSnapshot> {
        self.lock()
            .values()
            .flat_map(|s| s.values())
            .filter(|e| e.snapshot.role == SessionRole::Listener)
            .map(|e| e.snapshot.clone())
            .collect()
    }

    /// How many listeners one mount of a service has right now.
    pub fn listeners_on(&self, service_id: ServiceId, mount: &str) -> usize {
        self.lock()
            .get(&service_id)
            .map(|s| {
                s.values()
                    .filter(|e| {
                        e.snapshot.role == SessionRole::Listener && e.snapshot.mount == mount
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// How many sessions of `role` a service has right now.
    pub fn count(&self, service_id: ServiceId, role: SessionRole) -> usize {
        self.lock()
            .get(&service_id)
            .map(|s| s.values().filter(|e| e.snapshot.role == role).count())
            .unwrap_or(0)
    }

    fn close(&self, service_id: ServiceId, id: u64) {
        let mut map = self.lock();
        if let Some(sessions) = map.get_mut(&service_id) {
            sessions.remove(&id);
            if sessions.is_empty() {
                map.remove(&service_id);
            }
        }
    }
}

/// A registered live session. Dropping it unregisters the session.
#[derive(Debug)]
pub struct SessionGuard {
    registry: Arc<MountRegistry>,
    service_id: ServiceId,
    id: u64,
    cancel: CancellationToken,
}

impl SessionGuard {
    /// The session's id in the registry.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Resolves when the control plane drops this session; protocol tasks `select!` on it.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    /// Whether the control plane has dropped this session.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.registry.close(self.service_id, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 40000))
    }

    #[test]
    fn guard_drop_unregisters() {
        let reg = Arc::new(MountRegistry::default());
        let a = reg.open_session(
            ServiceId(1),
            "jazz",
            SessionRole::Source,
            remote(),
            "source",
        );
        let b = reg.open_session(
            ServiceId(1),
            "jazz",
            SessionRole::Listener,
            remote(),
            "listener",
        );
        assert_eq!(reg.count(ServiceId(1), SessionRole::Listener), 1);
        assert_eq!(reg.sessions(ServiceId(1)).len(), 2);
        drop(b);
        assert_eq!(reg.count(ServiceId(1), SessionRole::Listener), 0);
        drop(a);
        assert!(reg.sessions(ServiceId(1)).is_empty());
    }

    #[tokio::test]
    async fn drop_service_cancels_only_that_service() {
        let reg = Arc::new(MountRegistry::default());
        let mine = reg.open_session(
            ServiceId(1),
            "jazz",
            SessionRole::Source,
            remote(),
            "source",
        );
        let other = reg.open_session(
            ServiceId(2),
            "rock",
            SessionRole::Source,
            remote(),
            "source",
        );
        assert_eq!(reg.drop_service(ServiceId(1), "suspended"), 1);
        // The cancelled future resolves at once for the dropped session...
        tokio::time::timeout(std::time::Duration::from_secs(1), mine.cancelled())
            .await
            .expect("session of the dropped service is cancelled");
        // ...and never for the other service's.
        assert!(!other.is_cancelled());
        assert_eq!(reg.drop_service(ServiceId(3), "deleted"), 0);
    }

    #[test]
    fn drop_sources_keeps_listeners() {
        let reg = Arc::new(MountRegistry::default());
        let source = reg.open_session(
            ServiceId(1),
            "jazz",
            SessionRole::Source,
            remote(),
            "source",
        );
        let listener = reg.open_session(
            ServiceId(1),
            "jazz",
            SessionRole::Listener,
            remote(),
            "listener",
        );
        assert_eq!(reg.drop_sources(ServiceId(1), "rotated"), 1);
        assert!(source.is_cancelled());
        assert!(!listener.is_cancelled());
    }
}
