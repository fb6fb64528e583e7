//! A live mount: one writer, many readers.
//!
//! The on-air source publishes chunks of its stream; every listener reads them from a shared
//! ring (`tokio::sync::broadcast` of `Bytes`: one copy of the audio however many listeners).
//! A listener that falls behind the ring skips forward to what is current instead of
//! slowing the source or anyone else. The last [`BURST_BYTES`] are kept so a new listener
//! starts with a burst and its player can begin at once (Icecast's burst-on-connect).
//!
//! Several sources may be connected: the one with the highest priority is on air, the
//! others wait on standby; when the on-air source leaves, the next one takes over at once
//! and listeners stay connected through every handover.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

use crate::admission::{Limits, ServiceId};
use crate::ids::SourceId;

pub mod feed;

/// How much recent audio a new listener gets at once.
pub const BURST_BYTES: usize = 64 * 1024;
/// Chunks kept in the ring; a listener further behind than this skips forward.
const RING_CHUNKS: usize = 256;
/// How long a source taking over from a soft one (AutoDJ) waits for it to fade out.
pub const SOFT_HANDOVER: Duration = Duration::from_secs(1);
/// What a waiting source's audio may take meanwhile.
const TAKEOVER_BYTES: usize = 512 * 1024;

/// What a source says about its stream (its `ice-*` headers and `Content-Type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub content_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub genre: Option<String>,
    pub url: Option<String>,
    pub public: bool,
    pub bitrate_kbps: Option<u32>,
    pub audio_info: Option<String>,
}

/// A connected source's place on the mount.
#[derive(Debug, Clone)]
struct SourceSlot {
    id: SourceId,
    priority: u8,
    label: String,
    info: StreamInfo,
    /// Codec headers a listener needs before this source's audio (Ogg header pages).
    headers: Vec<Bytes>,
    /// Hands over softly (AutoDJ): a source taking over waits until it has faded out.
    soft: bool,
}

#[derive(Debug)]
struct State {
    sources: Vec<SourceSlot>,
    on_air: Option<SourceId>,
    burst: VecDeque<Bytes>,
    burst_len: usize,
    title: Arc<str>,
    title_seq: u64,
    stream_start: SystemTime,
    limits: Limits,
    fallback: Option<String>,
    /// The on-air source's codec headers. They are never in the burst: a new listener
    /// gets them first, then the burst (which holds only media).
    headers: Vec<Bytes>,
    /// Set when the mount is forgotten: nothing may join it any more (a source or listener
    /// that raced with the removal looks the mount up again).
    closed: bool,
    silent_since: Option<SystemTime>,
    dead_air_events: u64,
    /// Bytes the sources on air have sent in, since the mount was made.
    received: u64,
    /// A source waiting to go on air while the soft source on air fades out, until when it
    /// waits at most, and its audio meanwhile (played from its start once on air).
    takeover: Option<(SourceId, Instant)>,
    takeover_buf: Vec<Bytes>,
    takeover_len: usize,
    /// The title sequence when the takeover began: a title set after it (the live source's
    /// first metadata update, sent as it connects) is kept when it goes on air.
    takeover_title_seq: u64,
}

/// Why a source may not go on this mount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "mount /{mount} is in use by {holder} (priority {priority}); only a higher priority can take over"
)]
pub struct MountBusy {
    pub mount: String,
    pub holder: String,
    pub priority: u8,
}

/// Why a source could not attach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Busy(#[from] MountBusy),
    /// The mount was forgotten meanwhile: look it up again.
    #[error("the mount closed")]
    Closed,
}

/// A live mount.
#[derive(Debug)]
pub struct Mount {
    name: String,
    service_id: ServiceId,
    tx: broadcast::Sender<Bytes>,
    /// Bumped whenever the source on air changes (or the mount loses it), so listeners
    /// following a fallback learn at once that they should move.
    on_air_changed: watch::Sender<u64>,
    state: Mutex<State>,
    listeners: AtomicUsize,
    peak: AtomicUsize,
}

/// What a new listener needs: the burst, its place in the ring, and the stream's headers.
#[derive(Debug)]
pub struct Subscription {
    pub burst: Vec<Bytes>,
    pub rx: broadcast::Receiver<Bytes>,
    pub info: StreamInfo,
}

