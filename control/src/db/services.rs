//! Services: radio stations and video channels, each owned by a customer.
//!
//! Rows are decoded here, once, into the typed [`Service`]: enums for the kind, status and
//! HLS format, [`Limits`], and the JSON settings columns as [`Stored`] values (a stored
//! value that does not decode is reported, never read as "off").

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow};

use super::{Db, now, unknown_value as unknown};
use crate::model::autodj::AutoDjSettings;
use crate::model::dvr::DvrSettings;
use crate::model::ladder::Ladder;
pub use crate::model::{
    HlsFormat, HlsSettings, Kind, Limits, Status, Stored, TargetKinds, TransferAction,
};

/// A service, as stored. `source_password` and `stream_key` are publish credentials:
/// `Debug` hides them so they cannot reach a log line.
#[derive(Clone)]
pub struct Service {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub slug: String,
    pub kind: Kind,
    pub status: Status,
    pub source_password: String,
    pub stream_key: String,
    pub limits: Limits,
    pub created_at: i64,
    pub updated_at: i64,
    /// The mount listeners move to while the primary mount has no source.
    pub fallback: Option<String>,
    /// Video: HLS packaging.
    pub hls: HlsSettings,
    /// The transcoding ladder, if the service has one.
    pub ladder: Stored<Ladder>,
    /// AutoDJ settings, once set.
    pub autodj: Stored<AutoDjSettings>,
    /// DVR settings, once set.
    pub dvr: Stored<DvrSettings>,
    /// Radio: every live DJ set is recorded into the media library.
    pub record_sets: bool,
    /// `YYYY-MM` when the transfer limit suspended the service.
    pub transfer_suspended: Option<String>,
}

tidecast_engine::debug_fields!(Service {
    id,
    slug,
    kind,
    status,
    ..
});

impl Service {
    pub fn is_suspended(&self) -> bool {
        self.status == Status::Suspended
    }

    pub fn is_radio(&self) -> bool {
        self.kind == Kind::Radio
    }

    /// Stored settings that cannot be read, in a user's words (the admin dashboard and the
    /// service's stats show them).
    pub fn problems(&self) -> Vec<String> {
        [
            self.ladder.problem(),
            self.autodj.problem(),
            self.dvr.problem(),
        ]
        .into_iter()
        .flatten()
        .map(ToString::to_string)
        .collect()
    }
}

/// The columns as the database holds them; decoded into [`Service`] by its `FromRow`.
#[derive(FromRow)]
struct Row {
    id: i64,
    owner_id: i64,
    name: String,
    slug: String,
    kind: String,
    status: String,
    source_password: String,
    stream_key: String,
    max_listeners: i64,
    max_bitrate_kbps: i64,
    disk_quota_mb: i64,
    dvr_minutes: i64,
    transcode: i64,
    autodj: i64,
    created_at: i64,
    updated_at: i64,
    fallback: Option<String>,
    hls_segment_secs: i64,
    hls_end_after_secs: i64,
    hls_format: String,
    hls_low_latency: i64,
    transcode_json: Option<String>,
    autodj_json: Option<String>,
    dvr_json: Option<String>,
    record_sets: i64,
    transfer_bytes: i64,
    transfer_action: String,
    transfer_suspended: Option<String>,
    restream: String,
    relay: i64,
}

