//! A service's relay: the URL its source is pulled from, and when.

use sqlx::FromRow;

use super::{Db, now};

#[derive(Clone, FromRow)]
pub struct Relay {
    pub id: i64,
    pub service_id: i64,
    /// May hold a camera's credentials: `Debug` leaves it out.
    pub url: String,
    /// `always` or `on_demand`.
    pub mode: String,
    /// `tcp` or `udp` (RTSP).
    pub rtsp_transport: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("id", &self.id)
            .field("service_id", &self.service_id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, service_id, url, mode, rtsp_transport, created_at, updated_at";

pub async fn of_service(db: &Db, service_id: i64) -> sqlx::Result<Option<Relay>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM relays WHERE service_id = $1"
    )))
    .bind(service_id)
    .fetch_optional(db.pool())
    .await
}

pub async fn all(db: &Db) -> sqlx::Result<Vec<Relay>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM relays ORDER BY id"
    )))
    .fetch_all(db.pool())
    .await
}

/// Sets the service's relay (replacing one it had).
pub async fn set(
    db: &Db,
    service_id: i64,
    url: &str,
    mode: &str,
    transport: &str,
) -> sqlx::Result<()> {
    let t = now();
    let updated = sqlx::query(
        "UPDATE relays SET url = $2, mode = $3, rtsp_transport = $4, updated_at = $5 WHERE service_id = $1",
    )
    .bind(service_id)
    .bind(url)
    .bind(mode)
    .bind(transport)
    .bind(t)
    .execute(db.pool())
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO relays (service_id, url, mode, rtsp_transport, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(service_id)
        .bind(url)
        .bind(mode)
        .bind(transport)
        .bind(t)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

pub async fn delete(db: &Db, service_id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM relays WHERE service_id = $1")
        .bind(service_id)
        .execute(db.pool())
        .await?;
    Ok(r.rows_affected() > 0)
}
