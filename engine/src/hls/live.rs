//! The live window of every stream, in memory: its segments and its playlist, rendered
//! once per new segment so a request is served prepared bytes.
//!
//! Numbering never resets while the stream is known: a publisher that reconnects continues
//! the media sequence after a `#EXT-X-DISCONTINUITY`, so a player holding the playlist just
//! carries on. Once the publisher has been gone for the grace period the playlist gets
//! `#EXT-X-ENDLIST`; the stream is forgotten a while after that.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;

use super::packager::{PartOut, SegmentOut};
use super::playlist::{self, Kind, MediaHeader, MediaPlaylist, StreamInfo, VariantStream};
use super::uri::{LiveItem, LiveName, RenditionPlaylist, Uri};
use super::viewers::Viewers;
use crate::admission::{Limits, SegmentFormat, ServiceId};
use crate::ids::PublisherId;
use crate::media::StreamConfig;
use crate::transcode::{LadderReport, RungPlan};

/// A finished segment as an archive keeps it.
#[derive(Debug, Clone)]
pub struct SegmentRecord {
    pub started_at: SystemTime,
    pub duration: f64,
    pub discontinuity: bool,
    pub data: Bytes,
    /// fMP4: the init segment this segment starts using.
    pub init: Option<Bytes>,
    pub format: SegmentFormat,
    /// What the segment carries, if known (kept for the archive's master playlists).
    pub info: Option<StreamInfo>,
}

/// Where a live stream's finished segments also go (the DVR's recorder). Declared here so
/// the live window knows no archive; `record` must never wait.
pub trait SegmentSink: Send + Sync + std::fmt::Debug {
    fn record(&self, segment: SegmentRecord);
}

/// Segments listed in the live playlist.
pub const PLAYLIST_SEGMENTS: usize = 6;
/// Segments kept after they leave the playlist, for players that fetched it just before.
const EXTRA_SEGMENTS: usize = 3;

/// One segment of the window.
#[derive(Debug, Clone)]
pub struct Segment {
    pub seq: u64,
    pub duration: f64,
    pub started_at: SystemTime,
    pub discontinuity: bool,
    pub data: Bytes,
    /// fMP4: the init segment it needs (its version).
    pub init: Option<u32>,
}

/// LL-HLS: parts are listed (and kept) for this many of the newest segments, and for the
/// segment in progress.
const PART_SEGMENTS: u64 = 3;

/// An LL-HLS partial segment.
#[derive(Debug, Clone)]
pub struct Part {
    /// The media sequence number of the segment it belongs to, and its place in it.
    pub msn: u64,
    pub index: u32,
    pub duration: f64,
    pub independent: bool,
    pub discontinuity: bool,
    pub init: Option<u32>,
    pub data: Bytes,
}

/// Init segments kept (fMP4): one per stream configuration still in the window.
const INITS_KEPT: usize = PLAYLIST_SEGMENTS + EXTRA_SEGMENTS;

#[derive(Debug)]
struct State {
    segments: VecDeque<Segment>,
    next_seq: u64,
    /// Discontinuities that have left the playlist (`#EXT-X-DISCONTINUITY-SEQUENCE`).
    disc_seq: u64,
    /// Seconds; only ever grows, as the spec requires of a live playlist.
    target: u32,
    ended: bool,
    /// The publisher on air (a session id), if any.
    publisher: Option<PublisherId>,
    /// Bumped on every publish and unpublish, so a late timer acts only if nothing changed.
    generation: u64,
    playlist: Bytes,
    limits: Limits,
    source: Option<SourceStatus>,
    /// fMP4 init segments by version, newest last.
    inits: VecDeque<(u32, Bytes)>,
    /// LL-HLS: the part target in seconds, and the recent parts (oldest first).
    part_target: Option<f64>,
    parts: VecDeque<Part>,
    /// Bumped whenever the playlist is rendered again: the validator of what is served.
    version: u64,
    /// With a transcoding ladder: the renditions, and this stream's playlist is their
    /// master playlist (the media is in `<slug>/<rendition>` streams).
    variants: Vec<Variant>,
    /// The transcoding ladder running for this stream's source, if one is.
    ladder: Option<Arc<LadderReport>>,
    /// Which rungs of the service's ladder run for the source on air, and which not.
    rungs: Option<Arc<RungPlan>>,
    /// DVR: where finished segments also go while the publisher is on air.
    recorder: Option<Box<dyn SegmentSink>>,
    /// What the stream's segments carry (for the master playlists of its DVR archive).
    info: Option<StreamInfo>,
}

impl State {
    /// Keeps a new fMP4 init segment as the next version (the oldest beyond `INITS_KEPT`
    /// go: no listed segment or part refers to them any more).
    fn add_init(&mut self, init: Bytes) {
        let version = self.inits.back().map_or(0, |(v, _)| v + 1);
        self.inits.push_back((version, init));
        while self.inits.len() > INITS_KEPT {
            self.inits.pop_front();
        }
    }
}

