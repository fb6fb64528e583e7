//! An extra radio mount fed by the transcoder: the primary's audio in another format or
//! bitrate, attached to the mount as a source of the lowest priority (a live source
//! connecting to that mount itself takes over, and hands back when it leaves).

use std::sync::Arc;

use bytes::Bytes;

use crate::admission::{Limits, ServiceId};
use crate::ids::SourceId;
use crate::mount::{Mount, MountBusy, Mounts, StreamInfo};
use crate::transcode::{FeedOutput, FeedSpec};

/// The priority a feed holds on its mount: below every login (DJs are 1..=100).
const FEED_PRIORITY: u8 = 0;

/// A feed attached to its mount; detached when dropped (the ladder stopped).
#[derive(Debug)]
pub struct MountFeed {
    mounts: Arc<Mounts>,
    mount: Arc<Mount>,
    id: SourceId,
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
        let info = StreamInfo {
            content_type: spec.codec.content_type().to_owned(),
            name: Some(label.to_owned()),
            bitrate_kbps: Some(spec.kbps),
            public: false,
            ..StreamInfo::default()
        };
        match Self::attach_to(mounts, &spec.mount, info, service_id, limits, label, false) {
            Ok(feed) => {
                tracing::info!(mount = %spec.mount, "fed by the transcoder ({label}, {} kbit/s)", spec.kbps);
                Some(feed)
            }
            Err(busy) => {
                tracing::info!(mount = %spec.mount, "not fed by the transcoder: {busy}");
                None
            }
        }
    }

    /// Attaches a lowest-priority source named `label` to `mount` (created if need be);
    /// refused while any other source is connected there. A `soft` source (AutoDJ) fades out
    /// before a live source takes over ([`Mount::hand_over`]).
    pub fn attach_to(
        mounts: &Arc<Mounts>,
        mount: &str,
        info: StreamInfo,
        service_id: ServiceId,
        limits: Limits,
        label: &str,
        soft: bool,
    ) -> Result<Self, MountBusy> {
        let id = SourceId::new();
        loop {
            let live = mounts.get_or_create(mount, service_id, limits);
            let attached = if soft {
                live.attach_soft_source(id, FEED_PRIORITY, label, info.clone(), limits)
            } else {
                live.attach_source(id, FEED_PRIORITY, label, info.clone(), limits)
            };
            match attached {
                Ok(()) => {
                    return Ok(Self {
                        mounts: Arc::clone(mounts),
                        mount: live,
                        id,
                        headers: Vec::new(),
                    });
                }
                // Forgotten a moment ago: the next lookup makes a fresh one.
                Err(crate::mount::AttachError::Closed) => continue,
                Err(crate::mount::AttachError::Busy(busy)) => {
                    mounts.remove_if_idle(&live);
                    return Err(busy);
                }
            }
        }
    }

    /// The mount it feeds.
    pub fn mount(&self) -> &Arc<Mount> {
        &self.mount
    }

    /// Its source id on the mount.
    pub fn id(&self) -> SourceId {
        self.id
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
