//! The engine's AutoDJ [`Library`], answered from the database: the station's playlists
//! and recent plays go through [`pick`](super::pick), the chosen file comes back as a track.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use tidecast_engine::ServiceId;
use tidecast_engine::admission::BoxFuture;
use tidecast_engine::autodj::{Library, Track};

use super::pick::{self, Item, Kind, Order, Play, Playlist, Trigger, Windows};
use crate::db::media::MediaRow;
use crate::db::playlists::{self, PlayRow, PlaylistRow};
use crate::db::{Db, media, now, requests, services};
use crate::model::calendar::Calendar;

/// How far back repeat protection and interval counting look.
const HISTORY_SECS: i64 = 3 * 60 * 60;

/// AutoDJ's library from the database.
#[derive(Debug)]
pub struct DbLibrary {
    db: Db,
    data_dir: PathBuf,
    /// The playlist each station's picks came from, until they go on air (history).
    picked_from: Mutex<HashMap<(i64, i64), i64>>,
    /// Tracks that would not play (missing or broken file), left out of picks for a while.
    failed: Mutex<HashMap<(i64, i64), std::time::Instant>>,
}

/// How long a track that would not play is left out of picks.
const FAILED_PAUSE: std::time::Duration = std::time::Duration::from_secs(600);

impl DbLibrary {
    pub fn new(db: Db, data_dir: PathBuf) -> Self {
        Self {
            db,
            data_dir,
            picked_from: Mutex::default(),
            failed: Mutex::default(),
        }
    }

    fn recently_failed(&self, service: ServiceId, media: i64) -> bool {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(service.0, media))
            .is_some_and(|at| at.elapsed() < FAILED_PAUSE)
    }

    /// The station's playlists as the picker sees them, the rows behind their tracks, and
    /// its recent plays; `None` if the station is gone.
    async fn load(&self, service: ServiceId) -> sqlx::Result<Option<Loaded>> {
        let Some(svc) = services::by_id(self.db.pool(), service.0).await? else {
            return Ok(None);
        };
        let now_utc = chrono::Utc::now();
        let mut lists = Vec::new();
        let mut rows: HashMap<i64, MediaRow> = HashMap::new();
        for p in playlists::for_service(&self.db, service.0).await? {
            if p.enabled == 0 {
                continue;
            }
            let tracks = match p.folder.as_deref() {
                Some(folder) => media::in_folder(&self.db, svc.owner_id, folder).await?,
                None => playlists::tracks(&self.db, p.id).await?,
            };
            let items = tracks
                .iter()
                .filter(|m| m.kind != "image" && !self.recently_failed(service, m.id))
                .map(|m| Item {
                    media_id: m.id,
                    artist: m.artist.clone(),
                    album: m.album.clone(),
                })
                .collect();
            for m in tracks {
                rows.insert(m.id, m);
            }
            lists.push(as_playlist(&p, items, now_utc));
        }
        let t = now();
        let recent: Vec<Play> = playlists::plays_since(&self.db, service.0, t - HISTORY_SECS)
            .await?
            .into_iter()
            .map(|r| Play {
                media_id: r.media_id,
                playlist_id: r.playlist_id,
                artist: r.artist,
                album: r.album,
                ago: t - r.played_at,
            })
            .collect();
        Ok(Some(Loaded {
            owner_id: svc.owner_id,
            lists,
            rows,
            recent,
            hour_secs: t.rem_euclid(3600),
        }))
    }

    async fn next(&self, service: ServiceId) -> sqlx::Result<Option<Track>> {
        let Some(mut l) = self.load(service).await? else {
            return Ok(None);
        };
        // A listener's request goes first, if its track may still be requested, unless an
        // interval playlist (an ID, the news) is due: that comes before everything.
        let waiting = requests::pending(&self.db, service.0).await?;
        if !waiting.is_empty() && !pick::interval_due(&l.lists, &l.recent, l.hour_secs) {
            let allowed = requests::requestable(&self.db, service.0, l.owner_id).await?;
            for r in waiting {
                if let Some(m) = allowed.iter().find(|m| m.id == r.media_id) {
                    return Ok(Some(track_of(m, &self.data_dir)));
                }
                // No longer requestable (playlist changed): it will not play.
                requests::mark_played(&self.db, service.0, r.media_id).await?;
            }
        }
        let Some(choice) = pick::pick(
            &l.lists,
            &l.recent,
            Windows::default(),
            l.hour_secs,
            &mut rand::rng(),
        ) else {
            return Ok(None);
        };
        let Some(m) = l.rows.remove(&choice.media_id) else {
            return Ok(None);
        };
        self.picked_from
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((service.0, m.id), choice.playlist_id);
        Ok(Some(track_of(&m, &self.data_dir)))
    }

    async fn started(&self, service: ServiceId, track: &Track) -> sqlx::Result<()> {
        let playlist = self
            .picked_from
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(service.0, track.media_id));
        requests::mark_played(&self.db, service.0, track.media_id).await?;
        playlists::record_play(
            self.db.pool(),
            service.0,
            &PlayRow {
                media_id: Some(track.media_id),
                playlist_id: playlist,
                title: track.title.clone(),
                artist: track.artist.clone(),
                album: track.album.clone(),
                played_at: now(),
            },
        )
        .await
    }
}