impl<'r> FromRow<'r, AnyRow> for Service {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let r = Row::from_row(row)?;
        let owner = || format!("service {} ({})", r.id, r.slug);
        Ok(Self {
            kind: Kind::parse(&r.kind).ok_or_else(|| unknown("kind", &r.kind))?,
            status: Status::parse(&r.status).ok_or_else(|| unknown("status", &r.status))?,
            limits: Limits {
                max_listeners: r.max_listeners,
                max_bitrate_kbps: r.max_bitrate_kbps,
                disk_quota_mb: r.disk_quota_mb,
                dvr_minutes: r.dvr_minutes,
                transcode: r.transcode != 0,
                autodj: r.autodj != 0,
                transfer_bytes: r.transfer_bytes,
                transfer_action: TransferAction::parse(&r.transfer_action)
                    .ok_or_else(|| unknown("transfer_action", &r.transfer_action))?,
                restream: TargetKinds::parse(&r.restream),
                relay: r.relay != 0,
            },
            hls: HlsSettings {
                segment_secs: r.hls_segment_secs,
                end_after_secs: r.hls_end_after_secs,
                format: HlsFormat::parse(&r.hls_format)
                    .ok_or_else(|| unknown("hls_format", &r.hls_format))?,
                low_latency: r.hls_low_latency != 0,
            },
            ladder: Stored::decode(owner, "transcoding ladder", r.transcode_json.as_deref()),
            autodj: Stored::decode(owner, "AutoDJ settings", r.autodj_json.as_deref()),
            dvr: Stored::decode(owner, "DVR settings", r.dvr_json.as_deref()),
            record_sets: r.record_sets != 0,
            id: r.id,
            owner_id: r.owner_id,
            name: r.name,
            slug: r.slug,
            source_password: r.source_password,
            stream_key: r.stream_key,
            created_at: r.created_at,
            updated_at: r.updated_at,
            fallback: r.fallback,
            transfer_suspended: r.transfer_suspended,
        })
    }
}

/// Which services a list covers.
#[derive(Debug, Clone, Copy)]
pub enum ServiceScope {
    All,
    /// The services of a reseller's customers.
    Reseller(i64),
    /// One customer's services.
    Owner(i64),
}

const COLUMNS: &str = "s.id, s.owner_id, s.name, s.slug, s.kind, s.status, s.source_password, \
    s.stream_key, s.max_listeners, s.max_bitrate_kbps, s.disk_quota_mb, s.dvr_minutes, \
    s.transcode, s.autodj, s.created_at, s.updated_at, s.fallback, s.hls_segment_secs, \
    s.hls_end_after_secs, s.hls_format, s.hls_low_latency, s.transcode_json, s.autodj_json, s.dvr_json, \
    s.record_sets, s.transfer_bytes, s.transfer_action, s.transfer_suspended, s.restream, s.relay";

/// A new service.
#[derive(Debug)]
pub struct NewService<'a> {
    pub owner_id: i64,
    pub name: &'a str,
    pub slug: &'a str,
    pub kind: Kind,
    pub source_password: &'a str,
    pub stream_key: &'a str,
    pub limits: Limits,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    s: &NewService<'_>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO services (owner_id, name, slug, kind, status, source_password, stream_key, \
           max_listeners, max_bitrate_kbps, disk_quota_mb, dvr_minutes, transcode, autodj, created_at, updated_at, \
           transfer_bytes, transfer_action, restream, relay) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17) RETURNING id",
    )
    .bind(s.owner_id)
    .bind(s.name)
    .bind(s.slug)
    .bind(s.kind.as_str())
    .bind(s.source_password)
    .bind(s.stream_key)
    .bind(s.limits.max_listeners)
    .bind(s.limits.max_bitrate_kbps)
    .bind(s.limits.disk_quota_mb)
    .bind(s.limits.dvr_minutes)
    .bind(i64::from(s.limits.transcode))
    .bind(i64::from(s.limits.autodj))
    .bind(now())
    .bind(s.limits.transfer_bytes)
    .bind(s.limits.transfer_action.as_str())
    .bind(s.limits.restream.to_db())
    .bind(i64::from(s.limits.relay))
    .fetch_one(exec)
    .await
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
) -> sqlx::Result<Option<Service>> {
    super::row(
        exec,
        sql!("SELECT {COLUMNS} FROM services s WHERE s.id = $1"),
        &[id],
    )
    .await
}

pub async fn by_slug(db: &Db, slug: &str) -> sqlx::Result<Option<Service>> {
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM services s WHERE s.slug = $1"))
        .bind(slug)
        .fetch_optional(db.pool())
        .await
}