/// One rendition's line in a master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Its folder: `<name>/index.m3u8`.
    pub name: String,
    /// Position in the master playlist (players take the first as their starting point).
    pub order: usize,
    /// Peak and average bits per second.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    /// Resolution, codecs and frame rate, as far as known.
    pub info: StreamInfo,
}

/// A stream's live HLS output.
#[derive(Debug)]
pub struct LiveStream {
    slug: String,
    service_id: ServiceId,
    /// When this stream was created (unix ms): part of every segment's name, so a segment
    /// name is never reused for other content even if the stream is forgotten and numbering
    /// starts again (segments are cached as immutable).
    epoch: u64,
    format: SegmentFormat,
    state: Mutex<State>,
    /// The newest media sequence number, for clients waiting for the next segment.
    latest: watch::Sender<u64>,
    pub viewers: Viewers,
    /// One other encoding of the current playlist (the HTTP side keeps it gzipped), made
    /// once per playlist version rather than once per request.
    encoded: Mutex<Option<(String, Bytes)>>,
}

/// What the publisher on air sends, for status pages.
#[derive(Debug, Clone)]
pub struct SourceStatus {
    pub config: StreamConfig,
    pub since: SystemTime,
    pub remote: std::net::SocketAddr,
}

/// Why a publisher may not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {0} is already being published")]
pub struct AlreadyLive(pub String);

