//! What the engine tells the outside world: listener sessions that ended, titles that
//! changed, sources that came and went. The control plane stores them (statistics, now
//! playing, history).
//!
//! Calls are synchronous and must return at once: the engine calls them on its hot paths.
//! An implementation queues the event and does its I/O elsewhere.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::admission::ServiceId;

/// A listener (or viewer) session that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSession {
    pub service_id: ServiceId,
    pub mount: String,
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub bytes: u64,
}

/// A listener or viewer session that is still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    pub service_id: ServiceId,
    pub mount: String,
    pub ip: IpAddr,
    pub started_at: SystemTime,
}

/// Something that happened on a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountEvent {
    /// A new title is playing (`/admin/metadata`, or a new source).
    Title {
        service_id: ServiceId,
        mount: String,
        title: String,
        at: SystemTime,
        /// Listeners connected to the mount when the title started.
        listeners: usize,
    },
    /// A source went on air (`label`), or the mount lost its last source (`None`). For
    /// video, `mount` is the stream's slug and the source its RTMP publisher.
    OnAir {
        service_id: ServiceId,
        mount: String,
        label: Option<String>,
        at: SystemTime,
    },
    /// A listener or viewer was turned away: the service has `limit` already.
    Full {
        service_id: ServiceId,
        mount: String,
        limit: usize,
        at: SystemTime,
    },
}

/// Receiver of the engine's events.
pub trait Events: Send + Sync + 'static {
    fn listener_ended(&self, session: ListenerSession);
    fn mount_event(&self, event: MountEvent);
}

/// Events that go nowhere (an engine embedded without a control plane, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl Events for NoEvents {
    fn listener_ended(&self, _session: ListenerSession) {}
    fn mount_event(&self, _event: MountEvent) {}
}