/// What the picker works from.
struct Loaded {
    owner_id: i64,
    lists: Vec<Playlist>,
    rows: HashMap<i64, MediaRow>,
    recent: Vec<Play>,
    /// Seconds since the top of the hour (UTC).
    hour_secs: i64,
}

/// A stored playlist as the picker sees it.
fn as_playlist(p: &PlaylistRow, items: Vec<Item>, now: chrono::DateTime<chrono::Utc>) -> Playlist {
    // An unreadable calendar (reported where the row was read) schedules nothing.
    let calendar: Option<Calendar> = p.schedule.get().cloned();
    let n = |v: i64| u32::try_from(v).unwrap_or(1);
    let kind = match (
        p.kind.as_str(),
        p.every_n_songs,
        p.every_n_minutes,
        p.at_minute,
    ) {
        ("interval", Some(songs), _, _) => Kind::Interval(Trigger::Songs(n(songs).max(1))),
        ("interval", _, Some(mins), _) => Kind::Interval(Trigger::Minutes(n(mins).max(1))),
        ("interval", _, _, Some(m)) => Kind::Interval(Trigger::AtMinute(n(m).min(59))),
        ("scheduled", ..) => Kind::Scheduled,
        _ => Kind::Rotation,
    };
    Playlist {
        id: p.id,
        kind,
        order: match p.play_order.as_str() {
            "sequential" => Order::Sequential,
            "random" => Order::Random,
            _ => Order::Shuffle,
        },
        weight: u32::try_from(p.weight).unwrap_or(1),
        interrupts: p.interrupts != 0,
        // A scheduled playlist needs its slot; a rotation one with hours keeps to them.
        on: match (&calendar, kind) {
            (Some(c), _) => c.is_on(now),
            (None, Kind::Scheduled) => false,
            (None, _) => true,
        },
        items,
    }
}

/// A library row as a track the engine can play.
pub fn track_of(m: &MediaRow, data_dir: &std::path::Path) -> Track {
    let title = if m.title.is_empty() {
        m.filename.clone()
    } else {
        m.title.clone()
    };
    Track {
        media_id: m.id,
        path: data_dir.join(&m.path),
        title,
        artist: m.artist.clone(),
        album: m.album.clone(),
        loudness_lufs: m.loudness_mlufs.map(|l| l as f64 / 1000.0),
        cue_in_s: m.cue_in_ms as f64 / 1000.0,
        cue_out_s: m.cue_out_ms as f64 / 1000.0,
    }
}

impl Library for DbLibrary {
    fn next_track(&self, service: ServiceId) -> BoxFuture<'_, Option<Track>> {
        Box::pin(async move {
            match self.next(service).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(
                        service = service.0,
                        "AutoDJ could not read its playlists: {e}"
                    );
                    None
                }
            }
        })
    }

    fn track_failed(&self, service: ServiceId, media_id: i64) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.retain(|_, at| at.elapsed() < FAILED_PAUSE);
        failed.insert((service.0, media_id), std::time::Instant::now());
    }

    fn interrupt_due(&self, service: ServiceId) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            match self.load(service).await {
                Ok(Some(l)) => pick::interrupt_due(&l.lists, &l.recent, l.hour_secs),
                Ok(None) => false,
                Err(e) => {
                    tracing::error!(
                        service = service.0,
                        "AutoDJ could not read its playlists: {e}"
                    );
                    false
                }
            }
        })
    }

    fn track_started(&self, service: ServiceId, track: Track) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.started(service, &track).await {
                tracing::error!(service = service.0, "AutoDJ could not record a play: {e}");
            }
        })
    }
}