impl LiveStream {
    fn new(slug: &str, service_id: ServiceId, format: SegmentFormat) -> Self {
        let epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            slug: slug.to_owned(),
            service_id,
            epoch,
            format,
            state: Mutex::new(State {
                segments: VecDeque::new(),
                next_seq: 0,
                disc_seq: 0,
                target: 2,
                ended: false,
                publisher: None,
                generation: 0,
                playlist: Bytes::new(),
                limits: Limits::default(),
                source: None,
                inits: VecDeque::new(),
                part_target: None,
                parts: VecDeque::new(),
                version: 0,
                variants: Vec::new(),
                ladder: None,
                rungs: None,
                recorder: None,
                info: None,
            }),
            latest: watch::Sender::new(0),
            viewers: Viewers::default(),
            encoded: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    pub fn service_id(&self) -> ServiceId {
        self.service_id
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn format(&self) -> SegmentFormat {
        self.format
    }

    /// A validator for the playlist as it stands: changes with every new segment and when
    /// the playlist ends.
    pub fn playlist_etag(&self) -> String {
        etag(self.epoch, &self.lock())
    }

    /// The segment a name like `1795000000000_42.ts` (or `…_42.m4s`, an LL-HLS part
    /// `…_42.1.m4s`, or an fMP4 init segment `…_init3.mp4`) refers to, if it is still kept.
    pub fn segment_by_name(&self, name: &str) -> Option<Bytes> {
        let LiveName { epoch, item } = LiveName::parse(name)?;
        if epoch != self.epoch {
            return None;
        }
        match item {
            LiveItem::Segment { seq, format } if format == self.format => self.segment(seq),
            LiveItem::Part { msn, index } if self.format == SegmentFormat::Fmp4 => {
                self.part(msn, index)
            }
            LiveItem::Init { version } if self.format == SegmentFormat::Fmp4 => {
                let st = self.lock();
                st.inits
                    .iter()
                    .find(|(v, _)| *v == version)
                    .map(|(_, b)| b.clone())
            }
            _ => None,
        }
    }

    pub fn is_live(&self) -> bool {
        self.lock().publisher.is_some()
    }

    pub fn limits(&self) -> Limits {
        self.lock().limits
    }

    /// The target duration in seconds (viewers idle for two of these have left).
    pub fn target_secs(&self) -> u32 {
        self.lock().target
    }

    /// What the publisher on air sends, if one is.
    pub fn source(&self) -> Option<SourceStatus> {
        let st = self.lock();
        st.publisher.and(st.source.clone())
    }

    /// The publisher's stream configuration changed (or became known).
    pub fn set_source(&self, source: SourceStatus) {
        self.lock().source = Some(source);
    }

    /// The claim a publisher holds on this stream now: it changes with every publish and
    /// unpublish, so a writer that belongs to an earlier claim (a ladder's threads still
    /// flushing after a restart) can tell it must stop.
    pub fn claim(&self) -> u64 {
        self.lock().generation
    }

    /// Adds a segment, if `claim` is still the stream's claim.
    pub fn push_claimed(&self, claim: u64, seg: SegmentOut) -> bool {
        self.push_if(Some(claim), seg)
    }

    /// Adds a part, if `claim` is still the stream's claim.
    pub fn push_part_claimed(&self, claim: u64, part: PartOut) -> bool {
        self.push_part_if(Some(claim), part)
    }

    /// Keeps only the master-playlist lines named in `names` (a restarted ladder whose
    /// rungs changed; none: the stream is a plain media playlist again).
    pub fn retain_variants(&self, names: &[&str]) {
        let mut st = self.lock();
        let before = st.variants.len();
        st.variants.retain(|v| names.contains(&v.name.as_str()));
        if st.variants.len() != before {
            rerender(self.epoch, self.format, &mut st);
        }
    }

    /// Adds or updates a rendition's line: from now on this stream's playlist is the master
    /// playlist of its renditions.
    pub fn set_variant(&self, variant: Variant) {
        let mut st = self.lock();
        match st.variants.iter_mut().find(|v| v.name == variant.name) {
            Some(v) if *v == variant => return,
            Some(v) => *v = variant,
            None => st.variants.push(variant),
        }
        st.variants.sort_by_key(|v| v.order);
        rerender(self.epoch, self.format, &mut st);
    }

    /// A rendition's measured bandwidth (the pass-through's is only known once it runs).
    pub fn set_variant_bandwidth(&self, name: &str, bandwidth: u64) {
        let mut next = None;
        if let Some(v) = self.lock().variants.iter().find(|v| v.name == name) {
            // A change under 10 % is not worth a new master playlist.
            if bandwidth.abs_diff(v.bandwidth) * 10 > v.bandwidth {
                next = Some(Variant {
                    bandwidth,
                    average_bandwidth: bandwidth * 10 / 12,
                    ..v.clone()
                });
            }
        }
        if let Some(v) = next {
            self.set_variant(v);
        }
    }

    /// Records this stream's segments into a DVR archive (until the publisher leaves).
    pub fn set_recorder(&self, recorder: Option<Box<dyn SegmentSink>>) {
        self.lock().recorder = recorder;
    }

    /// What the segments from now on carry: recorded with them, so the DVR archive's
    /// master playlists can describe the stream once it is gone.
    pub fn set_info(&self, info: StreamInfo) {
        self.lock().info = Some(info);
    }

    /// The ladder running for this stream's source (its counters), or none.
    pub fn set_ladder(&self, report: Option<Arc<LadderReport>>) {
        self.lock().ladder = report;
    }

    /// The counters of the ladder running for this stream's source, if one is.
    pub fn ladder(&self) -> Option<Arc<LadderReport>> {
        self.lock().ladder.clone()
    }

    /// Which rungs of the service's ladder run for the source on air, and which do not.
    pub fn set_rungs(&self, plan: Option<Arc<RungPlan>>) {
        self.lock().rungs = plan;
    }

    /// While a publisher is on air and a ladder was planned for it: which rungs run (at
    /// which bitrate) and which are skipped, and why.
    pub fn rungs(&self) -> Option<Arc<RungPlan>> {
        let st = self.lock();
        st.publisher.and(st.rungs.clone())
    }

    /// Ends the viewer sessions silent for longer than `idle` (all of them with zero) and
    /// reports them to `events`.
    pub fn end_viewers(&self, idle: Duration, events: &dyn crate::events::Events) {
        for v in self.viewers.sweep(idle) {
            tracing::debug!(stream = %self.slug, ip = %v.key.ip, bytes = v.bytes, "viewer left");
            events.listener_ended(crate::events::ListenerSession {
                service_id: self.service_id,
                mount: self.slug.clone(),
                ip: v.key.ip,
                user_agent: v.key.user_agent,
                started_at: v.started_at,
                duration: v.duration,
                bytes: v.bytes,
            });
        }
    }

    /// Whether the master playlist lists `name`.
    pub fn has_variant(&self, name: &str) -> bool {
        self.lock().variants.iter().any(|v| v.name == name)
    }

    /// Whether this stream's playlist is a master playlist.
    pub fn is_master(&self) -> bool {
        !self.lock().variants.is_empty()
    }

    /// Whether the stream had segments before (a new publisher's first segment then starts
    /// with a discontinuity).
    pub fn has_segments(&self) -> bool {
        !self.lock().segments.is_empty()
    }

    /// Adds a finished segment and renders the playlist again.
    pub fn push(&self, seg: SegmentOut) {
        self.push_if(None, seg);
    }

    /// The state for a write by `claim`'s writer (any writer with `None`); `None` for a
    /// writer of an earlier claim (a restarted ladder's old thread), refused under the same
    /// lock the write takes, so no re-claim can slip in between.
    fn lock_claimed(&self, claim: Option<u64>) -> Option<MutexGuard<'_, State>> {
        let st = self.lock();
        claim.is_none_or(|c| c == st.generation).then_some(st)
    }

    fn push_if(&self, claim: Option<u64>, seg: SegmentOut) -> bool {
        let Some(mut st) = self.lock_claimed(claim) else {
            return false;
        };
        let seq = st.next_seq;
        st.next_seq += 1;
        // Only ever grows, as the spec requires of a live playlist.
        st.target = playlist::target_duration([seg.duration], st.target);
        let new_init = seg.init.clone();
        if let Some(init) = seg.init {
            st.add_init(init);
        }
        let init = st.inits.back().map(|(v, _)| *v);
        if let Some(recorder) = &st.recorder {
            recorder.record(SegmentRecord {
                started_at: seg.started_at,
                duration: seg.duration,
                discontinuity: seg.discontinuity,
                data: seg.data.clone(),
                init: new_init,
                format: self.format,
                info: st.info.clone(),
            });
        }
        st.segments.push_back(Segment {
            seq,
            duration: seg.duration,
            started_at: seg.started_at,
            discontinuity: seg.discontinuity && seq > 0,
            data: seg.data,
            init,
        });
        // Each new segment pushes one out of the listed window; a discontinuity leaving it
        // counts in the discontinuity sequence.
        if let Some(left) = st.segments.len().checked_sub(PLAYLIST_SEGMENTS + 1)
            && st.segments[left].discontinuity
        {
            st.disc_seq += 1;
        }
        while st.segments.len() > PLAYLIST_SEGMENTS + EXTRA_SEGMENTS {
            st.segments.pop_front();
        }
        let keep_from = st.next_seq.saturating_sub(PART_SEGMENTS);
        while st.parts.front().is_some_and(|p| p.msn < keep_from) {
            st.parts.pop_front();
        }
        rerender(self.epoch, self.format, &mut st);
        drop(st);
        self.latest.send_modify(|v| *v += 1);
        let _ = seq;
        true
    }

    /// Adds a finished LL-HLS part of the segment in progress.
    pub fn push_part(&self, part: PartOut) {
        self.push_part_if(None, part);
    }

    fn push_part_if(&self, claim: Option<u64>, part: PartOut) -> bool {
        let Some(mut st) = self.lock_claimed(claim) else {
            return false;
        };
        if let Some(init) = part.init {
            st.add_init(init);
        }
        let msn = st.next_seq;
        let index = st.parts.iter().filter(|p| p.msn == msn).count() as u32;
        let init = st.inits.back().map(|(v, _)| *v);
        st.parts.push_back(Part {
            msn,
            index,
            duration: part.duration,
            independent: part.independent,
            discontinuity: part.discontinuity && msn > 0,
            init,
            data: part.data,
        });
        rerender(self.epoch, self.format, &mut st);
        drop(st);
        self.latest.send_modify(|v| *v += 1);
        true
    }

    /// Whether the playlist already has segment `msn` (`part: None`) or its part `part`:
    /// what a blocking playlist reload waits for.
    pub fn has(&self, msn: u64, part: Option<u32>) -> bool {
        let st = self.lock();
        if st.next_seq > msn {
            return true;
        }
        part.is_some_and(|i| st.parts.iter().any(|p| p.msn == msn && p.index >= i))
    }

    /// The newest segment number that exists or is in progress, for refusing a blocking
    /// reload far in the future.
    pub fn next_msn(&self) -> u64 {
        self.lock().next_seq
    }

    /// The LL-HLS part target, if this stream has parts.
    pub fn part_target(&self) -> Option<f64> {
        self.lock().part_target
    }

    fn part(&self, msn: u64, index: u32) -> Option<Bytes> {
        let st = self.lock();
        st.parts
            .iter()
            .find(|p| p.msn == msn && p.index == index)
            .map(|p| p.data.clone())
    }

    /// The playlist as it stands (empty before the first segment).
    pub fn playlist(&self) -> Bytes {
        self.lock().playlist.clone()
    }

    /// The playlist, its validator, and `encode(playlist)` made once for this version.
    pub fn playlist_encoded(&self, encode: impl FnOnce(&[u8]) -> Bytes) -> (Bytes, String, Bytes) {
        let (body, etag) = {
            let st = self.lock();
            (st.playlist.clone(), etag(self.epoch, &st))
        };
        let mut cache = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        let encoded = match cache.as_ref() {
            Some((tag, enc)) if *tag == etag => enc.clone(),
            _ => {
                let enc = encode(&body);
                *cache = Some((etag.clone(), enc.clone()));
                enc
            }
        };
        (body, etag, encoded)
    }

    pub fn segment(&self, seq: u64) -> Option<Bytes> {
        let st = self.lock();
        let first = st.segments.front()?.seq;
        let idx = usize::try_from(seq.checked_sub(first)?).ok()?;
        st.segments.get(idx).map(|s| s.data.clone())
    }

    /// Resolves when a new segment is listed.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// The newest segments' total duration and size: for the measured bitrate.
    pub fn recent_bitrate_kbps(&self) -> Option<u32> {
        let st = self.lock();
        let (secs, bytes) = st
            .segments
            .iter()
            .rev()
            .take(PLAYLIST_SEGMENTS)
            .fold((0.0, 0usize), |(t, b), s| {
                (t + s.duration, b + s.data.len())
            });
        (secs > 0.0).then(|| (bytes as f64 * 8.0 / secs / 1000.0) as u32)
    }
}

fn etag(epoch: u64, st: &State) -> String {
    format!("\"{epoch:x}-{:x}\"", st.version)
}

/// Renders the playlist again (the master playlist, if the stream has renditions).
fn rerender(epoch: u64, format: SegmentFormat, st: &mut State) {
    st.version += 1;
    st.playlist = if st.variants.is_empty() {
        render(epoch, format, st)
    } else {
        render_master(&st.variants)
    };
}

/// A master playlist: one variant per rendition, in ladder order.
fn render_master(variants: &[Variant]) -> Bytes {
    Bytes::from(playlist::master_playlist(variants.iter().map(|v| {
        VariantStream {
            uri: Uri::Rendition {
                name: &v.name,
                playlist: RenditionPlaylist::Media,
            },
            bandwidth: v.bandwidth,
            average_bandwidth: Some(v.average_bandwidth),
            info: &v.info,
        }
    })))
}

/// The media playlist: the newest segments, and with LL-HLS the parts of the newest ones
/// and of the segment in progress, then a hint of the next part.
fn render(epoch: u64, format: SegmentFormat, st: &State) -> Bytes {
    let skip = st.segments.len().saturating_sub(PLAYLIST_SEGMENTS);
    let listed = || st.segments.iter().skip(skip);
    let header = MediaHeader {
        format,
        kind: Kind::Live,
        target_duration: st.target,
        media_sequence: listed().next().map_or(st.next_seq, |s| s.seq),
        discontinuity_sequence: Some(st.disc_seq),
        part_target: st.part_target,
    };
    let mut out = MediaPlaylist::new(&header, PLAYLIST_SEGMENTS);
    let init = |version: Option<u32>| version.map(|version| Uri::LiveInit { epoch, version });
    let write_parts = |out: &mut MediaPlaylist<'_>, msn: u64| {
        for p in st.parts.iter().filter(|p| p.msn == msn) {
            out.part(&playlist::Part {
                uri: Uri::LivePart {
                    epoch,
                    msn: p.msn,
                    index: p.index,
                },
                duration: p.duration,
                independent: p.independent,
            });
        }
    };
    for s in listed() {
        out.begin_segment(s.discontinuity, init(s.init));
        write_parts(&mut out, s.seq);
        out.end_segment(
            Some(s.started_at),
            s.duration,
            Uri::LiveSegment {
                epoch,
                seq: s.seq,
                format,
            },
        );
    }
    // The segment in progress: its parts so far, then a hint of the next one.
    if st.part_target.is_some() && !st.ended && st.publisher.is_some() {
        if let Some(first) = st.parts.iter().find(|p| p.msn == st.next_seq) {
            out.begin_segment(first.discontinuity && st.next_seq > 0, init(first.init));
        }
        write_parts(&mut out, st.next_seq);
        let next = st.parts.iter().filter(|p| p.msn == st.next_seq).count() as u32;
        out.preload_hint(Uri::LivePart {
            epoch,
            msn: st.next_seq,
            index: next,
        });
    }
    Bytes::from(out.finish(st.ended))
}