pub async fn by_stream_key(db: &Db, key: &str) -> sqlx::Result<Option<Service>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM services s WHERE s.stream_key = $1"
    ))
    .bind(key)
    .fetch_optional(db.pool())
    .await
}

pub async fn slug_taken<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    slug: &str,
) -> sqlx::Result<bool> {
    // Slugs name primary mounts, so they must not collide with extra mounts either.
    super::mounts::name_taken(exec, slug).await
}

pub async fn list(
    db: &Db,
    scope: ServiceScope,
    owner: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Service>, i64)> {
    let (join, filter, arg) = match scope {
        ServiceScope::All => ("", "$1 = $1", 0),
        ServiceScope::Reseller(id) => (
            "JOIN users u ON u.id = s.owner_id",
            "u.reseller_id = $1",
            id,
        ),
        ServiceScope::Owner(id) => ("", "s.owner_id = $1", id),
    };
    // `owner` narrows any scope further (?owner=ID); -1 means "no narrowing".
    let owner = owner.unwrap_or(-1);
    let listing = super::Listing {
        columns: COLUMNS,
        from: &format!("services s {join}"),
        filter: &format!("{filter} AND ($2 = -1 OR s.owner_id = $2)"),
        order: "s.id",
    };
    super::page(db, &listing, &[arg, owner], limit, offset).await
}

/// How much of its plan a reseller's customers use, leaving out one service (the one being
/// changed) when given.
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct ResellerUsage {
    pub services: i64,
    pub listeners: i64,
    pub disk_mb: i64,
}

pub async fn reseller_usage<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    reseller_id: i64,
    except_service: Option<i64>,
) -> sqlx::Result<ResellerUsage> {
    // CAST: PostgreSQL's SUM(bigint) is NUMERIC, which the Any driver cannot decode.
    sqlx::query_as(
        "SELECT COUNT(*) AS services, \
                CAST(COALESCE(SUM(s.max_listeners), 0) AS BIGINT) AS listeners, \
                CAST(COALESCE(SUM(s.disk_quota_mb), 0) AS BIGINT) AS disk_mb \
         FROM services s JOIN users u ON u.id = s.owner_id \
         WHERE u.reseller_id = $1 AND s.id <> $2",
    )
    .bind(reseller_id)
    .bind(except_service.unwrap_or(-1))
    .fetch_one(exec)
    .await
}

pub async fn count_by_owner<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    owner_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(exec)
        .await
}

/// The changes a PATCH may make; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct ServiceChanges {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub limits: Option<Limits>,
    pub hls_segment_secs: Option<i64>,
    pub hls_end_after_secs: Option<i64>,
    pub hls_format: Option<HlsFormat>,
    pub hls_low_latency: Option<bool>,
}

pub async fn update<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    c: &ServiceChanges,
) -> sqlx::Result<()> {
    let l = c.limits;
    sqlx::query(
        "UPDATE services SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
           max_listeners = COALESCE($4, max_listeners), max_bitrate_kbps = COALESCE($5, max_bitrate_kbps), \
           disk_quota_mb = COALESCE($6, disk_quota_mb), dvr_minutes = COALESCE($7, dvr_minutes), \
           transcode = COALESCE($8, transcode), autodj = COALESCE($9, autodj), updated_at = $10, \
           hls_segment_secs = COALESCE($11, hls_segment_secs), \
           hls_end_after_secs = COALESCE($12, hls_end_after_secs), \
           hls_format = COALESCE($13, hls_format), \
           hls_low_latency = COALESCE($14, hls_low_latency), \
           transfer_bytes = COALESCE($15, transfer_bytes), \
           transfer_action = COALESCE($16, transfer_action), \
           restream = COALESCE($17, restream), relay = COALESCE($18, relay) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.name.as_deref())
    .bind(c.slug.as_deref())
    .bind(l.map(|l| l.max_listeners))
    .bind(l.map(|l| l.max_bitrate_kbps))
    .bind(l.map(|l| l.disk_quota_mb))
    .bind(l.map(|l| l.dvr_minutes))
    .bind(l.map(|l| i64::from(l.transcode)))
    .bind(l.map(|l| i64::from(l.autodj)))
    .bind(now())
    .bind(c.hls_segment_secs)
    .bind(c.hls_end_after_secs)
    .bind(c.hls_format.map(HlsFormat::as_str))
    .bind(c.hls_low_latency.map(i64::from))
    .bind(l.map(|l| l.transfer_bytes))
    .bind(l.map(|l| l.transfer_action.as_str()))
    .bind(l.map(|l| l.restream.to_db()))
    .bind(l.map(|l| i64::from(l.relay)))
    .execute(exec)
    .await?;
    Ok(())
}

