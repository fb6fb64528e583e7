//! A service's webhook: where its events go and how the last delivery went.

use sqlx::FromRow;

use super::{Db, now};

#[derive(Debug, Clone, FromRow)]
pub struct Webhook {
    pub service_id: i64,
    pub url: String,
    pub secret: String,
    /// Comma-separated event names.
    pub events: String,
    pub delivered: i64,
    pub failed: i64,
    pub last_event: Option<String>,
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_at: Option<i64>,
}

impl Webhook {
    pub fn wants(&self, event: &str) -> bool {
        self.events.split(',').any(|e| e == event)
    }
}

const COLUMNS: &str = "service_id, url, secret, events, delivered, failed, last_event, last_status, last_error, last_at";

pub async fn get(db: &Db, service_id: i64) -> sqlx::Result<Option<Webhook>> {
    let select = sql!("SELECT {COLUMNS} FROM webhooks WHERE service_id = $1");
    super::row(db.pool(), select, &[service_id]).await
}

/// Creates or replaces the service's webhook (its delivery record starts again).
pub async fn put<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    service_id: i64,
    url: &str,
    secret: &str,
    events: &str,
) -> sqlx::Result<()> {
    let t = now();
    sqlx::query(
        "INSERT INTO webhooks (service_id, url, secret, events, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (service_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events, \
         updated_at = excluded.updated_at, delivered = 0, failed = 0, last_event = NULL, last_status = NULL, \
         last_error = NULL, last_at = NULL",
    )
    .bind(service_id)
    .bind(url)
    .bind(secret)
    .bind(events)
    .bind(t)
    .execute(exec)
    .await?;
    Ok(())
}

pub async fn delete<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    service_id: i64,
) -> sqlx::Result<bool> {
    super::delete_where(exec, "webhooks", &[("service_id", service_id)]).await
}

/// How a delivery attempt went: `status` is delivered, retrying or failed.
pub async fn record(
    db: &Db,
    service_id: i64,
    event: &str,
    status: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let (delivered, failed) = match status {
        "delivered" => (1, 0),
        "failed" => (0, 1),
        _ => (0, 0),
    };
    sqlx::query(
        "UPDATE webhooks SET delivered = delivered + $2, failed = failed + $3, last_event = $4, \
         last_status = $5, last_error = $6, last_at = $7 WHERE service_id = $1",
    )
    .bind(service_id)
    .bind(delivered)
    .bind(failed)
    .bind(event)
    .bind(status)
    .bind(error)
    .bind(now())
    .execute(db.pool())
    .await?;
    Ok(())
}
