//! Listeners' song requests.

use sqlx::FromRow;

use super::media::MediaRow;
use super::{Db, now};

/// A request waiting to be played.
#[derive(Debug, Clone, FromRow)]
pub struct Pending {
    pub id: i64,
    pub media_id: i64,
    pub requested_at: i64,
}

pub async fn insert(db: &Db, service_id: i64, media_id: i64, ip: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO song_requests (service_id, media_id, ip, requested_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(service_id)
    .bind(media_id)
    .bind(ip)
    .bind(now())
    .fetch_one(db.pool())
    .await
}

/// Requests from `ip` to this station since `since`.
pub async fn count_by_ip(db: &Db, service_id: i64, ip: &str, since: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM song_requests WHERE service_id = $1 AND ip = $2 AND requested_at >= $3",
    )
    .bind(service_id)
    .bind(ip)
    .bind(since)
    .fetch_one(db.pool())
    .await
}

/// Whether the track is waiting, or was requested or played since `since`.
pub async fn recently(db: &Db, service_id: i64, media_id: i64, since: i64) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM song_requests WHERE service_id = $1 AND media_id = $2 \
           AND (played_at IS NULL OR requested_at >= $3)) \
         + (SELECT COUNT(*) FROM autodj_plays WHERE service_id = $1 AND media_id = $2 AND played_at >= $3)",
    )
    .bind(service_id)
    .bind(media_id)
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

/// The station's waiting requests, oldest first.
pub async fn pending(db: &Db, service_id: i64) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as(
        "SELECT id, media_id, requested_at FROM song_requests \
         WHERE service_id = $1 AND played_at IS NULL ORDER BY requested_at, id LIMIT 100",
    )
    .bind(service_id)
    .fetch_all(db.pool())
    .await
}

/// Marks the oldest waiting request for `media_id` as played.
pub async fn mark_played(db: &Db, service_id: i64, media_id: i64) -> sqlx::Result<()> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM song_requests WHERE service_id = $1 AND media_id = $2 AND played_at IS NULL \
         ORDER BY requested_at, id LIMIT 1",
    )
    .bind(service_id)
    .bind(media_id)
    .fetch_optional(db.pool())
    .await?;
    if let Some(id) = id {
        sqlx::query("UPDATE song_requests SET played_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// The tracks listeners may request: those of the station's enabled playlists that allow
/// requests (listed ones and folder ones), optionally matching `q` in title or artist.
pub async fn requestable(db: &Db, service_id: i64, owner_id: i64) -> sqlx::Result<Vec<MediaRow>> {
    let lists = super::playlists::for_service(db, service_id).await?;
    let mut out: Vec<MediaRow> = Vec::new();
    for p in lists
        .iter()
        .filter(|p| p.enabled != 0 && p.allow_requests != 0)
    {
        let tracks = match p.folder.as_deref() {
            Some(f) => super::media::in_folder(db, owner_id, f).await?,
            None => super::playlists::tracks(db, p.id).await?,
        };
        for t in tracks {
            if t.kind != "image" && !out.iter().any(|o| o.id == t.id) {
                out.push(t);
            }
        }
    }
    out.sort_by(|a, b| {
        a.artist
            .to_lowercase()
            .cmp(&b.artist.to_lowercase())
            .then(a.title.to_lowercase().cmp(&b.title.to_lowercase()))
    });
    Ok(out)
}
