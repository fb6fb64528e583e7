//! Announcements (admins to everyone) and system settings (key → JSON value).

use sqlx::FromRow;

use crate::model::site::SiteSettings;

use super::{Db, now};

#[derive(Debug, Clone, FromRow)]
pub struct Announcement {
    pub id: i64,
    pub message: String,
    pub level: String,
    pub author_id: Option<i64>,
    pub created_at: i64,
}

pub async fn announcements(db: &Db) -> sqlx::Result<Vec<Announcement>> {
    sqlx::query_as(
        "SELECT id, message, level, author_id, created_at FROM announcements ORDER BY id DESC LIMIT 100",
    )
    .fetch_all(db.pool())
    .await
}

pub async fn announce<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    message: &str,
    level: &str,
    author: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO announcements (message, level, author_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(message)
    .bind(level)
    .bind(author)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn withdraw<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<bool> {
    super::delete_where(exec, "announcements", &[("id", id)]).await
}

/// Every stored setting as (key, JSON text).
pub async fn settings<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
        .fetch_all(exec)
        .await
}

pub async fn put_setting<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    key: &str,
    json: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(json)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

/// The settings in force: stored values over the defaults (a value that no longer parses
/// keeps its default and is logged).
pub async fn load(db: &Db) -> sqlx::Result<SiteSettings> {
    load_in(db.pool()).await
}

/// [`load`] through a given connection or transaction.
pub async fn load_in<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
) -> sqlx::Result<SiteSettings> {
    let mut s = SiteSettings::default();
    for (key, value) in settings(exec).await? {
        let ok = match key.as_str() {
            "site_name" => serde_json::from_str(&value)
                .map(|v| s.site_name = v)
                .is_ok(),
            "customers_create_services" => serde_json::from_str(&value)
                .map(|v| s.customers_create_services = v)
                .is_ok(),
            "stats_retention_days" => serde_json::from_str::<i64>(&value)
                .map(|v| {
                    s.stats_retention_days = v.clamp(
                        *crate::model::site::RETENTION_DAYS.start(),
                        *crate::model::site::RETENTION_DAYS.end(),
                    )
                })
                .is_ok(),
            _ => true,
        };
        if !ok {
            tracing::warn!("setting {key} has an unreadable value {value:?}; using the default");
        }
    }
    Ok(s)
}
