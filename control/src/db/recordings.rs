//! Recordings: DVR exports and recorded DJ sets, each on its way to (or in) the media
//! library.

use sqlx::FromRow;

use super::{Db, now};

#[derive(Debug, Clone, FromRow)]
pub struct Recording {
    pub id: i64,
    pub service_id: i64,
    pub kind: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub status: String,
    pub progress_permille: i64,
    pub label: String,
    pub media_id: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    /// A set being recorded: its file, relative to the data folder.
    pub file: Option<String>,
}

const COLUMNS: &str = "id, service_id, kind, from_ms, to_ms, status, progress_permille, label, \
    media_id, error, created_at, file";

/// A recording starting out (`exporting`, or `recording` into `file`).
pub async fn insert(
    db: &Db,
    service_id: i64,
    kind: &str,
    span: (i64, i64),
    status: &str,
    label: &str,
    file: Option<&str>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO recordings (service_id, kind, from_ms, to_ms, status, progress_permille, label, created_at, file) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) RETURNING id",
    )
    .bind(service_id)
    .bind(kind)
    .bind(span.0)
    .bind(span.1)
    .bind(status)
    .bind(label)
    .bind(now())
    .bind(file)
    .fetch_one(db.pool())
    .await
}

pub async fn by_id(db: &Db, service_id: i64, id: i64) -> sqlx::Result<Option<Recording>> {
    let select = sql!("SELECT {COLUMNS} FROM recordings WHERE service_id = $1 AND id = $2");
    super::row(db.pool(), select, &[service_id, id]).await
}

/// A service's recordings, newest first.
pub async fn list(db: &Db, service_id: i64) -> sqlx::Result<Vec<Recording>> {
    let select =
        sql!("SELECT {COLUMNS} FROM recordings WHERE service_id = $1 ORDER BY id DESC LIMIT 500");
    super::select(select, &[service_id])
        .fetch_all(db.pool())
        .await
}

/// Recordings a stop of the server interrupted, oldest first.
/// Recordings of `kind` a stop cut short (still exporting or recording), logging a failure
/// to read them as such (they are looked at again at the next start).
pub async fn unfinished(db: &Db, kind: &str) -> Vec<Recording> {
    let rows = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM recordings WHERE status IN ('exporting', 'recording') \
         AND kind = $1 ORDER BY id"
    ))
    .bind(kind)
    .fetch_all(db.pool())
    .await;
    rows.unwrap_or_else(|e| {
        tracing::error!("cannot list unfinished recordings: {e}");
        Vec::new()
    })
}

pub async fn set_progress(db: &Db, id: i64, permille: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE recordings SET progress_permille = $2 WHERE id = $1")
        .bind(id)
        .bind(permille.clamp(0, 1000))
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// The span a recording covers, as it grows (a set) or as exported (whole segments).
pub async fn set_span(db: &Db, id: i64, from_ms: i64, to_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE recordings SET from_ms = $2, to_ms = $3 WHERE id = $1")
        .bind(id)
        .bind(from_ms)
        .bind(to_ms)
        .execute(db.pool())
        .await
        .map(|_| ())
}

pub async fn done(db: &Db, id: i64, media_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE recordings SET status = 'done', progress_permille = 1000, media_id = $2, error = NULL, file = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(media_id)
    .execute(db.pool())
    .await
    .map(|_| ())
}

pub async fn failed(db: &Db, id: i64, why: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE recordings SET status = 'failed', error = $2, file = NULL WHERE id = $1")
        .bind(id)
        .bind(why)
        .execute(db.pool())
        .await
        .map(|_| ())
}
