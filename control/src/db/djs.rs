//! DJs of a radio service.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow};

use super::{Db, Listing, now};
use crate::model::Stored;
use crate::schedule::Slot;

/// A DJ as stored. `Debug` leaves out the password hash.
#[derive(Clone)]
pub struct Dj {
    pub id: i64,
    pub service_id: i64,
    pub username: String,
    pub password_hash: String,
    pub priority: i64,
    pub scheduled_only: bool,
    /// The DJ's weekly slots (a schedule that cannot be read gives no slot, and is reported).
    pub schedule: Stored<Vec<Slot>>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    service_id: i64,
    username: String,
    password_hash: String,
    priority: i64,
    scheduled_only: i64,
    schedule: String,
    created_at: i64,
    updated_at: i64,
}

impl<'r> FromRow<'r, AnyRow> for Dj {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let r = Row::from_row(row)?;
        Ok(Self {
            schedule: Stored::decode(
                || format!("DJ {} of service {}", r.username, r.service_id),
                "DJ schedule",
                Some(&r.schedule),
            ),
            id: r.id,
            service_id: r.service_id,
            username: r.username,
            password_hash: r.password_hash,
            priority: r.priority,
            scheduled_only: r.scheduled_only != 0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl Dj {
    /// The DJ's slots: none when the stored schedule cannot be read.
    pub fn slots(&self) -> &[Slot] {
        self.schedule.get().map_or(&[], Vec::as_slice)
    }
}

tidecast_engine::debug_fields!(Dj {
    id,
    service_id,
    username,
    priority,
    ..
});

/// Slots as the column stores them.
fn slots_json(slots: &[Slot]) -> sqlx::Result<String> {
    serde_json::to_string(slots).map_err(|e| sqlx::Error::Encode(e.into()))
}

const COLUMNS: &str = "id, service_id, username, password_hash, priority, scheduled_only, schedule, created_at, updated_at";

/// A new DJ or a DJ's new values.
#[derive(Debug)]
pub struct DjFields<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub priority: i64,
    pub scheduled_only: bool,
    pub schedule: &'a [Slot],
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    service_id: i64,
    d: &DjFields<'_>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO djs (service_id, username, password_hash, priority, scheduled_only, schedule, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(service_id)
    .bind(d.username)
    .bind(d.password_hash)
    .bind(d.priority)
    .bind(i64::from(d.scheduled_only))
    .bind(slots_json(d.schedule)?)
    .bind(now())
    .fetch_one(exec)
    .await
}

pub async fn update<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    d: &DjFields<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE djs SET username = $2, password_hash = $3, priority = $4, scheduled_only = $5, schedule = $6, \
         updated_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(d.username)
    .bind(d.password_hash)
    .bind(d.priority)
    .bind(i64::from(d.scheduled_only))
    .bind(slots_json(d.schedule)?)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

pub async fn by_id(db: &Db, service_id: i64, id: i64) -> sqlx::Result<Option<Dj>> {
    let select = sql!("SELECT {COLUMNS} FROM djs WHERE id = $1 AND service_id = $2");
    super::row(db.pool(), select, &[id, service_id]).await
}

/// A DJ by login name (any case) on the service with this slug.
pub async fn by_login(db: &Db, slug: &str, username: &str) -> sqlx::Result<Option<Dj>> {
    sqlx::query_as(sql!(
        "SELECT d.id, d.service_id, d.username, d.password_hash, d.priority, d.scheduled_only, d.schedule, \
                d.created_at, d.updated_at \
         FROM djs d JOIN services s ON s.id = d.service_id \
         WHERE s.slug = $1 AND lower(d.username) = lower($2)"
    ))
    .bind(slug)
    .bind(username)
    .fetch_optional(db.pool())
    .await
}

pub async fn list(
    db: &Db,
    service_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Dj>, i64)> {
    let listing = Listing {
        columns: COLUMNS,
        from: "djs",
        filter: "service_id = $1",
        order: "priority DESC, id",
    };
    super::page(db, &listing, &[service_id], limit, offset).await
}

pub async fn delete<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    super::delete_where(exec, "djs", &[("id", id)]).await?;
    Ok(())
}
