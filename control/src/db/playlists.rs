//! AutoDJ playlists of a station and their tracks, and the plays AutoDJ made.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Transaction};

use super::{Db, now};
use crate::model::Stored;
use crate::model::calendar::Calendar;

/// A playlist as stored, its calendar decoded.
#[derive(Debug, Clone)]
pub struct PlaylistRow {
    pub id: i64,
    pub service_id: i64,
    pub name: String,
    pub kind: String,
    pub play_order: String,
    pub weight: i64,
    pub folder: Option<String>,
    /// Scheduled playlists: when they play.
    pub schedule: Stored<Calendar>,
    pub every_n_songs: Option<i64>,
    pub every_n_minutes: Option<i64>,
    pub at_minute: Option<i64>,
    pub interrupts: i64,
    pub allow_requests: i64,
    pub enabled: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct Raw {
    id: i64,
    service_id: i64,
    name: String,
    kind: String,
    play_order: String,
    weight: i64,
    folder: Option<String>,
    schedule_json: Option<String>,
    every_n_songs: Option<i64>,
    every_n_minutes: Option<i64>,
    at_minute: Option<i64>,
    interrupts: i64,
    allow_requests: i64,
    enabled: i64,
    created_at: i64,
    updated_at: i64,
}

impl<'r> FromRow<'r, AnyRow> for PlaylistRow {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let r = Raw::from_row(row)?;
        Ok(Self {
            schedule: Stored::decode(
                || format!("playlist {} ({})", r.id, r.name),
                "playlist calendar",
                r.schedule_json.as_deref(),
            ),
            id: r.id,
            service_id: r.service_id,
            name: r.name,
            kind: r.kind,
            play_order: r.play_order,
            weight: r.weight,
            folder: r.folder,
            every_n_songs: r.every_n_songs,
            every_n_minutes: r.every_n_minutes,
            at_minute: r.at_minute,
            interrupts: r.interrupts,
            allow_requests: r.allow_requests,
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A calendar as the column stores it.
fn calendar_json(c: Option<&Calendar>) -> sqlx::Result<Option<String>> {
    c.map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(e.into()))
}

const COLUMNS: &str = "id, service_id, name, kind, play_order, weight, folder, schedule_json, \
     every_n_songs, every_n_minutes, at_minute, interrupts, allow_requests, enabled, created_at, \
     updated_at";

/// A playlist as the API saves it.
#[derive(Debug, Clone)]
pub struct PlaylistFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub play_order: &'a str,
    pub weight: i64,
    pub folder: Option<&'a str>,
    pub schedule: Option<&'a Calendar>,
    pub every_n_songs: Option<i64>,
    pub every_n_minutes: Option<i64>,
    pub at_minute: Option<i64>,
    pub interrupts: bool,
    pub allow_requests: bool,
    pub enabled: bool,
}

/// Saves a new playlist with its tracks, inside the caller's transaction.
pub async fn insert(
    tx: &mut Transaction<'_, Any>,
    service_id: i64,
    p: &PlaylistFields<'_>,
    media: &[i64],
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (service_id, name, kind, play_order, weight, folder, schedule_json, \
         every_n_songs, every_n_minutes, at_minute, interrupts, allow_requests, enabled, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(service_id)
    .bind(p.name)
    .bind(p.kind)
    .bind(p.play_order)
    .bind(p.weight)
    .bind(p.folder)
    .bind(calendar_json(p.schedule)?)
    .bind(p.every_n_songs)
    .bind(p.every_n_minutes)
    .bind(p.at_minute)
    .bind(i64::from(p.interrupts))
    .bind(i64::from(p.allow_requests))
    .bind(i64::from(p.enabled))
    .bind(now())
    .fetch_one(&mut **tx)
    .await?;
    set_items(tx, id, media).await?;
    Ok(id)
}

/// Replaces a playlist's fields (and, when given, its tracks), inside the caller's
/// transaction.
pub async fn update(
    tx: &mut Transaction<'_, Any>,
    service_id: i64,
    id: i64,
    p: &PlaylistFields<'_>,
    media: Option<&[i64]>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE playlists SET name = $1, kind = $2, play_order = $3, weight = $4, folder = $5, \
         schedule_json = $6, every_n_songs = $7, every_n_minutes = $8, at_minute = $9, interrupts = $10, \
         allow_requests = $11, enabled = $12, updated_at = $13 WHERE id = $14 AND service_id = $15",
    )
    .bind(p.name)
    .bind(p.kind)
    .bind(p.play_order)
    .bind(p.weight)
    .bind(p.folder)
    .bind(calendar_json(p.schedule)?)
    .bind(p.every_n_songs)
    .bind(p.every_n_minutes)
    .bind(p.at_minute)
    .bind(i64::from(p.interrupts))
    .bind(i64::from(p.allow_requests))
    .bind(i64::from(p.enabled))
    .bind(now())
    .bind(id)
    .bind(service_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(media) = media {
        sqlx::query("DELETE FROM playlist_items WHERE playlist_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        set_items(tx, id, media).await?;
    }
    Ok(true)
}

async fn set_items(
    tx: &mut sqlx::AnyConnection,
    playlist_id: i64,
    media: &[i64],
) -> sqlx::Result<()> {
    for (pos, mid) in media.iter().enumerate() {
        sqlx::query(
            "INSERT INTO playlist_items (playlist_id, position, media_id) VALUES ($1, $2, $3)",
        )
        .bind(playlist_id)
        .bind(pos as i64)
        .bind(mid)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn by_id(db: &Db, service_id: i64, id: i64) -> sqlx::Result<Option<PlaylistRow>> {
    let select = sql!("SELECT {COLUMNS} FROM playlists WHERE id = $1 AND service_id = $2");
    super::row(db.pool(), select, &[id, service_id]).await
}

pub async fn for_service(db: &Db, service_id: i64) -> sqlx::Result<Vec<PlaylistRow>> {
    let select = sql!("SELECT {COLUMNS} FROM playlists WHERE service_id = $1 ORDER BY id");
    super::select(select, &[service_id])
        .fetch_all(db.pool())
        .await
}

/// A playlist's tracks in order (media ids).
pub async fn items(db: &Db, playlist_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT media_id FROM playlist_items WHERE playlist_id = $1 ORDER BY position",
    )
    .bind(playlist_id)
    .fetch_all(db.pool())
    .await
}

pub async fn delete<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    service_id: i64,
    id: i64,
) -> sqlx::Result<bool> {
    super::delete_where(exec, "playlists", &[("id", id), ("service_id", service_id)]).await
}

/// A track AutoDJ played.
#[derive(Debug, Clone, FromRow)]
pub struct PlayRow {
    pub media_id: Option<i64>,
    pub playlist_id: Option<i64>,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub played_at: i64,
}

pub async fn record_play<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    service_id: i64,
    play: &PlayRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO autodj_plays (service_id, media_id, playlist_id, title, artist, album, played_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(service_id)
    .bind(play.media_id)
    .bind(play.playlist_id)
    .bind(&play.title)
    .bind(&play.artist)
    .bind(&play.album)
    .bind(play.played_at)
    .execute(exec)
    .await?;
    Ok(())
}

/// The station's plays since `since` (unix seconds), newest first.
pub async fn plays_since(db: &Db, service_id: i64, since: i64) -> sqlx::Result<Vec<PlayRow>> {
    sqlx::query_as(
        "SELECT media_id, playlist_id, title, artist, album, played_at FROM autodj_plays \
         WHERE service_id = $1 AND played_at >= $2 ORDER BY played_at DESC, id DESC LIMIT 1000",
    )
    .bind(service_id)
    .bind(since)
    .fetch_all(db.pool())
    .await
}

/// A playlist's tracks in order, with what AutoDJ needs of each.
pub async fn tracks(db: &Db, playlist_id: i64) -> sqlx::Result<Vec<super::media::MediaRow>> {
    sqlx::query_as(
        "SELECT m.id, m.owner_id, m.folder, m.filename, m.path, m.sha256, m.size_bytes, m.kind, \
         m.title, m.artist, m.album, m.duration_ms, m.bitrate_kbps, m.loudness_mlufs, m.cue_in_ms, \
         m.cue_out_ms, m.cover_path, m.created_at, \
         m.vod_status, m.vod_progress_permille, m.vod_error, m.public_id, m.visibility FROM playlist_items i JOIN media m ON m.id = i.media_id \
         WHERE i.playlist_id = $1 ORDER BY i.position",
    )
    .bind(playlist_id)
    .fetch_all(db.pool())
    .await
}