/// Services with a transfer limit, or suspended by one (the limit checker's work).
pub async fn with_transfer_rules(db: &Db) -> sqlx::Result<Vec<Service>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM services s WHERE s.transfer_bytes > 0 OR s.transfer_suspended IS NOT NULL"
    ))
    .fetch_all(db.pool())
    .await
}

/// Records (or clears) the month the transfer limit suspended a service in.
pub async fn set_transfer_suspended<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    month: Option<&str>,
) -> sqlx::Result<()> {
    super::set_column(exec, "services", "transfer_suspended", id, month).await
}

/// Saves a station's AutoDJ settings.
pub async fn set_autodj<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    settings: &AutoDjSettings,
) -> sqlx::Result<()> {
    set_json(exec, id, "autodj_json", Some(settings)).await
}

/// Saves a video service's DVR settings.
pub async fn set_dvr<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    settings: Option<&DvrSettings>,
) -> sqlx::Result<()> {
    set_json(exec, id, "dvr_json", settings).await
}

/// Turns recording a radio station's live DJ sets on or off.
pub async fn set_record_sets(db: &Db, id: i64, on: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE services SET record_sets = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(on))
        .bind(now())
        .bind(id)
        .execute(db.pool())
        .await
        .map(|_| ())
}

/// Sets one of a service's JSON settings columns (`column` is this module's constant):
/// the typed value encoded here, the one place that writes them.
async fn set_json<'e, E: Executor<'e, Database = Any>, T: serde::Serialize>(
    exec: E,
    id: i64,
    column: &'static str,
    value: Option<&T>,
) -> sqlx::Result<()> {
    let json = value
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(sql!(
        "UPDATE services SET {column} = $2, updated_at = $3 WHERE id = $1"
    ))
    .bind(id)
    .bind(json)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

/// Stations that have AutoDJ settings (to resume those left on).
pub async fn with_autodj(db: &Db) -> sqlx::Result<Vec<Service>> {
    sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM services s WHERE s.autodj_json IS NOT NULL AND s.kind = 'radio'"
    ))
    .fetch_all(db.pool())
    .await
}

/// Sets (or with `None` clears) a service's transcoding ladder.
pub async fn set_transcode<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    ladder: Option<&Ladder>,
) -> sqlx::Result<()> {
    set_json(exec, id, "transcode_json", ladder).await
}

pub async fn set_status<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    status: Status,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE services SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(now())
        .execute(exec)
        .await?;
    Ok(())
}

pub async fn set_credentials<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    source_password: &str,
    stream_key: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE services SET source_password = $2, stream_key = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(source_password)
    .bind(stream_key)
    .bind(now())
    .execute(exec)
    .await?;
    Ok(())
}

pub async fn delete<'e, E: Executor<'e, Database = Any>>(exec: E, id: i64) -> sqlx::Result<()> {
    super::delete_where(exec, "services", &[("id", id)]).await?;
    Ok(())
}

/// Sets (or with `None` clears) the mount a station's listeners move to while its primary
/// mount has no source.
pub async fn set_fallback<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    fallback: Option<&str>,
) -> sqlx::Result<()> {
    super::set_column(exec, "services", "fallback", id, fallback).await
}
