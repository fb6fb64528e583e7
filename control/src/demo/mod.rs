//! `tidecast serve --demo`: a customer `demo` with a radio station playing on AutoDJ and a
//! video channel looping a clip through the engine, so a first run shows Tidecast working
//! within a minute. Idempotent: what exists is kept; what is missing (the tracks, the
//! playlist, AutoDJ, the clip) is made again. The tracks and the clip are synthesised by the
//! transcoder (no download, no licence); the clip is published over RTMP to our own port,
//! exactly as an encoder would, so it goes through admission, packaging and the ladder.

mod publisher;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tidecast_transcoder::demo::{DemoTrack, render_clip, render_track};
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::auth::{password, secret};
use crate::db::services::{self, Kind, Limits, NewService, Service};
use crate::db::users::{self, NewUser, Role, UserChanges};
use crate::db::{Db, audit, playlists};
use crate::media::store::Upload;

pub const USER: &str = "demo";
pub const RADIO: &str = "demo-radio";
pub const TV: &str = "demo-tv";
const FOLDER: &str = "Demo";
const PLAYLIST: &str = "Demo rotation";
const CLIP_SECONDS: u32 = 10;

/// Creates the demo customer and its two services if missing, and gives the customer a
/// new password (printed by [`start`]): a demo's login is meant to be shown.
pub async fn seed_accounts(db: &Db) -> anyhow::Result<String> {
    let pw = secret::random_b64(12).replace(['/', '+'], "x");
    let hash = password::hash(pw.clone()).await?;
    let owner = match users::by_username(db.pool(), USER).await? {
        Some(u) => {
            anyhow::ensure!(
                u.role() == Role::Customer,
                "--demo: a user called `{USER}` exists and is not a customer; rename it first"
            );
            users::update(
                db.pool(),
                u.id,
                &UserChanges {
                    password_hash: Some(hash),
                    email: None,
                    plan_id: None,
                },
            )
            .await?;
            u.id
        }
        None => {
            let id = users::insert(
                db.pool(),
                &NewUser {
                    username: USER,
                    password_hash: &hash,
                    email: None,
                    role: Role::Customer,
                    reseller_id: None,
                    plan_id: None,
                },
            )
            .await?;
            audit(db.pool(), None, "demo.seed", &format!("user {id} ({USER})")).await?;
            id
        }
    };
    let video = Limits {
        dvr_minutes: 60,
        transcode: true,
        ..Kind::Video.default_limits()
    };
    let radio = Limits {
        transcode: true,
        ..Kind::Radio.default_limits()
    };
    for (name, slug, kind, limits) in [
        ("Demo Radio", RADIO, Kind::Radio, radio),
        ("Demo TV", TV, Kind::Video, video),
    ] {
        if services::slug_taken(db.pool(), slug).await? {
            continue;
        }
        let id = services::insert(
            db.pool(),
            &NewService {
                owner_id: owner,
                name,
                slug,
                kind,
                source_password: &secret::source_password(),
                stream_key: &secret::stream_key(),
                limits,
            },
        )
        .await?;
        if kind == Kind::Video {
            // The clip as sent plus a 240p rung (a quality menu to try), and half an hour
            // of DVR (a seek bar): set once, the customer may change them.
            let ladder = crate::model::ladder::Ladder {
                source: true,
                renditions: vec![crate::model::ladder::Rendition {
                    name: "240p".into(),
                    width: Some(426),
                    height: 240,
                    // The clip is simple to code: the source runs near 300 kbit/s.
                    video_kbps: 120,
                    audio_kbps: 48,
                }],
                watermark: None,
                watermark_file: None,
            };
            services::set_transcode(db.pool(), id, Some(&ladder)).await?;
            let dvr = crate::model::dvr::DvrSettings {
                enabled: true,
                window_minutes: 30,
            };
            services::set_dvr(db.pool(), id, Some(&dvr)).await?;
        }
        tracing::info!("demo: created {name} ({slug})");
    }
    Ok(pw)
}

/// Fills the demo station's library and starts AutoDJ, starts looping the clip into the
/// channel, and prints where to look. Runs in the background; problems are logged.
pub fn start(
    state: AppState,
    rtmp: SocketAddr,
    password: String,
    shutdown: CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
) {
    let publishers = tasks.clone();
    tasks.spawn(async move {
        let setup = async {
            if let Err(e) = radio(&state).await {
                tracing::warn!("demo: the radio station could not start: {e:#}");
            }
            match clip(&state.data_dir).await {
                Ok(path) => {
                    // A client of our own RTMP port: it must leave when the server begins
                    // to stop (the engine waits for its connections).
                    publishers.spawn(publisher::run(state.clone(), rtmp, path, shutdown.clone()));
                }
                Err(e) => tracing::warn!("demo: the video clip could not be made: {e:#}"),
            }
            let base = state.links.http_base(None);
            let listen = format!(
                "http://{}:{}/{RADIO}",
                state.links.host(None),
                state.links.icecast_port
            );
            tracing::info!(
                "demo ready — control panel {base}/ (log in as `{USER}`, password `{password}`), \
                 radio player {base}/player/{RADIO}, stream {listen}, video player {base}/player/{TV}"
            );
        };
        tokio::select! {
            () = setup => {}
            () = shutdown.cancelled() => {}
        }
    });
}

