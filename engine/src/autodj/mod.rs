//! AutoDJ: a station's automated playout inside the engine (no Liquidsoap process).
//!
//! The control plane decides *what* plays ([`Library::next_track`]: playlists, rotation,
//! repeat protection); the engine plays it: each station runs one thread that decodes
//! tracks through the transcoder's [`TrackReader`](crate::transcode::TrackReader),
//! normalises their loudness, crossfades between them on their cue points, limits peaks,
//! encodes with the transcoder's [`PcmEncoder`](crate::transcode::PcmEncoder) in the
//! mount's format and feeds the station's primary mount as its lowest-priority source, at
//! the pace of the wall clock. A live source (the station's login or a DJ) takes the mount
//! over at once; AutoDJ then idles and resumes with a fresh track when the mount is free.

mod deck;
mod mix;
mod playout;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use crate::Engine;
use crate::admission::{BoxFuture, Grant, ServiceId};
use crate::transcode::AudioCodec;

/// A track AutoDJ may play, as the library describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub media_id: i64,
    pub path: PathBuf,
    pub title: String,
    pub artist: String,
    pub album: String,
    /// Integrated loudness measured at import (EBU R128).
    pub loudness_lufs: Option<f64>,
    /// Where the sound starts and ends in the file.
    pub cue_in_s: f64,
    pub cue_out_s: f64,
}

impl Track {
    /// `Artist - Title`, as ICY metadata carries it.
    pub fn display(&self) -> String {
        match (self.artist.trim(), self.title.trim()) {
            ("", t) => t.to_owned(),
            (a, "") => a.to_owned(),
            (a, t) => format!("{a} - {t}"),
        }
    }
}

/// What AutoDJ asks of the outside world (the control plane's media library).
pub trait Library: Send + Sync + 'static {
    /// The next track for `service`, chosen by its playlists; `None` when it has nothing
    /// playable.
    fn next_track(&self, service: ServiceId) -> BoxFuture<'_, Option<Track>>;
    /// `track` started playing on air (history, repeat protection).
    fn track_started(&self, service: ServiceId, track: Track) -> BoxFuture<'_, ()>;
    /// `media_id` could not be played (its file is missing or broken): leave it out for a
    /// while, so a station whose next pick is always that file does not fall silent.
    fn track_failed(&self, _service: ServiceId, _media_id: i64) {}
    /// Whether something must cut into the track playing now (news at the top of the hour):
    /// AutoDJ then fades the track out and asks for the next one at once.
    fn interrupt_due(&self, _service: ServiceId) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}

/// How a station's AutoDJ plays.
#[derive(Clone)]
pub struct StationConfig {
    /// The station's primary mount, limits, HLS settings and ladder (as for its own source
    /// login), with AutoDJ's label.
    pub grant: Grant,
    /// The station's name (the stream's `icy-name`).
    pub name: String,
    pub codec: AudioCodec,
    pub kbps: u32,
    pub crossfade: Duration,
    /// Loudness every track is brought to (LUFS).
    pub target_lufs: f64,
    /// Silence longer than this inside a track is dead air: logged, counted, skipped.
    pub dead_air: Duration,
    pub library: Arc<dyn Library>,
}

impl std::fmt::Debug for StationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationConfig")
            .field("mount", &self.grant.mount)
            .field("codec", &self.codec)
            .field("kbps", &self.kbps)
            .finish_non_exhaustive()
    }
}

/// What a station's AutoDJ is doing, for the stats and now-playing APIs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Its audio is what listeners hear (no live source has the mount).
    pub on_air: bool,
    pub now: Option<Track>,
    pub since: Option<SystemTime>,
    pub next: Option<Track>,
    /// Since when its output has been silent (below −50 dBFS), if it is now.
    pub silent_since: Option<SystemTime>,
    /// Dead air found (silence longer than the station's threshold), each skipped past.
    pub dead_air_events: u64,
}

/// Why AutoDJ did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoDjError {
    #[error("this server has no transcoder (FFmpeg), which AutoDJ needs to decode and encode")]
    NoTranscoder,
    #[error("AutoDJ could not start its thread: {0}")]
    Thread(String),
}

enum Command {
    Skip,
    Stop,
}

struct Station {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<Status>>,
    /// Tells this run apart from a later one of the same station.
    run: u64,
}

/// The stations whose AutoDJ runs.
#[derive(Default)]
pub struct AutoDj {
    stations: Mutex<HashMap<ServiceId, Station>>,
    runs: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for AutoDj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoDj")
            .field("stations", &self.lock().len())
            .finish()
    }
}

impl AutoDj {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ServiceId, Station>> {
        self.stations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts (or restarts, with `config`) a station's AutoDJ. Must be called from within
    /// the Tokio runtime (its thread reaches the library and the station's HLS through it).
    pub fn start(&self, engine: &Engine, config: StationConfig) -> Result<(), AutoDjError> {
        let transcoder = engine
            .transcoder()
            .cloned()
            .ok_or(AutoDjError::NoTranscoder)?;
        let service = config.grant.service_id;
        self.stop(service);
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(Status::default()));
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let playout = playout::Playout::new(
            engine.sources(),
            config,
            transcoder,
            Arc::clone(&status),
            rx,
            tokio::runtime::Handle::current(),
        );
        let autodj = engine.autodj_handle();
        std::thread::Builder::new()
            .name(format!("autodj-{}", service.0))
            .spawn(move || {
                playout.run();
                // Forget the station unless a newer run replaced it meanwhile.
                let mut map = autodj.lock();
                if map.get(&service).is_some_and(|s| s.run == run) {
                    map.remove(&service);
                }
            })
            .map_err(|e| AutoDjError::Thread(e.to_string()))?;
        self.lock().insert(
            service,
            Station {
                commands: tx,
                status,
                run,
            },
        );
        Ok(())
    }

    /// Stops a station's AutoDJ; returns whether it was running.
    pub fn stop(&self, service: ServiceId) -> bool {
        match self.lock().remove(&service) {
            Some(station) => {
                let _ = station.commands.send(Command::Stop);
                true
            }
            None => false,
        }
    }

    /// Fades the current track out and plays the next; returns whether AutoDJ runs.
    pub fn skip(&self, service: ServiceId) -> bool {
        self.lock()
            .get(&service)
            .is_some_and(|s| s.commands.send(Command::Skip).is_ok())
    }

    /// The station's AutoDJ status, if it runs.
    pub fn status(&self, service: ServiceId) -> Option<Status> {
        self.lock()
            .get(&service)
            .map(|s| s.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Every running station and its status.
    pub fn all(&self) -> Vec<(ServiceId, Status)> {
        self.lock()
            .iter()
            .map(|(id, s)| {
                (
                    *id,
                    s.status.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                )
            })
            .collect()
    }

    pub fn is_running(&self, service: ServiceId) -> bool {
        self.lock().contains_key(&service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_artist_and_title() {
        let mut t = Track {
            media_id: 1,
            path: "a".into(),
            title: "Song".into(),
            artist: "Band".into(),
            album: String::new(),
            loudness_lufs: None,
            cue_in_s: 0.0,
            cue_out_s: 1.0,
        };
        assert_eq!(t.display(), "Band - Song");
        t.artist.clear();
        assert_eq!(t.display(), "Song");
    }
}
