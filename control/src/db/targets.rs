//! Publish targets of a service (restreams).

use sqlx::FromRow;

use super::{Db, now};

#[derive(Debug, Clone, FromRow)]
pub struct Target {
    pub id: i64,
    pub service_id: i64,
    pub kind: String,
    pub host: String,
    pub port: i64,
    pub mount: String,
    pub username: String,
    pub secret: String,
    pub created_at: i64,
    /// `rtmps://` (1).
    pub tls: i64,
    /// Video: the rendition sent (`None`: the source as it comes).
    pub rendition: Option<String>,
    /// Radio to an RTMP target: the picture (`api::targets::VideoSettings` as JSON).
    pub video_json: Option<String>,
}

const COLUMNS: &str = "id, service_id, kind, host, port, mount, username, secret, created_at, tls, rendition, video_json";

/// A new target's fields.
#[derive(Debug)]
pub struct NewTarget<'a> {
    pub kind: &'a str,
    pub host: &'a str,
    pub port: i64,
    pub mount: &'a str,
    pub username: &'a str,
    pub secret: &'a str,
    pub tls: bool,
    pub rendition: Option<&'a str>,
    pub video_json: Option<&'a str>,
}

pub async fn insert(db: &Db, service_id: i64, t: &NewTarget<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO publish_targets (service_id, kind, host, port, mount, username, secret, created_at, tls, rendition, video_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(service_id)
    .bind(t.kind)
    .bind(t.host)
    .bind(t.port)
    .bind(t.mount)
    .bind(t.username)
    .bind(t.secret)
    .bind(now())
    .bind(i64::from(t.tls))
    .bind(t.rendition)
    .bind(t.video_json)
    .fetch_one(db.pool())
    .await
}

pub async fn of_service(db: &Db, service_id: i64) -> sqlx::Result<Vec<Target>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM publish_targets WHERE service_id = $1 ORDER BY id"
    )))
    .bind(service_id)
    .fetch_all(db.pool())
    .await
}

pub async fn all(db: &Db) -> sqlx::Result<Vec<Target>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM publish_targets ORDER BY id"
    )))
    .fetch_all(db.pool())
    .await
}

pub async fn delete(db: &Db, service_id: i64, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM publish_targets WHERE id = $1 AND service_id = $2")
        .bind(id)
        .bind(service_id)
        .execute(db.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}
