//! Publish targets of a service (restreams).

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::{Db, now, unknown_value};
use crate::model::target::StoredVideo;
use crate::model::{Stored, TargetKind};

/// A target as stored. `secret` (a password or stream key) is never logged: `Debug` hides it.
#[derive(Clone)]
pub struct Target {
    pub id: i64,
    pub service_id: i64,
    pub kind: TargetKind,
    pub host: String,
    pub port: i64,
    pub mount: String,
    pub username: String,
    pub secret: String,
    pub created_at: i64,
    /// `rtmps://`.
    pub tls: bool,
    /// Video: the rendition sent (`None`: the source as it comes).
    pub rendition: Option<String>,
    /// Radio to an RTMP target: the picture.
    pub video: Stored<StoredVideo>,
}

tidecast_engine::debug_fields!(Target {
    id,
    service_id,
    kind,
    host,
    port,
    ..
});

#[derive(FromRow)]
struct Row {
    id: i64,
    service_id: i64,
    kind: String,
    host: String,
    port: i64,
    mount: String,
    username: String,
    secret: String,
    created_at: i64,
    tls: i64,
    rendition: Option<String>,
    video_json: Option<String>,
}

impl<'r> FromRow<'r, AnyRow> for Target {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let r = Row::from_row(row)?;
        let kind = TargetKind::parse(&r.kind).ok_or_else(|| unknown_value("kind", &r.kind))?;
        Ok(Self {
            video: Stored::decode(
                || format!("publish target {}", r.id),
                "picture settings",
                r.video_json.as_deref(),
            ),
            id: r.id,
            service_id: r.service_id,
            kind,
            host: r.host,
            port: r.port,
            mount: r.mount,
            username: r.username,
            secret: r.secret,
            created_at: r.created_at,
            tls: r.tls != 0,
            rendition: r.rendition,
        })
    }
}

const COLUMNS: &str = "id, service_id, kind, host, port, mount, username, secret, created_at, tls, rendition, video_json";

/// A new target's fields.
#[derive(Debug)]
pub struct NewTarget<'a> {
    pub kind: TargetKind,
    pub host: &'a str,
    pub port: i64,
    pub mount: &'a str,
    pub username: &'a str,
    pub secret: &'a str,
    pub tls: bool,
    pub rendition: Option<&'a str>,
    pub video: Option<&'a StoredVideo>,
}

pub async fn insert(db: &Db, service_id: i64, t: &NewTarget<'_>) -> sqlx::Result<i64> {
    let video_json = t
        .video
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query_scalar(
        "INSERT INTO publish_targets (service_id, kind, host, port, mount, username, secret, created_at, tls, rendition, video_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(service_id)
    .bind(t.kind.as_str())
    .bind(t.host)
    .bind(t.port)
    .bind(t.mount)
    .bind(t.username)
    .bind(t.secret)
    .bind(now())
    .bind(i64::from(t.tls))
    .bind(t.rendition)
    .bind(video_json)
    .fetch_one(db.pool())
    .await
}

pub async fn of_service(db: &Db, service_id: i64) -> sqlx::Result<Vec<Target>> {
    let select = sql!("SELECT {COLUMNS} FROM publish_targets WHERE service_id = $1 ORDER BY id");
    super::select(select, &[service_id])
        .fetch_all(db.pool())
        .await
}

pub async fn all(db: &Db) -> sqlx::Result<Vec<Target>> {
    super::select(
        sql!("SELECT {COLUMNS} FROM publish_targets ORDER BY id"),
        &[],
    )
    .fetch_all(db.pool())
    .await
}

pub async fn delete(db: &Db, service_id: i64, id: i64) -> sqlx::Result<bool> {
    let key = [("id", id), ("service_id", service_id)];
    super::delete_where(db.pool(), "publish_targets", &key).await
}