/// A snapshot of a mount for status pages.
#[derive(Debug, Clone)]
pub struct MountStatus {
    pub name: String,
    pub service_id: ServiceId,
    pub info: StreamInfo,
    pub on_air: Option<String>,
    pub listeners: usize,
    pub peak: usize,
    pub title: String,
    pub stream_start: SystemTime,
    /// Since when the live source on air has been silent, if it is (dead-air watch).
    pub silent_since: Option<SystemTime>,
    /// Dead air found on this mount (silence past the threshold).
    pub dead_air_events: u64,
    /// Bytes its sources on air have sent in (ingest), since the mount was made.
    pub received: u64,
}

impl Mount {
    pub fn new(name: impl Into<String>, service_id: ServiceId, limits: Limits) -> Self {
        let (tx, _) = broadcast::channel(RING_CHUNKS);
        Self {
            name: name.into(),
            service_id,
            tx,
            on_air_changed: watch::Sender::new(0),
            state: Mutex::new(State {
                sources: Vec::new(),
                on_air: None,
                burst: VecDeque::new(),
                burst_len: 0,
                title: Arc::from(""),
                title_seq: 0,
                stream_start: SystemTime::now(),
                limits,
                fallback: None,
                headers: Vec::new(),
                closed: false,
                silent_since: None,
                dead_air_events: 0,
                received: 0,
                takeover: None,
                takeover_buf: Vec::new(),
                takeover_len: 0,
                takeover_title_seq: 0,
            }),
            listeners: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn service_id(&self) -> ServiceId {
        self.service_id
    }

    /// Connects a source. It goes on air if its priority is higher than every connected
    /// source's; otherwise it is refused.
    pub fn attach_source(
        &self,
        id: SourceId,
        priority: u8,
        label: &str,
        info: StreamInfo,
        limits: Limits,
    ) -> Result<(), AttachError> {
        self.attach(id, priority, label, info, limits, false)
    }

    /// Connects a source that hands over softly (AutoDJ): a source that takes over from it
    /// waits (at most [`SOFT_HANDOVER`], its audio kept) until it has faded out and called
    /// [`Mount::hand_over`].
    pub fn attach_soft_source(
        &self,
        id: SourceId,
        priority: u8,
        label: &str,
        info: StreamInfo,
        limits: Limits,
    ) -> Result<(), AttachError> {
        self.attach(id, priority, label, info, limits, true)
    }

    fn attach(
        &self,
        id: SourceId,
        priority: u8,
        label: &str,
        info: StreamInfo,
        limits: Limits,
        soft: bool,
    ) -> Result<(), AttachError> {
        let mut st = self.lock();
        if st.closed {
            return Err(AttachError::Closed);
        }
        if let Some(top) = st.sources.iter().max_by_key(|s| s.priority)
            && top.priority >= priority
        {
            return Err(AttachError::Busy(MountBusy {
                mount: self.name.clone(),
                holder: top.label.clone(),
                priority: top.priority,
            }));
        }
        st.sources.push(SourceSlot {
            id,
            priority,
            label: label.to_owned(),
            info,
            headers: Vec::new(),
            soft,
        });
        st.limits = limits;
        if st.on_air.is_none() {
            st.stream_start = SystemTime::now();
        }
        let on_air_is_soft = st
            .on_air
            .and_then(|on| st.sources.iter().find(|s| s.id == on))
            .is_some_and(|s| s.soft);
        if on_air_is_soft {
            // The soft source fades out first; this one's audio waits for it.
            st.takeover = Some((id, Instant::now() + SOFT_HANDOVER));
            st.takeover_buf.clear();
            st.takeover_len = 0;
            st.takeover_title_seq = st.title_seq;
            return Ok(());
        }
        self.go_on_air(&mut st, id);
        drop(st);
        self.on_air_changed.send_modify(|g| *g += 1);
        Ok(())
    }

    /// Whether a source is waiting to take over from soft source `id`.
    pub fn takeover_pending(&self, id: SourceId) -> bool {
        let st = self.lock();
        st.on_air == Some(id) && st.takeover.is_some()
    }

    /// The soft source `id` has faded out: the waiting source goes on air, from the start of
    /// what it sent meanwhile.
    pub fn hand_over(&self, id: SourceId) {
        let mut st = self.lock();
        if st.on_air != Some(id) {
            return;
        }
        if let Some((next, _)) = st.takeover.take() {
            self.take_over(&mut st, next);
            drop(st);
            self.on_air_changed.send_modify(|g| *g += 1);
        }
    }

    /// Puts the waiting source `next` on air with the audio it sent while waiting.
    fn take_over(&self, st: &mut State, next: SourceId) {
        st.takeover = None;
        let title = (st.title_seq != st.takeover_title_seq).then(|| Arc::clone(&st.title));
        self.go_on_air(st, next);
        if let Some(title) = title {
            st.title = title;
            st.title_seq += 1;
        }
        let waiting = std::mem::take(&mut st.takeover_buf);
        st.takeover_len = 0;
        for chunk in waiting {
            self.push_chunk(st, chunk);
        }
    }

    /// Disconnects a source; the highest-priority source left (if any) goes on air at once.
    pub fn detach_source(&self, id: SourceId) {
        let mut st = self.lock();
        st.sources.retain(|s| s.id != id);
        if st.takeover.is_some_and(|(t, _)| t == id) {
            st.takeover = None;
            st.takeover_buf.clear();
            st.takeover_len = 0;
        }
        if st.on_air == Some(id) {
            match st.sources.iter().max_by_key(|s| s.priority).map(|s| s.id) {
                Some(next) if st.takeover.is_some_and(|(t, _)| t == next) => {
                    self.take_over(&mut st, next);
                }
                Some(next) => self.go_on_air(&mut st, next),
                None => st.on_air = None,
            }
            st.takeover = None;
            drop(st);
            self.on_air_changed.send_modify(|g| *g += 1);
        }
    }

    /// Sets where listeners go while this mount has no source.
    pub fn set_fallback(&self, fallback: Option<String>) {
        self.lock().fallback = fallback.filter(|f| *f != self.name);
    }

    pub fn fallback(&self) -> Option<String> {
        self.lock().fallback.clone()
    }

    /// Resolves when the source on air changes.
    pub fn on_air_watch(&self) -> watch::Receiver<u64> {
        self.on_air_changed.subscribe()
    }

    /// A place in the ring without a burst and without counting as a listener here: for a
    /// listener of another mount that follows this one as its fallback. Comes with the
    /// codec headers the listener needs before what follows (Ogg), if any.
    pub fn follow(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let st = self.lock();
        (st.headers.clone(), self.tx.subscribe())
    }

    /// Wakes on every chunk published here (for the task that writes to listeners).
    pub fn doorbell(&self) -> broadcast::Receiver<Bytes> {
        self.tx.subscribe()
    }

    fn go_on_air(&self, st: &mut State, id: SourceId) {
        st.on_air = Some(id);
        // A new voice: listeners get the title block again at their next metadata point.
        st.title = Arc::from("");
        st.title_seq += 1;
        // A standby source resuming mid-stream: its codec headers go out first, so listeners
        // (and the burst for new ones) can decode what follows.
        let headers = st
            .sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.headers.clone())
            .unwrap_or_default();
        st.burst.clear();
        st.burst_len = 0;
        for h in &headers {
            let _ = self.tx.send(h.clone());
        }
        st.headers = headers;
    }

    /// Source `id` starts a new chain of its stream (an Ogg beginning-of-stream page): the
    /// burst restarts with it, so a new listener never gets pages of the previous chain.
    pub fn begin_chain(&self, id: SourceId) {
        let mut st = self.lock();
        if let Some(slot) = st.sources.iter_mut().find(|s| s.id == id) {
            slot.headers.clear();
        }
        if st.on_air == Some(id) {
            st.burst.clear();
            st.burst_len = 0;
            st.headers.clear();
        }
    }

    /// Publishes a header page of source `id` (Ogg header pages, the WebM header) and
    /// records its headers so far, `page` included, for listeners who join later or hear
    /// this source take over. One lock for both, so a handover in between can neither lose
    /// nor repeat the page. Header pages go to the ring but not into the burst.
    pub fn publish_header(&self, id: SourceId, headers: Vec<Bytes>, page: Bytes) {
        let mut st = self.lock();
        if let Some(slot) = st.sources.iter_mut().find(|s| s.id == id) {
            slot.headers = headers.clone();
        }
        if st.on_air == Some(id) {
            st.headers = headers;
            let _ = self.tx.send(page);
        }
    }

    /// Publishes a chunk from source `id`. Returns whether the source is on air (a standby
    /// source's audio is dropped).
    pub fn publish(&self, id: SourceId, chunk: Bytes) -> bool {
        let mut st = self.lock();
        if st.on_air != Some(id) {
            let Some((waiting, until)) = st.takeover.filter(|(t, _)| *t == id) else {
                return false;
            };
            if Instant::now() < until {
                // Kept for when the soft source has faded out (bounded: beyond this the
                // oldest goes).
                st.takeover_len += chunk.len();
                st.takeover_buf.push(chunk);
                while st.takeover_len > TAKEOVER_BYTES && !st.takeover_buf.is_empty() {
                    let old = st.takeover_buf.remove(0);
                    st.takeover_len -= old.len();
                }
                return true;
            }
            // The soft source did not hand over in time: take over now.
            self.take_over(&mut st, waiting);
            self.push_chunk(&mut st, chunk);
            drop(st);
            self.on_air_changed.send_modify(|g| *g += 1);
            return true;
        }
        self.push_chunk(&mut st, chunk);
        true
    }

    /// Adds a chunk of the on-air source to the burst and the ring.
    fn push_chunk(&self, st: &mut State, chunk: Bytes) {
        st.received += chunk.len() as u64;
        st.burst_len += chunk.len();
        st.burst.push_back(chunk.clone());
        while st.burst_len - st.burst.front().map_or(0, Bytes::len) >= BURST_BYTES {
            if let Some(old) = st.burst.pop_front() {
                st.burst_len -= old.len();
            }
        }
        // Sent under the lock so a listener subscribing at the same moment gets either this
        // chunk in its burst or in its ring, never both and never neither.
        let _ = self.tx.send(chunk);
    }

    /// Whether `id` is the source on air.
    pub fn is_on_air(&self, id: SourceId) -> bool {
        self.lock().on_air == Some(id)
    }

    pub fn has_source(&self) -> bool {
        self.lock().on_air.is_some()
    }

    pub fn source_count(&self) -> usize {
        self.lock().sources.len()
    }

    /// Joins a listener, unless the mount has no source (and no fallback to offer) or is
    /// full. Without a source the subscription has no burst and no stream info: the listener
    /// follows the fallback until a source arrives.
    pub fn subscribe(&self) -> Result<Subscription, JoinError> {
        let st = self.lock();
        if st.closed {
            return Err(JoinError::Closed);
        }
        // Without a source on air, a listener may still wait here for its fallback.
        if st.on_air.is_none() && st.fallback.is_none() {
            return Err(JoinError::NoSource);
        }
        let max = st.limits.max_listeners as usize;
        let now = self.listeners.load(Ordering::Relaxed);
        if now >= max {
            return Err(JoinError::Full(max));
        }
        self.listeners.fetch_add(1, Ordering::Relaxed);
        self.peak.fetch_max(now + 1, Ordering::Relaxed);
        let info = st
            .sources
            .iter()
            .find(|s| Some(s.id) == st.on_air)
            .map(|s| s.info.clone())
            .unwrap_or_default();
        Ok(Subscription {
            // The burst is what this mount's source sent last; without a source it is stale.
            burst: match st.on_air {
                None => Vec::new(),
                // Codec headers first (Ogg, WebM), then recent media.
                Some(_) => st.headers.iter().chain(st.burst.iter()).cloned().collect(),
            },
            rx: self.tx.subscribe(),
            info,
        })
    }

    /// A listener left.
    pub fn unsubscribe(&self) {
        self.listeners.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn listeners(&self) -> usize {
        self.listeners.load(Ordering::Relaxed)
    }

    /// The current title and its version (bumped on every change).
    pub fn title(&self) -> (Arc<str>, u64) {
        let st = self.lock();
        (Arc::clone(&st.title), st.title_seq)
    }

    pub fn set_title(&self, title: &str) {
        let mut st = self.lock();
        st.title = Arc::from(title);
        st.title_seq += 1;
    }

    /// The stream info of the source on air, if any.
    pub fn info(&self) -> Option<StreamInfo> {
        let st = self.lock();
        let id = st.on_air?;
        st.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.info.clone())
    }

    pub fn status(&self) -> MountStatus {
        let st = self.lock();
        let on_air = st
            .on_air
            .and_then(|id| st.sources.iter().find(|s| s.id == id));
        MountStatus {
            name: self.name.clone(),
            service_id: self.service_id,
            info: on_air.map(|s| s.info.clone()).unwrap_or_default(),
            on_air: on_air.map(|s| s.label.clone()),
            listeners: self.listeners(),
            peak: self.peak.load(Ordering::Relaxed),
            title: st.title.to_string(),
            stream_start: st.stream_start,
            silent_since: st.silent_since,
            dead_air_events: st.dead_air_events,
            received: st.received,
        }
    }

    /// Whether source `id` is connected (on air or on standby).
    pub fn has_source_id(&self, id: SourceId) -> bool {
        self.lock().sources.iter().any(|s| s.id == id)
    }

    /// The dead-air watch's findings: silent since when (or not), and one more event.
    pub fn set_silence(&self, since: Option<SystemTime>, new_event: bool) {
        let mut st = self.lock();
        st.silent_since = since;
        if new_event {
            st.dead_air_events += 1;
        }
    }
}

/// Why a listener could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("the mount has no source")]
    NoSource,
    #[error("the mount is full ({0} listeners)")]
    Full(usize),
    /// The mount was forgotten meanwhile: look it up again.
    #[error("the mount closed")]
    Closed,
}

