//! A station's playout thread: picks, decodes, mixes and encodes at the wall clock's pace.
//!
//! Every tick it works out how many frames the wall clock says should have gone out (plus a
//! small lead, so the mount's burst is full for new listeners) and renders exactly those:
//! the count since the station went on air never drifts, and nothing goes out in bursts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use crate::events::MountEvent;
use crate::icecast::source::Sources;
use crate::mount::feed::MountFeed;
use crate::mount::{Mount, StreamInfo};
use crate::transcode::{AudioCodec, FeedJob, FeedSpec, PcmEncoder, TranscodeError, Transcoder};

use super::deck::Deck;
use super::mix::{Limiter, crossfade, gain_for};
use super::{Command, StationConfig, Status, Track};

/// How often the thread wakes.
const TICK: Duration = Duration::from_millis(100);
/// How far ahead of the wall clock audio goes out.
const LEAD_SECS: f64 = 0.5;
/// How long AutoDJ fades out when a live source takes over.
const FADE_OUT_SECS: f64 = 0.5;
/// How often AutoDJ asks whether an interval playlist must cut in, and how long the track
/// it cuts takes to fade out.
const INTERRUPT_CHECK: Duration = Duration::from_secs(10);
const INTERRUPT_FADE_SECS: f64 = 1.0;
/// How long a skip's fade-out lasts.
const SKIP_FADE_SECS: f64 = 0.4;
/// Picks in a row that may fail (missing or broken files) before AutoDJ waits a moment.
const PICK_TRIES: usize = 3;
/// Output below this (−50 dBFS) is silence.
const SILENCE: f32 = 0.003_16;
/// How long AutoDJ waits for a pick when nothing is playing.
const PICK_WAIT: Duration = Duration::from_secs(2);
/// How long AutoDJ waits before asking again when nothing was playable.
const PICK_RETRY: Duration = Duration::from_secs(3);

/// AutoDJ's place on the mount: the feed (inside the encoder) and how to check it is on air.
struct OnMount {
    mount: Arc<Mount>,
    id: crate::ids::SourceId,
    encoder: Box<dyn PcmEncoder>,
    /// When this stretch on air began and how many frames went out since.
    clock: Option<(Instant, u64)>,
}

pub(super) struct Playout {
    /// What a source on a mount uses (AutoDJ is one): mounts, sessions, events, the
    /// station's HLS.
    sources: Sources,
    config: StationConfig,
    transcoder: Arc<dyn Transcoder>,
    status: Arc<Mutex<Status>>,
    commands: mpsc::Receiver<Command>,
    rt: tokio::runtime::Handle,
    rate: u32,
    current: Option<Deck>,
    next: Option<Deck>,
    /// The incoming track's title has gone out (at the start of its crossfade).
    next_announced: bool,
    limiter: Limiter,
    pick_after: Instant,
    /// Frames of silence in a row in the output, and whether that stretch was reported.
    silent_frames: u64,
    dead_air_reported: bool,
    interrupt_checked: Instant,
    /// An interval check running on the runtime, and what it found.
    interrupt_check: Arc<(AtomicBool, AtomicBool)>,
    /// The next pick, asked of the library on the runtime so a slow database never stalls
    /// the audio; and tracks that went on air but the library has not heard of yet (told
    /// just before the next pick, so the pick sees them).
    prefetch: Option<mpsc::Receiver<Option<Track>>>,
    unrecorded: Vec<Track>,
}

impl Playout {
    pub(super) fn new(
        sources: Sources,
        config: StationConfig,
        transcoder: Arc<dyn Transcoder>,
        status: Arc<Mutex<Status>>,
        commands: mpsc::Receiver<Command>,
        rt: tokio::runtime::Handle,
    ) -> Self {
        // Opus runs at 48 kHz; MP3 and AAC at the CD rate most libraries are in.
        let rate = if config.codec == AudioCodec::Opus {
            48_000
        } else {
            44_100
        };
        Self {
            sources,
            config,
            transcoder,
            status,
            commands,
            rt,
            rate,
            current: None,
            next: None,
            next_announced: false,
            limiter: Limiter::new(rate),
            pick_after: Instant::now(),
            silent_frames: 0,
            dead_air_reported: false,
            interrupt_checked: Instant::now(),
            interrupt_check: Arc::default(),
            prefetch: None,
            unrecorded: Vec::new(),
        }
    }

