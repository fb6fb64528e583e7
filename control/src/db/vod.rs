//! The on-demand video queue: videos of the media library waiting for, or done with, their
//! HLS ladder (`media.vod_*`).

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::Db;
use crate::model::Stored;
use crate::model::ladder::Rendition;

/// A video waiting for its ladder.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub owner_id: i64,
    pub path: String,
    pub filename: String,
    /// The rungs chosen when it was queued; unset: the default ladder.
    pub rungs: Stored<Vec<Rendition>>,
}

impl<'r> FromRow<'r, AnyRow> for Queued {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        let id: i64 = row.try_get("id")?;
        let ladder: Option<String> = row.try_get("vod_ladder")?;
        Ok(Self {
            id,
            owner_id: row.try_get("owner_id")?,
            path: row.try_get("path")?,
            filename: row.try_get("filename")?,
            rungs: Stored::decode(
                || format!("media {id}"),
                "on-demand ladder",
                ladder.as_deref(),
            ),
        })
    }
}

/// Puts a video in the queue with the rungs to make.
pub async fn queue(db: &Db, id: i64, rungs: &[Rendition]) -> sqlx::Result<()> {
    let json = serde_json::to_string(rungs).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "UPDATE media SET vod_status = 'queued', vod_progress_permille = 0, vod_error = NULL, \
         vod_ladder = $1 WHERE id = $2",
    )
    .bind(json)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The oldest queued video, marked as being transcoded.
pub async fn take_next(db: &Db) -> sqlx::Result<Option<Queued>> {
    let next: Option<Queued> = sqlx::query_as(
        "SELECT id, owner_id, path, filename, vod_ladder FROM media \
         WHERE vod_status = 'queued' ORDER BY id LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    if let Some(q) = &next {
        sqlx::query(
            "UPDATE media SET vod_status = 'transcoding', vod_progress_permille = 0 WHERE id = $1",
        )
        .bind(q.id)
        .execute(db.pool())
        .await?;
    }
    Ok(next)
}

pub async fn set_progress(db: &Db, id: i64, permille: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE media SET vod_progress_permille = $1 WHERE id = $2")
        .bind(permille)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The ladder is on disk; `false` if the video was deleted meanwhile.
pub async fn ready(db: &Db, id: i64, bytes: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE media SET vod_status = 'ready', vod_progress_permille = 1000, vod_error = NULL, \
         vod_bytes = $1 WHERE id = $2",
    )
    .bind(bytes)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn failed(db: &Db, id: i64, why: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE media SET vod_status = 'failed', vod_error = $1, vod_bytes = 0 WHERE id = $2",
    )
    .bind(why)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Transcodes a stop cut short go back to the queue (at start).
pub async fn requeue_interrupted(db: &Db) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE media SET vod_status = 'queued', vod_progress_permille = 0 \
         WHERE vod_status = 'transcoding'",
    )
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// The server's secret for `purpose`: `fresh` is stored at the first call (the caller makes
/// it, e.g. 256 random bits), and the stored one is returned ever after.
pub async fn server_secret(db: &Db, purpose: &str, fresh: &str) -> sqlx::Result<String> {
    // Two servers on one database (or two first requests) may both try: the first insert
    // wins and both read the same secret back.
    sqlx::query(
        "INSERT INTO server_secrets (purpose, secret, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (purpose) DO NOTHING",
    )
    .bind(purpose)
    .bind(fresh)
    .bind(super::now())
    .execute(db.pool())
    .await?;
    sqlx::query_scalar("SELECT secret FROM server_secrets WHERE purpose = $1")
        .bind(purpose)
        .fetch_one(db.pool())
        .await
}
