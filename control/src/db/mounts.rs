//! Extra mounts of radio services, and the mount namespace they share with service slugs.

use sqlx::{Any, Executor, FromRow};

use super::{Db, now};

/// A row of `mounts`.
#[derive(Debug, Clone, FromRow)]
pub struct MountRow {
    pub id: i64,
    pub service_id: i64,
    pub name: String,
    pub format: String,
    pub bitrate_kbps: i64,
    pub fallback: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, service_id, name, format, bitrate_kbps, fallback, created_at, updated_at";

/// Whether a name is used by a service's primary mount (its slug) or an extra mount.
pub async fn name_taken<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    name: &str,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM services WHERE slug = $1) + (SELECT COUNT(*) FROM mounts WHERE name = $1)",
    )
    .bind(name)
    .fetch_one(exec)
    .await?;
    Ok(n > 0)
}

pub async fn insert<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    service_id: i64,
    name: &str,
    format: &str,
    bitrate: i64,
    fallback: Option<&str>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO mounts (service_id, name, format, bitrate_kbps, fallback, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(service_id)
    .bind(name)
    .bind(format)
    .bind(bitrate)
    .bind(fallback)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn by_id(db: &Db, service_id: i64, id: i64) -> sqlx::Result<Option<MountRow>> {
    let select = sql!("SELECT {COLUMNS} FROM mounts WHERE id = $1 AND service_id = $2");
    super::row(db.pool(), select, &[id, service_id]).await
}

pub async fn by_name(db: &Db, name: &str) -> sqlx::Result<Option<MountRow>> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM mounts WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await
}

pub async fn for_service(db: &Db, service_id: i64) -> sqlx::Result<Vec<MountRow>> {
    let select = sql!("SELECT {COLUMNS} FROM mounts WHERE service_id = $1 ORDER BY id");
    super::select(select, &[service_id])
        .fetch_all(db.pool())
        .await
}

pub async fn update<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    id: i64,
    format: &str,
    bitrate: i64,
    fallback: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE mounts SET format = $2, bitrate_kbps = $3, fallback = $4, updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(format)
        .bind(bitrate)
        .bind(fallback)
        .bind(now())
        .execute(exec)
        .await?;
    Ok(())
}

/// Sets the fallback of a service's primary mount.
pub async fn set_primary_fallback(
    db: &Db,
    service_id: i64,
    fallback: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE services SET fallback = $2, updated_at = $3 WHERE id = $1")
        .bind(service_id)
        .bind(fallback)
        .bind(now())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Clears fallbacks that point at a mount being removed.
pub async fn clear_fallbacks_to<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    name: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE mounts SET fallback = NULL WHERE fallback = $1")
        .bind(name)
        .execute(exec)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: i64) -> sqlx::Result<()> {
    super::delete_where(db.pool(), "mounts", &[("id", id)]).await?;
    Ok(())
}

/// The service's mounts that fall back to `from` fall back to `to` instead (a renamed
/// primary mount).
pub async fn rename_fallback<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    service_id: i64,
    from: &str,
    to: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE mounts SET fallback = $3 WHERE service_id = $1 AND fallback = $2")
        .bind(service_id)
        .bind(from)
        .bind(to)
        .execute(exec)
        .await?;
    Ok(())
}
