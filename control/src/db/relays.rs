//! A service's relay: the URL its source is pulled from, and when.

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::{Db, now, unknown_value as unknown};
use crate::model::relay::{RelayMode, RtspTransport};

#[derive(Clone)]
pub struct Relay {
    pub id: i64,
    pub service_id: i64,
    /// May hold a camera's credentials: `Debug` leaves it out.
    pub url: String,
    pub mode: RelayMode,
    pub rtsp_transport: RtspTransport,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    service_id: i64,
    url: String,
    mode: String,
    rtsp_transport: String,
    created_at: i64,
    updated_at: i64,
}

impl<'r> FromRow<'r, AnyRow> for Relay {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let r = Row::from_row(row)?;
        Ok(Self {
            mode: RelayMode::parse(&r.mode).ok_or_else(|| unknown("mode", &r.mode))?,
            rtsp_transport: RtspTransport::parse(&r.rtsp_transport)
                .ok_or_else(|| unknown("rtsp_transport", &r.rtsp_transport))?,
            id: r.id,
            service_id: r.service_id,
            url: r.url,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

tidecast_engine::debug_fields!(Relay {
    id,
    service_id,
    mode,
    ..
});

const COLUMNS: &str = "id, service_id, url, mode, rtsp_transport, created_at, updated_at";

pub async fn of_service(db: &Db, service_id: i64) -> sqlx::Result<Option<Relay>> {
    let select = sql!("SELECT {COLUMNS} FROM relays WHERE service_id = $1");
    super::row(db.pool(), select, &[service_id]).await
}

pub async fn all(db: &Db) -> sqlx::Result<Vec<Relay>> {
    super::select(sql!("SELECT {COLUMNS} FROM relays ORDER BY id"), &[])
        .fetch_all(db.pool())
        .await
}

/// Sets the service's relay (replacing one it had).
pub async fn set(
    db: &Db,
    service_id: i64,
    url: &str,
    mode: RelayMode,
    transport: RtspTransport,
) -> sqlx::Result<()> {
    let t = now();
    let updated = sqlx::query(
        "UPDATE relays SET url = $2, mode = $3, rtsp_transport = $4, updated_at = $5 WHERE service_id = $1",
    )
    .bind(service_id)
    .bind(url)
    .bind(mode.as_str())
    .bind(transport.as_str())
    .bind(t)
    .execute(db.pool())
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO relays (service_id, url, mode, rtsp_transport, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(service_id)
        .bind(url)
        .bind(mode.as_str())
        .bind(transport.as_str())
        .bind(t)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

pub async fn delete(db: &Db, service_id: i64) -> sqlx::Result<bool> {
    super::delete_where(db.pool(), "relays", &[("service_id", service_id)]).await
}
