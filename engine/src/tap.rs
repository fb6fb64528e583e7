//! A stream's FLV tags as its publisher sent them (RTMP push or relay), for restream
//! targets: they send the source on without re-encoding, so they need exactly what came
//! in, sequence headers first.
//!
//! One [`Tap`] per stream name lives for the process (never replaced when a publisher
//! reconnects), so a target follows the stream across reconnects. Publishing costs one
//! `Bytes` clone per tag, and nothing when no target listens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

use crate::ids::PublisherId;
use crate::media::flv::Tag;

/// Tags a target may fall behind by before it skips to the next keyframe (about 10 s of a
/// 30 fps stream with audio).
const CAPACITY: usize = 1024;

#[derive(Debug, Default)]
struct Headers {
    video: Option<Bytes>,
    audio: Option<Bytes>,
}

/// A stream's tag feed.
#[derive(Debug)]
pub struct Tap {
    tx: broadcast::Sender<Tag>,
    headers: Mutex<Headers>,
    /// The publisher on it.
    on: watch::Sender<Option<PublisherId>>,
}

impl Default for Tap {
    fn default() -> Self {
        Self {
            tx: broadcast::Sender::new(CAPACITY),
            headers: Mutex::default(),
            on: watch::Sender::new(None),
        }
    }
}

impl Tap {
    fn headers(&self) -> MutexGuard<'_, Headers> {
        self.headers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publisher `id` starts on it: earlier sequence headers no longer apply.
    pub(crate) fn start(&self, id: PublisherId) {
        *self.headers() = Headers::default();
        self.on.send_replace(Some(id));
    }

    /// Publisher `id` left (a later publisher's start is not undone).
    pub(crate) fn stop(&self, id: PublisherId) {
        self.on.send_if_modified(|on| {
            let mine = *on == Some(id);
            if mine {
                *on = None;
            }
            mine
        });
    }

    pub(crate) fn send(&self, tag: Tag) {
        if tag.is_header() {
            let mut h = self.headers();
            if tag.video {
                h.video = Some(tag.data.clone());
            } else {
                h.audio = Some(tag.data.clone());
            }
        }
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(tag);
        }
    }

    /// Whether a publisher is on it.
    pub fn is_live(&self) -> bool {
        self.on.borrow().is_some()
    }

    /// Changes whenever a publisher starts or stops.
    pub fn watch(&self) -> watch::Receiver<Option<PublisherId>> {
        self.on.subscribe()
    }

    /// The sequence headers so far (video first) and the tags from now on.
    pub fn follow(&self) -> (Vec<Tag>, broadcast::Receiver<Tag>) {
        // Subscribed under the headers' lock: a header sent meanwhile is in one or the other.
        let h = self.headers();
        let rx = self.tx.subscribe();
        let mut first = Vec::new();
        if let Some(v) = &h.video {
            first.push(Tag {
                video: true,
                ts: 0,
                data: v.clone(),
            });
        }
        if let Some(a) = &h.audio {
            first.push(Tag {
                video: false,
                ts: 0,
                data: a.clone(),
            });
        }
        (first, rx)
    }
}

/// Encoded frames (a ladder rung, radio drawn as video) written to a tap as FLV tags.
#[derive(Debug)]
pub struct TapWriter {
    tap: Arc<Tap>,
    id: PublisherId,
}

impl TapWriter {
    pub fn new(tap: Arc<Tap>) -> Self {
        let id = PublisherId::new();
        Self { tap, id }
    }

    /// A (new) configuration: the tap starts over with its sequence headers.
    pub fn configure(&self, config: &crate::media::StreamConfig) {
        self.tap.start(self.id);
        if let Some(v) = &config.video {
            self.tap.send(Tag {
                video: true,
                ts: 0,
                data: crate::media::flv::build::avc_header(&v.record),
            });
        }
        if let Some(crate::media::AudioConfig::Aac(a)) = &config.audio {
            self.tap.send(Tag {
                video: false,
                ts: 0,
                data: crate::media::flv::build::aac_header(&a.raw),
            });
        }
    }

    /// One encoded frame (AVCC video or raw AAC, 90 kHz times).
    pub fn frame(&self, frame: &crate::media::Frame) {
        use crate::media::Track;
        use crate::media::flv::build;
        let data = match frame.track {
            Track::Video => build::avc_picture(
                frame.key,
                ((frame.pts - frame.dts) / 90) as i32,
                &frame.data,
            ),
            Track::Audio => build::aac_frame(&frame.data),
        };
        self.tap.send(Tag {
            video: frame.track == Track::Video,
            ts: (frame.dts / 90) as u32,
            data,
        });
    }
}

impl Drop for TapWriter {
    fn drop(&mut self) {
        self.tap.stop(self.id);
    }
}

/// A [`TapWriter`] as an encoder's output.
#[derive(Debug)]
pub struct TapOutput(pub TapWriter);

impl crate::transcode::RenditionOutput for TapOutput {
    fn configure(&mut self, config: crate::media::StreamConfig) {
        self.0.configure(&config);
    }

    fn frame(&mut self, frame: crate::media::Frame) {
        self.0.frame(&frame);
    }

    fn discontinuity(&mut self) {}
}

/// Every stream's tap, by stream name.
#[derive(Debug, Default)]
pub struct Taps {
    map: Mutex<HashMap<String, Arc<Tap>>>,
}

impl Taps {
    /// The tap of stream `name` (made on first use).
    pub fn get(&self, name: &str) -> Arc<Tap> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(name.to_owned()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_get_the_headers_then_what_follows() {
        let tap = Tap::default();
        let (one, two) = (PublisherId::new(), PublisherId::new());
        tap.start(one);
        tap.send(Tag::test(true, &[0x17, 0, 0, 0, 0, 1, 2]));
        tap.send(Tag::test(false, &[0xAF, 0, 0x12, 0x10]));
        tap.send(Tag::test(true, &[0x17, 1, 0, 0, 0, 9])); // before anyone follows: gone
        let (first, mut rx) = tap.follow();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(Tag::is_header) && first[0].video);
        tap.send(Tag::test(true, &[0x27, 1, 0, 0, 0, 9]));
        let next = rx.try_recv().expect("a tag");
        assert!(!next.is_keyframe() && !next.is_header());
        // A new publisher's headers replace the old ones; an old publisher's stop is ignored.
        tap.start(two);
        tap.stop(one);
        assert!(tap.is_live());
        assert!(tap.follow().0.is_empty());
        tap.stop(two);
        assert!(!tap.is_live());
    }
}