async fn service(db: &Db, slug: &str) -> anyhow::Result<Service> {
    services::by_slug(db, slug)
        .await?
        .with_context(|| format!("the demo service {slug} is gone"))
}

/// Three tracks in the library, a playlist of them, AutoDJ on.
async fn radio(state: &AppState) -> anyhow::Result<()> {
    let s = service(&state.db, RADIO).await?;
    if s.is_suspended() {
        anyhow::bail!("{RADIO} is suspended");
    }
    let mut ids = crate::db::media::in_folder(&state.db, s.owner_id, FOLDER)
        .await?
        .iter()
        .map(|m| m.id)
        .collect::<Vec<_>>();
    if ids.is_empty() {
        for (i, track) in tracks().into_iter().enumerate() {
            let filename = format!("{}.mp3", track.title);
            let mut upload = Upload::create(&state.data_dir).await?;
            upload.release();
            let path = upload.path().to_owned();
            tokio::task::spawn_blocking(move || render_track(&path, &track))
                .await?
                .map_err(|e| anyhow::anyhow!(e))?;
            let sha = upload.hash_written().await?;
            let origin = crate::domain::media::Origin {
                folder: FOLDER,
                filename: &filename,
                visibility: crate::model::media::Visibility::default(),
            };
            let (row, _) = crate::domain::media::import(state, &s, origin, &sha, upload)
                .await
                .map_err(anyhow::Error::from)?;
            tracing::info!("demo: made track {} of 3, {filename}", i + 1);
            ids.push(row.id);
        }
    }
    let has_playlist = playlists::for_service(&state.db, s.id)
        .await?
        .iter()
        .any(|p| p.name == PLAYLIST);
    if !has_playlist {
        let mut tx = state.db.pool().begin().await?;
        playlists::insert(
            &mut tx,
            s.id,
            &playlists::PlaylistFields {
                name: PLAYLIST,
                kind: "rotation",
                play_order: "shuffle",
                weight: 5,
                folder: Some(FOLDER),
                schedule: None,
                every_n_songs: None,
                every_n_minutes: None,
                at_minute: None,
                interrupts: false,
                allow_requests: true,
                enabled: true,
            },
            &[],
        )
        .await?;
        tx.commit().await?;
    }
    if !state
        .engine
        .autodj()
        .is_running(tidecast_engine::ServiceId(s.id))
    {
        let mut settings = crate::domain::autodj::settings(&s);
        settings.enabled = true;
        services::set_autodj(state.db.pool(), s.id, &settings).await?;
        let s = service(&state.db, RADIO).await?;
        crate::domain::autodj::run(state, &s).await?;
    }
    Ok(())
}

fn tracks() -> Vec<DemoTrack> {
    // C major, A minor, F major and G major moods; a minute each.
    let track = |title: &str, notes: &[f32], bass: &[f32]| DemoTrack {
        title: title.to_owned(),
        artist: "Tidecast Demo Band".to_owned(),
        notes: notes.to_vec(),
        bass: bass.to_vec(),
        seconds: 60,
    };
    vec![
        track(
            "Harbour Lights",
            &[523.3, 659.3, 784.0, 659.3, 587.3, 698.5, 880.0, 698.5],
            &[130.8, 174.6, 196.0, 130.8],
        ),
        track(
            "Low Tide",
            &[440.0, 523.3, 659.3, 523.3, 493.9, 587.3, 659.3, 587.3],
            &[110.0, 146.8, 164.8, 110.0],
        ),
        track(
            "Seafoam",
            &[698.5, 880.0, 1046.5, 880.0, 784.0, 987.8, 1174.7, 987.8],
            &[174.6, 196.0, 130.8, 174.6],
        ),
    ]
}

/// The clip the channel loops, made once into the data folder.
async fn clip(data: &Path) -> anyhow::Result<PathBuf> {
    let dir = data.join("demo");
    let path = dir.join("clip.flv");
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() > 0) {
        return Ok(path);
    }
    tokio::fs::create_dir_all(&dir).await?;
    let partial = dir.join("clip.flv.partial");
    let p = partial.clone();
    tokio::task::spawn_blocking(move || render_clip(&p, CLIP_SECONDS))
        .await?
        .map_err(|e| anyhow::anyhow!(e))?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}
