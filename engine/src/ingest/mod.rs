//! What every source kind shares once admission granted it: an RTMP push, an RTMP, RTSP
//! or HLS relay (and later SRT and WebRTC) all hand FLV tags to the same [`publisher`],
//! after the same [`claim`] of the stream (HLS window, DVR recorder, session, "on air"
//! event, restream tap, transcoding ladder). Protocol servers sit above this module; it
//! knows none of them.

pub mod claim;
pub mod publisher;

use std::sync::Arc;

use crate::dvr::Dvr;
use crate::events::Events;
use crate::hls::live::LiveStreams;
use crate::registry::MountRegistry;
use crate::tap::Taps;
use crate::transcode::Transcoder;

/// What taking a stream touches, and nothing else of the engine: the HLS windows, the DVR,
/// the session registry, events, restream taps and the transcoder. Protocol servers and
/// relays hold one of these instead of the whole [`crate::Engine`].
#[derive(Clone)]
pub struct Ingest {
    pub(crate) hls: Arc<LiveStreams>,
    pub(crate) dvr: Option<Arc<Dvr>>,
    pub(crate) registry: Arc<MountRegistry>,
    pub(crate) events: Arc<dyn Events>,
    pub(crate) taps: Arc<Taps>,
    /// Runs ladders; without one the source is served as it arrives.
    pub(crate) transcoder: Option<Arc<dyn Transcoder>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").finish_non_exhaustive()
    }
}

impl Ingest {
    /// Every stream's live HLS window.
    pub fn hls(&self) -> &Arc<LiveStreams> {
        &self.hls
    }

    /// Where sessions and mount events go.
    pub fn events(&self) -> &Arc<dyn Events> {
        &self.events
    }

    /// The transcoder, if this server has one.
    pub fn transcoder(&self) -> Option<&Arc<dyn Transcoder>> {
        self.transcoder.as_ref()
    }
}
