//! An extra radio mount fed by the transcoder: the primary's audio in another format or
//! bitrate, attached to the mount as a source of the lowest priority (a live source
//! connecting to that mount itself takes over, and hands back when it leaves).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::admission::{Limits, ServiceId};
use crate::mount::{Mount, Mounts, StreamInfo};
use crate::transcode::{FeedOutput, FeedSpec};

/// Source ids of feeds: far above the Icecast sources' (which count from 1).
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 56);

/// The priority a feed holds on its mount: below every login (DJs are 1..=100).
const FEED_PRIORITY: u8 = 0;

/// A feed attached to its mount; detached when dropped (the ladder stopped).
#[derive(Debug)]
pub struct MountFeed {
    mounts: Arc<Mounts>,
    mount: Arc<Mount>,
    id: u64,
    headers: Vec<Bytes>,
}

impl MountFeed {
    /// Attaches a feed for `spec` to its mount, unless a source of its own is on it.
    pub fn attach(
        mounts: &Arc<Mounts>,
        spec: &FeedSpec,
        service_id: ServiceId,
        limits: Limits,
        label: &str,
    ) -> Option<Self> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let info = StreamInfo {
            content_type: spec.codec.content_type().to_owned(),
            name: Some(label.to_owned()),
            bitrate_kbps: Some(spec.kbps),
            public: false,
            ..StreamInfo::default()
        };
        for _ in 0..2 {
            let mount = mounts.get_or_create(&spec.mount, service_id, limits);
            match mount.attach_source(id, FEED_PRIORITY, label, info.clone(), limits) {
                Ok(()) => {
                    tracing::info!(mount = %spec.mount, "fed by the transcoder ({label}, {} kbit/s)", spec.kbps);
                    return Some(Self {
                        mounts: Arc::clone(mounts),
                        mount,
                        id,
                        headers: Vec::new(),
                    });
                }
                // Forgotten a moment ago: the next lookup makes a fresh one.
                Err(crate::mount::AttachError::Closed) => continue,
                Err(crate::mount::AttachError::Busy(busy)) => {
                    tracing::info!(mount = %spec.mount, "not fed by the transcoder: {busy}");
                    mounts.remove_if_idle(&mount);
                    return None;
                }
            }
        }
        None
    }
}

impl FeedOutput for MountFeed {
    fn headers(&mut self, pages: Vec<Bytes>) {
        for page in pages {
            self.headers.push(page.clone());
            self.mount
                .publish_header(self.id, self.headers.clone(), page);
        }
    }

    fn data(&mut self, data: Bytes) {
        self.mount.publish(self.id, data);
    }
}

impl Drop for MountFeed {
    fn drop(&mut self) {
        self.mount.detach_source(self.id);
        self.mounts.remove_if_idle(&self.mount);
    }
}