/// How a publisher's stream is packaged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packaging {
    pub format: SegmentFormat,
    /// The target segment duration, seconds.
    pub target_secs: u32,
    /// LL-HLS: the part target, seconds.
    pub part_target: Option<f64>,
}

/// Every stream with HLS output, by slug.
#[derive(Debug, Default)]
pub struct LiveStreams {
    map: Mutex<HashMap<String, Arc<LiveStream>>>,
}

/// How long after its publisher leaves a playlist gets `#EXT-X-ENDLIST`, and how long after
/// that the stream is forgotten.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub end_after: Duration,
    pub forget_after: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            end_after: Duration::from_secs(20),
            forget_after: Duration::from_secs(300),
        }
    }
}

impl LiveStreams {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<LiveStream>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, slug: &str) -> Option<Arc<LiveStream>> {
        self.lock().get(slug).cloned()
    }

    pub fn all(&self) -> Vec<Arc<LiveStream>> {
        self.lock().values().cloned().collect()
    }

    /// Claims `slug` for publisher `id`; refused while another publisher is on it.
    pub fn publish(
        &self,
        slug: &str,
        service_id: ServiceId,
        id: PublisherId,
        limits: Limits,
        packaging: Packaging,
    ) -> Result<Arc<LiveStream>, AlreadyLive> {
        let Packaging {
            format,
            target_secs,
            part_target,
        } = packaging;
        let mut map = self.lock();
        let stream = match map.get(slug) {
            // A stale stream of another service under a reused slug is replaced; so is one
            // in the other container (one playlist cannot switch), and one that has ended
            // (an ended playlist never starts again: players have stopped reading it).
            Some(s)
                if s.service_id == service_id
                    && (s.is_live()
                        || (s.format == format
                            && s.part_target() == part_target
                            && !s.lock().ended)) =>
            {
                Arc::clone(s)
            }
            _ => {
                let s = Arc::new(LiveStream::new(slug, service_id, format));
                map.insert(slug.to_owned(), Arc::clone(&s));
                s
            }
        };
        let mut st = stream.lock();
        // The same publisher may claim again (its ladder restarts with new codecs).
        if st.publisher.is_some_and(|p| p != id) {
            return Err(AlreadyLive(slug.to_owned()));
        }
        st.publisher = Some(id);
        st.generation += 1;
        st.limits = limits;
        st.source = None;
        st.part_target = part_target;
        // Its variants stay until the new publisher's ladder (or its lack of one) says
        // otherwise, so a player's master playlist does not turn into something else.
        // Segments are cut at keyframes, so they may run a little over the target.
        st.target = st.target.max(target_secs.max(1));
        drop(st);
        Ok(stream)
    }

    /// Publisher `id` left `stream`: after the grace period the playlist ends, and later
    /// the stream is forgotten, unless a publisher came back meanwhile.
    pub fn unpublish(
        self: &Arc<Self>,
        stream: &Arc<LiveStream>,
        id: PublisherId,
        lifetimes: Lifetimes,
    ) {
        let generation = {
            let mut st = stream.lock();
            if st.publisher != Some(id) {
                return;
            }
            st.publisher = None;
            st.generation += 1;
            // The recording ends with the publisher (its writer finishes what is queued).
            st.recorder = None;
            st.rungs = None;
            st.generation
        };
        let streams = Arc::clone(self);
        let stream = Arc::clone(stream);
        // Outside a runtime (a unit test dropping a publisher) there is no timer to run.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            tokio::time::sleep(lifetimes.end_after).await;
            {
                let mut st = stream.lock();
                if st.generation != generation {
                    return;
                }
                st.ended = true;
                rerender(stream.epoch, stream.format, &mut st);
            }
            tracing::info!(stream = %stream.slug, "HLS playlist ended: the publisher did not come back");
            tokio::time::sleep(lifetimes.forget_after).await;
            // The map's lock first (as `publish` takes them), so a publish cannot slip in
            // between the check and the removal.
            let mut map = streams.lock();
            if stream.lock().generation == generation
                && map
                    .get(&stream.slug)
                    .is_some_and(|s| Arc::ptr_eq(s, &stream))
            {
                map.remove(&stream.slug);
            }
        });
    }

    /// Takes a service's streams out at once (the service was suspended, deleted or
    /// renamed): their playlists answer 404 from now on. Returns them, so their viewers
    /// can be reported.
    pub fn remove_service(&self, service_id: ServiceId) -> Vec<Arc<LiveStream>> {
        let mut removed = Vec::new();
        self.lock().retain(|_, s| {
            if s.service_id == service_id {
                removed.push(Arc::clone(s));
                false
            } else {
                true
            }
        });
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(duration: f64, discontinuity: bool) -> SegmentOut {
        seg_at(0, duration, discontinuity)
    }

    /// A segment `ms` after 2026-11-18T11:06:40Z.
    fn seg_at(ms: u64, duration: f64, discontinuity: bool) -> SegmentOut {
        SegmentOut {
            data: Bytes::from_static(b"ts"),
            duration,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_000 + ms),
            discontinuity,
            init: None,
        }
    }

    fn text(s: &LiveStream) -> String {
        String::from_utf8(s.playlist().to_vec()).expect("utf-8")
    }

    #[test]
    fn a_live_ts_playlist() {
        let s = LiveStream::new("tv", ServiceId(1), SegmentFormat::Ts);
        s.push(seg_at(0, 2.0, false));
        s.push(seg_at(2000, 2.0, false));
        s.push(seg_at(4000, 2.6, false));
        let e = s.epoch();
        assert_eq!(
            text(&s),
            format!(
                "#EXTM3U\n\
                 #EXT-X-VERSION:3\n\
                 #EXT-X-TARGETDURATION:3\n\
                 #EXT-X-MEDIA-SEQUENCE:0\n\
                 #EXT-X-DISCONTINUITY-SEQUENCE:0\n\
                 #EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.000Z\n\
                 #EXTINF:2.000,\n\
                 {e}_0.ts\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:42.000Z\n\
                 #EXTINF:2.000,\n\
                 {e}_1.ts\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:44.000Z\n\
                 #EXTINF:2.600,\n\
                 {e}_2.ts\n"
            )
        );
    }

    #[test]
    fn a_playlist_after_a_discontinuity_and_after_its_end() {
        let s = LiveStream::new("tv", ServiceId(1), SegmentFormat::Ts);
        s.push(seg_at(0, 2.0, false));
        // The publisher came back 10 s later.
        s.push(seg_at(12_000, 2.0, true));
        {
            let mut st = s.lock();
            st.ended = true;
            rerender(s.epoch, s.format, &mut st);
        }
        let e = s.epoch();
        assert_eq!(
            text(&s),
            format!(
                "#EXTM3U\n\
                 #EXT-X-VERSION:3\n\
                 #EXT-X-TARGETDURATION:2\n\
                 #EXT-X-MEDIA-SEQUENCE:0\n\
                 #EXT-X-DISCONTINUITY-SEQUENCE:0\n\
                 #EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.000Z\n\
                 #EXTINF:2.000,\n\
                 {e}_0.ts\n\
                 #EXT-X-DISCONTINUITY\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:52.000Z\n\
                 #EXTINF:2.000,\n\
                 {e}_1.ts\n\
                 #EXT-X-ENDLIST\n"
            )
        );
    }

    #[test]
    fn a_live_fmp4_ll_hls_playlist() {
        let s = LiveStream::new("ll", ServiceId(1), SegmentFormat::Fmp4);
        s.lock().part_target = Some(0.5);
        s.lock().publisher = Some(crate::ids::PublisherId::new());
        let part = |independent: bool, init: bool| PartOut {
            data: Bytes::from_static(b"moof"),
            duration: 0.5,
            independent,
            discontinuity: false,
            init: init.then(|| Bytes::from_static(b"init")),
        };
        s.push_part(part(true, true));
        s.push_part(part(false, false));
        s.push(seg_at(0, 1.0, false));
        s.push_part(part(true, false));
        let e = s.epoch();
        assert_eq!(
            text(&s),
            format!(
                "#EXTM3U\n\
                 #EXT-X-VERSION:7\n\
                 #EXT-X-TARGETDURATION:2\n\
                 #EXT-X-MEDIA-SEQUENCE:0\n\
                 #EXT-X-DISCONTINUITY-SEQUENCE:0\n\
                 #EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n\
                 #EXT-X-PART-INF:PART-TARGET=0.500\n\
                 #EXT-X-MAP:URI=\"{e}_init0.mp4\"\n\
                 #EXT-X-PART:DURATION=0.500,URI=\"{e}_0.0.m4s\",INDEPENDENT=YES\n\
                 #EXT-X-PART:DURATION=0.500,URI=\"{e}_0.1.m4s\"\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-18T11:06:40.000Z\n\
                 #EXTINF:1.000,\n\
                 {e}_0.m4s\n\
                 #EXT-X-PART:DURATION=0.500,URI=\"{e}_1.0.m4s\",INDEPENDENT=YES\n\
                 #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{e}_1.1.m4s\"\n"
            )
        );
        // Every name the playlist gives is served.
        for name in [
            format!("{e}_init0.mp4"),
            format!("{e}_0.0.m4s"),
            format!("{e}_0.m4s"),
            format!("{e}_1.0.m4s"),
        ] {
            assert!(s.segment_by_name(&name).is_some(), "{name}");
        }
        assert!(s.segment_by_name(&format!("{e}_0.ts")).is_none());
    }

    #[test]
    fn writes_under_an_earlier_claim_are_refused() {
        let streams = LiveStreams::default();
        let packaging = Packaging {
            format: SegmentFormat::Ts,
            target_secs: 2,
            part_target: None,
        };
        let s = streams
            .publish(
                "tv/360p",
                ServiceId(1),
                PublisherId::test(7),
                Limits::default(),
                packaging,
            )
            .expect("free");
        let old = s.claim();
        assert!(s.push_claimed(old, seg(2.0, false)));
        // The same publisher claims again (its ladder restarted): the old claim is stale.
        streams
            .publish(
                "tv/360p",
                ServiceId(1),
                PublisherId::test(7),
                Limits::default(),
                packaging,
            )
            .expect("its own");
        assert!(!s.push_claimed(old, seg(2.0, false)));
        assert!(s.push_claimed(s.claim(), seg(2.0, false)));
        assert_eq!(s.next_msn(), 2);
    }

    #[test]
    fn every_new_part_changes_the_playlist_validator() {
        // A blocking reload answered with a stale (cached, 304-able) playlist that lacks the
        // part it waited for sends LL-HLS players into stalls.
        let s = LiveStream::new("ll", ServiceId(1), SegmentFormat::Fmp4);
        s.lock().part_target = Some(0.333);
        s.lock().publisher = Some(PublisherId::test(1));
        let part = || PartOut {
            data: Bytes::from_static(b"moof"),
            duration: 0.333,
            independent: true,
            discontinuity: false,
            init: Some(Bytes::from_static(b"init")),
        };
        s.push_part(part());
        s.push(seg(0.333, false));
        s.push_part(part());
        let (body1, tag1, gz1) = s.playlist_encoded(Bytes::copy_from_slice);
        s.push_part(part());
        let (body2, tag2, gz2) = s.playlist_encoded(Bytes::copy_from_slice);
        assert_ne!(tag1, tag2);
        assert_ne!(body1, body2);
        assert_eq!(gz2, body2, "the encoded copy follows the new version");
        assert_ne!(gz1, gz2);
    }

    #[test]
    fn a_master_playlist_lists_variants_in_ladder_order() {
        let s = LiveStream::new("tv", ServiceId(1), SegmentFormat::Ts);
        let v = |name: &str, order| Variant {
            name: name.into(),
            order,
            bandwidth: 1_000_000,
            average_bandwidth: 800_000,
            info: StreamInfo {
                resolution: Some((640, 360)),
                codecs: "avc1.4D401E,mp4a.40.2".into(),
                frame_rate: Some(30.0),
            },
        };
        s.set_variant(v("360p", 2));
        s.set_variant(v("source", 0));
        let tag = s.playlist_etag();
        let p = String::from_utf8(s.playlist().to_vec()).expect("utf-8");
        assert!(p.starts_with("#EXTM3U\n"), "{p}");
        let uris: Vec<&str> = p.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(uris, ["source/index.m3u8", "360p/index.m3u8"]);
        assert!(
            p.contains("RESOLUTION=640x360,CODECS=\"avc1.4D401E,mp4a.40.2\",FRAME-RATE=30.000")
        );
        // Re-setting the same line changes nothing; a new bandwidth changes the version.
        s.set_variant(v("360p", 2));
        assert_eq!(s.playlist_etag(), tag);
        s.set_variant_bandwidth("source", 3_000_000);
        assert_ne!(s.playlist_etag(), tag);
        assert!(s.is_master());
    }

    #[test]
    fn a_live_master_playlist_says_what_each_rung_carries() {
        let s = LiveStream::new("fm", ServiceId(1), SegmentFormat::Ts);
        s.set_variant(Variant {
            name: "360p".into(),
            order: 1,
            bandwidth: 1_000_000,
            average_bandwidth: 800_000,
            info: StreamInfo {
                resolution: Some((640, 360)),
                codecs: "avc1.4D401E,mp4a.40.2".into(),
                frame_rate: Some(30.0),
            },
        });
        // An audio rung (a station's AAC ladder): no picture, so no size or frame rate.
        s.set_variant(Variant {
            name: "aac64".into(),
            order: 2,
            bandwidth: 70_000,
            average_bandwidth: 67_200,
            info: StreamInfo {
                resolution: None,
                codecs: "mp4a.40.2".into(),
                frame_rate: None,
            },
        });
        // A rung whose encoder has not said what it makes yet.
        s.set_variant(Variant {
            name: "240p".into(),
            order: 3,
            bandwidth: 400_000,
            average_bandwidth: 350_000,
            info: StreamInfo {
                frame_rate: Some(29.97),
                ..StreamInfo::default()
            },
        });
        assert_eq!(
            text(&s),
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4D401E,mp4a.40.2\",FRAME-RATE=30.000\n\
             360p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=67200,CODECS=\"mp4a.40.2\"\n\
             aac64/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=350000,FRAME-RATE=29.970\n\
             240p/index.m3u8\n"
        );
    }

    #[test]
    fn sliding_window_keeps_numbering_and_counts_discontinuities() {
        let s = LiveStream::new("tv", ServiceId(1), SegmentFormat::Ts);
        for _ in 0..8 {
            s.push(seg(2.0, false));
        }
        s.push(seg(2.0, true)); // seq 8: a reconnect
        for _ in 0..6 {
            s.push(seg(2.0, false));
        }
        let p = String::from_utf8(s.playlist().to_vec()).expect("utf-8");
        // 15 segments: 9..=14 listed; the discontinuity (8) has left the list.
        assert!(p.contains("#EXT-X-MEDIA-SEQUENCE:9\n"), "{p}");
        assert!(p.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{p}");
        assert!(!p.contains("#EXT-X-DISCONTINUITY\n"), "{p}");
        assert!(p.contains("_14.ts") && !p.contains("_8.ts"));
        let name = format!("{}_14.ts", s.epoch());
        assert!(s.segment_by_name(&name).is_some());
        assert!(s.segment_by_name("1_14.ts").is_none());
        // Recently listed segments are still served.
        assert!(s.segment(7).is_some() && s.segment(14).is_some());
        assert!(s.segment(5).is_none() && s.segment(15).is_none());
    }
}