/// Every live mount, by name.
#[derive(Debug, Default)]
pub struct Mounts {
    map: Mutex<std::collections::HashMap<String, Arc<Mount>>>,
}

impl Mounts {
    fn lock(&self) -> MutexGuard<'_, std::collections::HashMap<String, Arc<Mount>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, name: &str) -> Option<Arc<Mount>> {
        self.lock().get(name).cloned()
    }

    /// The mount called `name`, created for `service_id` if it does not exist.
    pub fn get_or_create(&self, name: &str, service_id: ServiceId, limits: Limits) -> Arc<Mount> {
        let mut map = self.lock();
        match map.get(name) {
            Some(m) if m.service_id == service_id => Arc::clone(m),
            // A stale mount of another service under a reused slug: replace it.
            _ => {
                let m = Arc::new(Mount::new(name, service_id, limits));
                map.insert(name.to_owned(), Arc::clone(&m));
                m
            }
        }
    }

    /// Forgets a mount once nobody uses it (no source, no listener).
    pub fn remove_if_idle(&self, mount: &Arc<Mount>) {
        let mut map = self.lock();
        let mut st = mount.lock();
        if st.sources.is_empty()
            && mount.listeners() == 0
            && let Some(current) = map.get(mount.name())
            && Arc::ptr_eq(current, mount)
        {
            st.closed = true;
            map.remove(mount.name());
        }
    }

    /// The live mounts of one service.
    pub fn for_service(&self, service_id: ServiceId) -> Vec<Arc<Mount>> {
        let mut v: Vec<_> = self
            .lock()
            .values()
            .filter(|m| m.service_id == service_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    pub fn all(&self) -> Vec<Arc<Mount>> {
        let mut v: Vec<_> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_listeners: 2,
            ..Limits::default()
        }
    }

    /// Attaches live source `n` (any stream, the test limits) at `priority`.
    fn live(m: &Mount, n: u64, priority: u8, label: &str) -> Result<(), AttachError> {
        let info = StreamInfo::default();
        m.attach_source(SourceId::test(n), priority, label, info, limits())
    }

    /// Attaches soft source `n` (AutoDJ: it fades out before a live source takes over).
    fn soft(m: &Mount, n: u64) -> Result<(), AttachError> {
        let info = StreamInfo::default();
        m.attach_soft_source(SourceId::test(n), 0, "AutoDJ", info, limits())
    }

    #[test]
    fn priorities_and_handover() {
        let m = Mount::new("jazz", ServiceId(1), limits());
        live(&m, 1, 10, "dj low").expect("first source");
        assert!(m.publish(SourceId::test(1), Bytes::from_static(b"low")));
        // Equal priority is refused; higher takes over and the lower waits on standby.
        assert!(live(&m, 2, 10, "dj same").is_err());
        live(&m, 3, 60, "dj high").expect("higher takes over");
        assert!(!m.publish(SourceId::test(1), Bytes::from_static(b"dropped")));
        assert!(m.publish(SourceId::test(3), Bytes::from_static(b"high")));
        // High leaves: low resumes at once.
        m.detach_source(SourceId::test(3));
        assert!(m.is_on_air(SourceId::test(1)));
        m.detach_source(SourceId::test(1));
        assert!(!m.has_source());
    }

    #[test]
    fn a_soft_source_fades_out_before_a_live_one_takes_over() {
        let m = Mount::new("radio", ServiceId(1), limits());
        soft(&m, 1).expect("autodj");
        let (_, mut rx) = m.follow();
        assert!(m.publish(SourceId::test(1), Bytes::from_static(b"music")));
        live(&m, 2, 50, "source").expect("live");
        // The live source waits: its audio is kept, AutoDJ still plays (its fade).
        assert!(m.is_on_air(SourceId::test(1)) && m.takeover_pending(SourceId::test(1)));
        assert!(m.publish(SourceId::test(2), Bytes::from_static(b"hello")));
        assert!(m.publish(SourceId::test(1), Bytes::from_static(b"fade")));
        m.hand_over(SourceId::test(1));
        assert!(m.is_on_air(SourceId::test(2)) && !m.takeover_pending(SourceId::test(1)));
        assert!(m.publish(SourceId::test(2), Bytes::from_static(b"world")));
        let heard: Vec<Bytes> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            heard,
            ["music", "fade", "hello", "world"]
                .map(|b: &'static str| Bytes::from_static(b.as_bytes()))
        );
        // AutoDJ no longer reaches listeners.
        assert!(!m.publish(SourceId::test(1), Bytes::from_static(b"late")));
    }

    #[test]
    fn a_title_sent_while_waiting_to_take_over_is_kept() {
        let m = Mount::new("radio", ServiceId(1), limits());
        soft(&m, 1).expect("autodj");
        m.set_title("AutoDJ song");
        live(&m, 2, 50, "source").expect("live");
        m.set_title("Live show");
        m.hand_over(SourceId::test(1));
        assert_eq!(&*m.title().0, "Live show");
    }

    #[test]
    fn a_soft_source_that_never_hands_over_is_taken_over_after_the_wait() {
        let m = Mount::new("radio", ServiceId(1), limits());
        soft(&m, 1).expect("autodj");
        live(&m, 2, 50, "source").expect("live");
        assert!(m.publish(SourceId::test(2), Bytes::from_static(b"early")));
        std::thread::sleep(SOFT_HANDOVER + Duration::from_millis(50));
        let (_, mut rx) = m.follow();
        assert!(m.publish(SourceId::test(2), Bytes::from_static(b"now")));
        assert!(m.is_on_air(SourceId::test(2)));
        let heard: Vec<Bytes> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            heard,
            ["early", "now"].map(|b: &'static str| Bytes::from_static(b.as_bytes()))
        );
        // And a soft source leaving while one waits puts the waiting one on air.
        let m = Mount::new("radio2", ServiceId(1), limits());
        soft(&m, 1).expect("autodj");
        live(&m, 2, 50, "source").expect("live");
        m.detach_source(SourceId::test(1));
        assert!(m.is_on_air(SourceId::test(2)));
    }

    #[test]
    fn burst_and_ring() {
        let m = Mount::new("jazz", ServiceId(1), limits());
        live(&m, 1, 50, "source").expect("source");
        for i in 0..40u8 {
            m.publish(SourceId::test(1), Bytes::from(vec![i; 4096]));
        }
        let mut sub = m.subscribe().expect("joins");
        let burst: usize = sub.burst.iter().map(Bytes::len).sum();
        assert!(
            (BURST_BYTES..BURST_BYTES + 4096).contains(&burst),
            "burst of {burst} bytes"
        );
        assert_eq!(sub.burst.last().map(|b| b[0]), Some(39));
        m.publish(SourceId::test(1), Bytes::from_static(b"next"));
        assert_eq!(
            sub.rx.try_recv().expect("ring"),
            Bytes::from_static(b"next")
        );
    }

    #[test]
    fn header_pages_reach_each_listener_once() {
        let m = Mount::new("ogg", ServiceId(1), limits());
        live(&m, 1, 50, "source").expect("source");
        let mut early = m.subscribe().expect("joins");
        let h1 = Bytes::from_static(b"OggS-bos");
        // Large header pages (cover art in the comments) past the burst size.
        let big: Vec<Bytes> = (0..24u8).map(|i| Bytes::from(vec![i; 4096])).collect();
        m.begin_chain(SourceId::test(1));
        m.publish_header(SourceId::test(1), vec![h1.clone()], h1.clone());
        let mut headers = vec![h1.clone()];
        for page in &big {
            headers.push(page.clone());
            m.publish_header(SourceId::test(1), headers.clone(), page.clone());
        }
        for i in 0..20u8 {
            m.publish(SourceId::test(1), Bytes::from(vec![100 + i; 4096]));
        }
        // A listener already there got each header page once, from the ring.
        let mut got = Vec::new();
        while let Ok(c) = early.rx.try_recv() {
            got.push(c);
        }
        assert_eq!(got[..headers.len()], headers[..]);
        // A late joiner gets the headers once, then only media.
        let sub = m.subscribe().expect("joins");
        assert_eq!(sub.burst[..headers.len()], headers[..]);
        assert!(
            sub.burst[headers.len()..].iter().all(|c| c[0] >= 100),
            "a header page twice"
        );
        // A listener arriving from another mount gets the headers before the live pages.
        let (follow_headers, _rx) = m.follow();
        assert_eq!(follow_headers, headers);
    }

    #[test]
    fn standby_source_takes_over_with_its_headers() {
        let m = Mount::new("ogg", ServiceId(1), limits());
        live(&m, 1, 10, "low").expect("low");
        live(&m, 2, 60, "high").expect("high");
        let mut rx = m.subscribe().expect("joins").rx;
        // The standby source's headers are recorded, not sent.
        let h = Bytes::from_static(b"OggS-low-bos");
        m.begin_chain(SourceId::test(1));
        m.publish_header(SourceId::test(1), vec![h.clone()], h.clone());
        assert!(rx.try_recv().is_err());
        // When high leaves, low's headers go out first, once.
        m.detach_source(SourceId::test(2));
        assert_eq!(rx.try_recv().ok(), Some(h));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn forgotten_mount_takes_nobody() {
        let mounts = Mounts::default();
        let m = mounts.get_or_create("jazz", ServiceId(1), limits());
        mounts.remove_if_idle(&m);
        assert_eq!(live(&m, 1, 50, "late"), Err(AttachError::Closed));
        assert_eq!(m.subscribe().err(), Some(JoinError::Closed));
        let fresh = mounts.get_or_create("jazz", ServiceId(1), limits());
        assert!(!Arc::ptr_eq(&m, &fresh));
        assert!(live(&fresh, 1, 50, "late").is_ok());
    }

    #[test]
    fn full_and_no_source() {
        let m = Mount::new("jazz", ServiceId(1), limits());
        assert_eq!(m.subscribe().err(), Some(JoinError::NoSource));
        live(&m, 1, 50, "source").expect("source");
        let _a = m.subscribe().expect("1");
        let _b = m.subscribe().expect("2");
        assert_eq!(m.subscribe().err(), Some(JoinError::Full(2)));
        m.unsubscribe();
        assert!(m.subscribe().is_ok());
        assert_eq!(m.status().peak, 2);
    }
}
