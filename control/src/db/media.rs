//! The media library: one per customer, shared by its services.

use sqlx::{Any, Executor, FromRow};

use super::{Db, now};
use crate::model::media::Visibility;

/// A row of `media`.
#[derive(Debug, Clone, FromRow)]
pub struct MediaRow {
    pub id: i64,
    pub owner_id: i64,
    pub folder: String,
    pub filename: String,
    pub path: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub kind: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_ms: i64,
    pub bitrate_kbps: Option<i64>,
    pub loudness_mlufs: Option<i64>,
    pub cue_in_ms: i64,
    pub cue_out_ms: i64,
    pub cover_path: Option<String>,
    pub created_at: i64,
    /// A video's on-demand ladder: `queued`, `transcoding`, `ready` or `failed`; `None` for
    /// what is not a video.
    pub vod_status: Option<String>,
    pub vod_progress_permille: i64,
    pub vod_error: Option<String>,
    /// The id its player and HLS URLs carry (see [`new_public_id`]).
    pub public_id: String,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
}

/// A new public id: 128 random bits as 32 lowercase hex digits, as migration 0018 made
/// them for the items that were there before.
pub fn new_public_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` is spelled like a public id (anything else is not looked up).
pub fn is_public_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

const COLUMNS: &str = "id, owner_id, folder, filename, path, sha256, size_bytes, kind, title, \
     artist, album, duration_ms, bitrate_kbps, loudness_mlufs, cue_in_ms, cue_out_ms, cover_path, created_at, \
     vod_status, vod_progress_permille, vod_error, public_id, visibility";

/// A file ready to be recorded (its bytes already in place).
#[derive(Debug, Clone)]
pub struct NewMedia<'a> {
    pub owner_id: i64,
    pub folder: &'a str,
    pub filename: &'a str,
    pub path: &'a str,
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub artist: &'a str,
    pub album: &'a str,
    pub duration_ms: i64,
    pub bitrate_kbps: Option<i64>,
    pub loudness_mlufs: Option<i64>,
    pub cue_in_ms: i64,
    pub cue_out_ms: i64,
    pub cover_path: Option<&'a str>,
    pub visibility: Visibility,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    m: &NewMedia<'_>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO media (owner_id, folder, filename, path, sha256, size_bytes, kind, title, \
         artist, album, duration_ms, bitrate_kbps, loudness_mlufs, cue_in_ms, cue_out_ms, cover_path, created_at, \
         public_id, visibility) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
    )
    .bind(m.owner_id)
    .bind(m.folder)
    .bind(m.filename)
    .bind(m.path)
    .bind(m.sha256)
    .bind(m.size_bytes)
    .bind(m.kind)
    .bind(m.title)
    .bind(m.artist)
    .bind(m.album)
    .bind(m.duration_ms)
    .bind(m.bitrate_kbps)
    .bind(m.loudness_mlufs)
    .bind(m.cue_in_ms)
    .bind(m.cue_out_ms)
    .bind(m.cover_path)
    .bind(now())
    .bind(new_public_id())
    .bind(m.visibility.as_str())
    .fetch_one(exec)
    .await
}

pub async fn by_id(db: &Db, owner_id: i64, id: i64) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM media WHERE id = $1 AND owner_id = $2"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(db.pool())
    .await
}

/// Any owner's item by its integer id: the owner's side only (playback checks who asks).
pub async fn any_by_id(db: &Db, id: i64) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM media WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// An item by its public id, whoever owns it (playback decides who may see it).
pub async fn by_public_id(db: &Db, public_id: &str) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM media WHERE public_id = $1"))
        .bind(public_id)
        .fetch_optional(db.pool())
        .await
}

pub async fn by_hash(db: &Db, owner_id: i64, sha256: &str) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM media WHERE owner_id = $1 AND sha256 = $2"
    ))
    .bind(owner_id)
    .bind(sha256)
    .fetch_optional(db.pool())
    .await
}

/// A page of a customer's library (optionally one folder), and the total.
pub async fn list(
    db: &Db,
    owner_id: i64,
    folder: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<MediaRow>, i64)> {
    // Two spellings rather than `$2 IS NULL`: PostgreSQL cannot type an untyped NULL.
    let filter = if folder.is_some() {
        "owner_id = $1 AND folder = $2"
    } else {
        "owner_id = $1 AND $2 = ''"
    };
    let folder = folder.unwrap_or("");
    let rows = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM media WHERE {filter} ORDER BY folder, artist, title, id LIMIT $3 OFFSET $4"
    ))
    .bind(owner_id)
    .bind(folder)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let total = sqlx::query_scalar(sql!("SELECT COUNT(*) FROM media WHERE {filter}"))
        .bind(owner_id)
        .bind(folder)
        .fetch_one(db.pool())
        .await?;
    Ok((rows, total))
}

/// The whole of a customer's library in one folder (a folder playlist's tracks).
pub async fn in_folder(db: &Db, owner_id: i64, folder: &str) -> sqlx::Result<Vec<MediaRow>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM media WHERE owner_id = $1 AND (folder = $2 OR substr(folder, 1, length($3)) = $3) \
         AND kind <> 'image' ORDER BY folder, filename, id"
    ))
    .bind(owner_id)
    .bind(folder)
    .bind(format!("{folder}/"))
    .fetch_all(db.pool())
    .await
}

/// Bytes a customer's library takes.
pub async fn bytes_used<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    owner_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size_bytes + vod_bytes), 0) AS BIGINT) FROM media WHERE owner_id = $1",
    )
    .bind(owner_id)
    .fetch_one(exec)
    .await
}

/// Which of `ids` are in the customer's library.
pub async fn owned(db: &Db, owner_id: i64, ids: &[i64]) -> sqlx::Result<Vec<i64>> {
    // The owner's ids in one query (no array binds in the Any driver), matched here.
    let mine: std::collections::HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM media WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_all(db.pool())
            .await?
            .into_iter()
            .collect();
    Ok(ids.iter().copied().filter(|id| mine.contains(id)).collect())
}

pub async fn delete(db: &Db, owner_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM media WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every library file of every customer, in id order, a page at a time (rescan).
pub async fn page_all(db: &Db, after_id: i64, limit: i64) -> sqlx::Result<Vec<MediaRow>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM media WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(after_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// Every file the library's rows refer to (media files and their cover art), relative to
/// the data folder: what the start-up sweep keeps.
pub async fn all_paths(db: &Db) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT path, cover_path FROM media")
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .into_iter()
        .flat_map(|(path, cover)| std::iter::once(path).chain(cover))
        .collect())
}

pub async fn count_all(db: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM media")
        .fetch_one(db.pool())
        .await
}

/// What a rescan measured again.
#[derive(Debug, Clone)]
pub struct Measured<'a> {
    pub kind: &'a str,
    pub duration_ms: i64,
    pub bitrate_kbps: Option<i64>,
    pub loudness_mlufs: Option<i64>,
    pub cue_in_ms: i64,
    pub cue_out_ms: i64,
}

pub async fn update_measured(db: &Db, id: i64, m: &Measured<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE media SET kind = $1, duration_ms = $2, bitrate_kbps = $3, loudness_mlufs = $4, \
         cue_in_ms = $5, cue_out_ms = $6, \
         vod_status = CASE WHEN $1 = 'video' THEN COALESCE(vod_status, 'queued') ELSE NULL END \
         WHERE id = $7",
    )
    .bind(m.kind)
    .bind(m.duration_ms)
    .bind(m.bitrate_kbps)
    .bind(m.loudness_mlufs)
    .bind(m.cue_in_ms)
    .bind(m.cue_out_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Sets who may play an item.
pub async fn set_visibility(
    db: &Db,
    owner_id: i64,
    id: i64,
    visibility: Visibility,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE media SET visibility = $1 WHERE id = $2 AND owner_id = $3")
        .bind(visibility.as_str())
        .bind(id)
        .bind(owner_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Edits what a customer may change about a file: its tags and its folder.
pub async fn update_tags(
    db: &Db,
    owner_id: i64,
    id: i64,
    title: &str,
    artist: &str,
    album: &str,
    folder: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE media SET title = $1, artist = $2, album = $3, folder = $4 WHERE id = $5 AND owner_id = $6",
    )
    .bind(title)
    .bind(artist)
    .bind(album)
    .bind(folder)
    .bind(id)
    .bind(owner_id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}