    fn mount_name(&self) -> &str {
        &self.config.grant.mount
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(super) fn run(mut self) {
        let _rt = self.rt.enter();
        tracing::info!(mount = %self.mount_name(), "AutoDJ started");
        let mut on_mount: Option<OnMount> = None;
        let mut attach_after = Instant::now();
        let mut waiting_logged = false;
        loop {
            match self.commands.recv_timeout(TICK) {
                Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Ok(Command::Skip) => self.skip(),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if on_mount.is_none() {
                if Instant::now() < attach_after {
                    continue;
                }
                match self.attach() {
                    Ok(Some(m)) => {
                        on_mount = Some(m);
                        waiting_logged = false;
                    }
                    Ok(None) => {
                        if !waiting_logged {
                            tracing::info!(mount = %self.mount_name(), "AutoDJ waits: a live source is on the mount");
                            waiting_logged = true;
                        }
                        attach_after = Instant::now() + Duration::from_millis(500);
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(mount = %self.mount_name(), "AutoDJ stopped: {e}");
                        break;
                    }
                }
            }
            let Some(m) = on_mount.as_mut() else { continue };
            if m.mount.takeover_pending(m.id) {
                self.fade_out(m);
            }
            if m.clock.is_some() && self.interrupt_checked.elapsed() >= INTERRUPT_CHECK {
                self.interrupt_checked = Instant::now();
                self.check_interrupt();
            }
            if self.interrupt_check.1.swap(false, Ordering::Relaxed) {
                self.interrupt();
            }
            if !m.mount.is_on_air(m.id) {
                if m.clock.take().is_some() {
                    let live = m.mount.status().on_air.unwrap_or_default();
                    tracing::info!(mount = %self.mount_name(), "AutoDJ yields to {live}");
                    // Back on air it starts a fresh track, as a station does after a live show.
                    self.current = None;
                    self.next = None;
                    self.next_announced = false;
                    self.set_status(|s| {
                        s.on_air = false;
                        s.now = None;
                        s.since = None;
                        s.next = None;
                    });
                }
                continue;
            }
            if m.clock.is_none() {
                m.clock = Some((Instant::now(), 0));
                tracing::info!(mount = %self.mount_name(), "AutoDJ on air");
                self.set_status(|s| s.on_air = true);
                self.on_air_event(&m.mount);
            }
            let Some((since, sent)) = m.clock else {
                continue;
            };
            let due_total =
                ((since.elapsed().as_secs_f64() + LEAD_SECS) * f64::from(self.rate)) as u64;
            let due = due_total.saturating_sub(sent);
            if due < 1024 {
                continue;
            }
            let mut pcm = vec![0.0f32; due as usize * 2];
            self.render(&mut pcm, &m.mount);
            if let Err(e) = m.encoder.encode(&pcm) {
                tracing::error!(mount = %self.mount_name(), "AutoDJ stopped: {e}");
                break;
            }
            m.clock = Some((since, sent + due));
        }
        // What went on air since the last pick still goes into the history.
        let played = std::mem::take(&mut self.unrecorded);
        if !played.is_empty() {
            let library = Arc::clone(&self.config.library);
            let service = self.config.grant.service_id;
            self.rt.spawn(async move {
                for track in played {
                    library.track_started(service, track).await;
                }
            });
        }
        if let Some(m) = on_mount {
            let mount = Arc::clone(&m.mount);
            // Dropping the encoder drops the feed, which leaves the mount.
            drop(m);
            self.on_air_event(&mount);
        }
        tracing::info!(mount = %self.mount_name(), "AutoDJ stopped");
    }

    /// A live source is waiting: the next half second fades to silence, goes out, and the
    /// mount is handed over.
    fn fade_out(&mut self, m: &mut OnMount) {
        let frames = (FADE_OUT_SECS * f64::from(self.rate)) as usize;
        let mut pcm = vec![0.0f32; frames * 2];
        self.render(&mut pcm, &m.mount);
        for (i, pair) in pcm.chunks_exact_mut(2).enumerate() {
            let g = 1.0 - i as f32 / frames as f32;
            pair[0] *= g;
            pair[1] *= g;
        }
        if let Err(e) = m.encoder.encode(&pcm) {
            tracing::warn!(mount = %self.mount_name(), "AutoDJ could not fade out: {e}");
        }
        m.encoder.flush();
        m.mount.hand_over(m.id);
        tracing::info!(mount = %self.mount_name(), "AutoDJ faded out for a live source");
    }

    /// Joins the mount as its lowest-priority source; `None` while a live source has it.
    fn attach(&self) -> Result<Option<OnMount>, TranscodeError> {
        let grant = &self.config.grant;
        let mounts = &self.sources.mounts;
        let info = StreamInfo {
            content_type: self.config.codec.content_type().to_owned(),
            name: Some(self.config.name.clone()),
            bitrate_kbps: Some(self.config.kbps),
            public: false,
            ..StreamInfo::default()
        };
        mounts
            .get_or_create(&grant.mount, grant.service_id, grant.limits)
            .set_fallback(grant.fallback.clone());
        let feed = match MountFeed::attach_to(
            mounts,
            &grant.mount,
            info.clone(),
            grant.service_id,
            grant.limits,
            &grant.label,
            true,
        ) {
            Ok(f) => f,
            Err(_) => return Ok(None),
        };
        let mount = Arc::clone(feed.mount());
        let id = feed.id();
        let job = FeedJob {
            spec: FeedSpec {
                mount: grant.mount.clone(),
                codec: self.config.codec,
                kbps: self.config.kbps,
            },
            output: Box::new(feed),
        };
        let encoder = self.transcoder.pcm_encoder(job, self.rate)?;
        // The station's HLS and extra mounts follow the primary, whoever is on it.
        crate::radio_hls::ensure(&self.sources.station_hls, &mount, grant, &info.content_type);
        Ok(Some(OnMount {
            mount,
            id,
            encoder,
            clock: None,
        }))
    }

    fn on_air_event(&self, mount: &Mount) {
        self.sources.events.mount_event(MountEvent::OnAir {
            service_id: mount.service_id(),
            mount: mount.name().to_owned(),
            label: mount.status().on_air,
            at: SystemTime::now(),
        });
    }

    /// Something must cut in (an interval playlist that interrupts): the track playing
    /// fades out over a second and the next pick, made now, is what is due.
    fn interrupt(&mut self) {
        if self.next_announced {
            return; // mid-crossfade: the pick after this one will be what is due
        }
        let fade = (INTERRUPT_FADE_SECS * f64::from(self.rate)) as u64;
        if let Some(cur) = self.current.as_mut() {
            tracing::info!(mount = %self.config.grant.mount, title = %cur.track.display(), "AutoDJ cuts the track short for an interval playlist");
            cur.end_in(fade);
            // Whatever was picked before is not what is due now.
            self.next = None;
            self.prefetch = None;
            self.request_next();
        }
    }

    fn skip(&mut self) {
        let fade = (SKIP_FADE_SECS * f64::from(self.rate)) as u64;
        if let Some(cur) = self.current.as_mut() {
            tracing::info!(mount = %self.config.grant.mount, title = %cur.track.display(), "AutoDJ skips the track");
            cur.end_in(fade);
        }
    }

    /// Asks the library, on the runtime, whether an interval playlist must cut in now.
    fn check_interrupt(&self) {
        let check = Arc::clone(&self.interrupt_check);
        if check.0.swap(true, Ordering::Relaxed) {
            return; // the last check has not answered yet
        }
        let library = Arc::clone(&self.config.library);
        let service = self.config.grant.service_id;
        self.rt.spawn(async move {
            let due = library.interrupt_due(service).await;
            check.1.store(due, Ordering::Relaxed);
            check.0.store(false, Ordering::Relaxed);
        });
    }

    /// Starts the next pick on the runtime (telling the library first what went on air).
    fn request_next(&mut self) {
        if self.prefetch.is_some() || Instant::now() < self.pick_after {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let library = Arc::clone(&self.config.library);
        let service = self.config.grant.service_id;
        let played = std::mem::take(&mut self.unrecorded);
        self.rt.spawn(async move {
            for track in played {
                library.track_started(service, track).await;
            }
            let _ = tx.send(library.next_track(service).await);
        });
        self.prefetch = Some(rx);
    }

    /// The pick started by [`Self::request_next`], opened, if it has arrived (waiting up to
    /// `wait` for it).
    fn take_prefetched(&mut self, wait: Duration) -> Option<Deck> {
        let rx = self.prefetch.as_ref()?;
        let got = if wait.is_zero() {
            rx.try_recv()
                .map_err(|e| matches!(e, mpsc::TryRecvError::Disconnected))
        } else {
            rx.recv_timeout(wait)
                .map_err(|e| matches!(e, mpsc::RecvTimeoutError::Disconnected))
        };
        match got {
            Ok(Some(track)) => {
                self.prefetch = None;
                self.open(track)
            }
            Ok(None) => {
                // Nothing playable now: ask again in a moment, not at every tick.
                self.prefetch = None;
                self.pick_after = Instant::now() + PICK_RETRY;
                None
            }
            Err(gone) => {
                if gone {
                    self.prefetch = None;
                }
                None
            }
        }
    }

    /// Opens a picked track; a file that will not play is reported to the library (left out
    /// for a while) and another pick is asked for.
    fn open(&mut self, track: Track) -> Option<Deck> {
        let service = self.config.grant.service_id;
        let gain = gain_for(track.loudness_lufs, self.config.target_lufs);
        let opened = self
            .transcoder
            .open_track(&track.path, self.rate)
            .and_then(|r| Deck::new(track.clone(), r, self.rate, gain));
        match opened {
            Ok(deck) if deck.length > 0 => return Some(deck),
            Ok(_) => {
                tracing::warn!(mount = %self.mount_name(), media = track.media_id, "AutoDJ passes over {:?}: no audio between its cue points", track.display());
            }
            Err(e) => {
                tracing::warn!(mount = %self.mount_name(), media = track.media_id, "AutoDJ cannot play {:?}: {e}", track.display());
            }
        }
        self.config.library.track_failed(service, track.media_id);
        self.request_next();
        None
    }

    /// A track to play now (nothing is playing): the pick in flight, else a new one, waited
    /// for (a few, in case files went missing).
    fn load_now(&mut self) -> Option<Deck> {
        for _ in 0..PICK_TRIES {
            self.request_next();
            self.prefetch.as_ref()?;
            if let Some(deck) = self.take_prefetched(PICK_WAIT) {
                return Some(deck);
            }
            if self.prefetch.is_some() {
                return None; // still being picked: silence for now, the next tick sees it
            }
        }
        self.pick_after = Instant::now() + PICK_RETRY;
        None
    }

    /// The title goes out and the library hears of it.
    fn announce(&mut self, track: &Track, mount: &Mount) {
        let title = track.display();
        mount.set_title(&title);
        let service = self.config.grant.service_id;
        self.sources.events.mount_event(MountEvent::Title {
            service_id: service,
            mount: mount.name().to_owned(),
            title: title.clone(),
            at: SystemTime::now(),
            listeners: self.sources.registry.listeners_on(service, mount.name()),
        });
        tracing::info!(mount = %self.mount_name(), %title, "AutoDJ plays");
        // The library hears of it just before the next pick (which must see it).
        self.unrecorded.push(track.clone());
    }

    fn publish_status(&self) {
        let now = self.current.as_ref().map(|d| d.track.clone());
        let next = self.next.as_ref().map(|d| d.track.clone());
        self.set_status(|s| {
            if s.now.as_ref().map(|t| t.media_id) != now.as_ref().map(|t| t.media_id) {
                s.since = now.as_ref().map(|_| SystemTime::now());
            }
            s.now = now;
            s.next = next;
        });
    }

    /// Fills `out` (zeroed) with the next stretch of the station's audio.
    fn render(&mut self, out: &mut [f32], mount: &Mount) {
        let n = out.len() / 2;
        let crossfade_frames = (self.config.crossfade.as_secs_f64() * f64::from(self.rate)) as u64;
        let mut pos = 0usize;
        while pos < n {
            if self.current.is_none() {
                // The incoming track carries on where the crossfade left it (its title went
                // out when the crossfade began); else a new one starts.
                let announced = std::mem::take(&mut self.next_announced);
                let Some(deck) = self.next.take().or_else(|| self.load_now()) else {
                    // Nothing playable: silence (listeners stay) until the library has some.
                    break;
                };
                if !announced {
                    self.announce(&deck.track, mount);
                }
                self.current = Some(deck);
                self.publish_status();
            }
            if self.next.is_none() {
                match self.take_prefetched(Duration::ZERO) {
                    Some(deck) => {
                        self.next = Some(deck);
                        self.publish_status();
                    }
                    None => self.request_next(),
                }
            }
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            // The overlap: the configured length, at most half of either track, and no
            // longer than a skip's fade.
            let xf = match self.next.as_ref() {
                Some(next) => crossfade_frames
                    .min(cur.length / 2)
                    .min(next.length / 2)
                    .min(cur.fade_limit()),
                None => 0,
            };
            let fade_start = cur.length.saturating_sub(xf);
            let slice = &mut out[pos * 2..];
            if cur.played < fade_start {
                let want = ((n - pos) as u64).min(fade_start - cur.played) as usize;
                match cur.mix_into(&mut slice[..want * 2], |_| 1.0) {
                    Ok(got) => pos += got,
                    Err(e) => {
                        tracing::warn!(mount = %self.config.grant.mount, "AutoDJ: {:?} stopped decoding: {e}", cur.track.display());
                        cur.end_in(0);
                    }
                }
                continue;
            }
            if cur.left() == 0 {
                self.current = None;
                continue;
            }
            if !self.next_announced
                && let Some(track) = self.next.as_ref().map(|d| d.track.clone())
            {
                self.next_announced = true;
                self.announce(&track, mount);
            }
            let (Some(cur), Some(next)) = (self.current.as_mut(), self.next.as_mut()) else {
                continue;
            };
            let base = cur.played - fade_start;
            let want = ((n - pos) as u64).min(cur.left()) as usize;
            let span = xf.max(1) as f32;
            let got = match cur.mix_into(&mut slice[..want * 2], |i| {
                crossfade((base + i) as f32 / span).0
            }) {
                Ok(got) => got,
                Err(_) => {
                    cur.end_in(0);
                    0
                }
            };
            if got > 0
                && let Err(e) = next.mix_into(&mut slice[..got * 2], |i| {
                    crossfade((base + i) as f32 / span).1
                })
            {
                tracing::warn!(mount = %self.config.grant.mount, "AutoDJ: {:?} stopped decoding: {e}", next.track.display());
                next.end_in(0);
            }
            pos += got;
        }
        self.limiter.run(out);
        self.watch_for_dead_air(out);
    }

    /// Counts silent output; silence longer than the station's threshold is dead air: it is
    /// logged and counted, and the track is skipped.
    fn watch_for_dead_air(&mut self, out: &[f32]) {
        let silent = out.iter().all(|s| s.abs() < SILENCE);
        if !silent {
            if self.silent_frames > 0 {
                self.silent_frames = 0;
                self.dead_air_reported = false;
                self.set_status(|s| s.silent_since = None);
            }
            return;
        }
        if self.silent_frames == 0 {
            self.set_status(|s| s.silent_since = Some(SystemTime::now()));
        }
        self.silent_frames += (out.len() / 2) as u64;
        let limit = (self.config.dead_air.as_secs_f64() * f64::from(self.rate)) as u64;
        if self.silent_frames < limit.max(1) || self.dead_air_reported {
            return;
        }
        let secs = self.silent_frames as f64 / f64::from(self.rate);
        self.set_status(|s| s.dead_air_events += 1);
        match self.current.as_mut() {
            Some(cur) => {
                tracing::warn!(mount = %self.config.grant.mount, media = cur.track.media_id,
                    "dead air: {secs:.0} s of silence in {:?}; skipping it", cur.track.display());
                cur.end_in(0);
                self.silent_frames = 0;
            }
            None => {
                tracing::warn!(mount = %self.config.grant.mount,
                    "dead air: {secs:.0} s of silence, nothing playable in the station's playlists");
                // Said once per stretch of silence.
                self.dead_air_reported = true;
            }
        }
    }
}
