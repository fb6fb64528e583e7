//! Services: radio stations and video channels, each owned by a customer.

use sqlx::{Any, Executor, FromRow};

use super::{Db, now};

/// A row of `services`. `source_password` and `stream_key` are publish credentials:
/// `Debug` hides them so they cannot reach a log line.
#[derive(Clone, FromRow)]
pub struct Service {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub status: String,
    pub source_password: String,
    pub stream_key: String,
    pub max_listeners: i64,
    pub max_bitrate_kbps: i64,
    pub disk_quota_mb: i64,
    pub dvr_minutes: i64,
    pub transcode: i64,
    pub autodj: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The mount listeners move to while the primary mount has no source.
    pub fallback: Option<String>,
    /// Video: HLS target segment duration, and how long after the publisher leaves the
    /// playlist ends (seconds).
    pub hls_segment_secs: i64,
    pub hls_end_after_secs: i64,
    /// `ts` or `fmp4`.
    pub hls_format: String,
    /// LL-HLS parts (fmp4 only): 0 or 1.
    pub hls_low_latency: i64,
    /// The transcoding ladder as JSON (`api::transcode::Ladder`), if the service has one.
    pub transcode_json: Option<String>,
    /// AutoDJ settings as JSON (`autodj::Settings`), once set.
    pub autodj_json: Option<String>,
    /// DVR settings as JSON (`api::dvr::Settings`), once set.
    pub dvr_json: Option<String>,
    /// Radio: every live DJ set is recorded into the media library (1).
    pub record_sets: i64,
    /// Monthly transfer limit in bytes (0: none), and `report` or `suspend` past it.
    pub transfer_bytes: i64,
    pub transfer_action: String,
    /// `YYYY-MM` when the transfer limit suspended the service.
    pub transfer_suspended: Option<String>,
    /// The publish target kinds the plan allows, comma-separated.
    pub restream: String,
    /// Whether the plan allows pulling the source from a relay URL (1).
    pub relay: i64,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn limits(&self) -> Limits {
        Limits {
            max_listeners: self.max_listeners,
            max_bitrate_kbps: self.max_bitrate_kbps,
            disk_quota_mb: self.disk_quota_mb,
            dvr_minutes: self.dvr_minutes,
            transcode: self.transcode != 0,
            autodj: self.autodj != 0,
            transfer_bytes: self.transfer_bytes,
            transfer_action: TransferAction::parse(&self.transfer_action),
            restream: TargetKinds::parse(&self.restream),
            relay: self.relay != 0,
        }
    }

    pub fn is_suspended(&self) -> bool {
        self.status == "suspended"
    }
}

/// A service's plan limits, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub max_listeners: i64,
    pub max_bitrate_kbps: i64,
    pub disk_quota_mb: i64,
    pub dvr_minutes: i64,
    pub transcode: bool,
    pub autodj: bool,
    /// Monthly data transfer allowed, in bytes (0: no limit); the API shows it as
    /// `transfer_gb`.
    #[serde(rename = "transfer_gb", serialize_with = "bytes_as_gb")]
    pub transfer_bytes: i64,
    pub transfer_action: TransferAction,
    /// The publish target kinds (restreams) it may have.
    pub restream: TargetKinds,
    /// Whether its source may be pulled from a relay URL.
    pub relay: bool,
}

/// A set of publish target kinds; shown as a list like `["rtmp","icecast"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetKinds(u8);

impl TargetKinds {
    pub const NAMES: [&'static str; 3] = ["rtmp", "icecast", "shoutcast"];

    pub fn all() -> Self {
        Self(0b111)
    }

    fn bit(name: &str) -> Option<u8> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| 1 << i)
    }

    /// The kinds named in a comma-separated list; unknown names are ignored.
    pub fn parse(s: &str) -> Self {
        Self(
            s.split(',')
                .filter_map(|n| Self::bit(n.trim()))
                .fold(0, |a, b| a | b),
        )
    }

    /// From a request's list; an unknown name is an error naming it.
    pub fn from_names(names: &[String]) -> Result<Self, String> {
        names.iter().try_fold(Self(0), |acc, n| {
            Self::bit(n).map(|b| Self(acc.0 | b)).ok_or_else(|| {
                format!("{n:?} is not a target kind; kinds: rtmp, icecast, shoutcast")
            })
        })
    }

    pub fn allows(self, name: &str) -> bool {
        Self::bit(name).is_some_and(|b| self.0 & b != 0)
    }

    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.into_iter().filter(|n| self.allows(n)).collect()
    }

    /// As stored: comma-separated.
    pub fn to_db(self) -> String {
        self.names().join(",")
    }
}

impl serde::Serialize for TargetKinds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

fn bytes_as_gb<S: serde::Serializer>(bytes: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*bytes as f64 / 1e9)
}

/// What happens when a service sends more than its monthly transfer.
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TransferAction {
    /// Shown in usage; nothing else.
    #[default]
    Report,
    /// Suspended until the next month begins.
    Suspend,
}

impl TransferAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Suspend => "suspend",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "suspend" {
            Self::Suspend
        } else {
            Self::Report
        }
    }
}

/// A service's kind: fixed at creation.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Radio,
    Video,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Radio => "radio",
            Self::Video => "video",
        }
    }

    /// Limits a new service gets for what the request leaves out.
    pub fn default_limits(self) -> Limits {
        match self {
            Self::Radio => Limits {
                max_listeners: 100,
                max_bitrate_kbps: 320,
                disk_quota_mb: 1024,
                dvr_minutes: 0,
                transcode: false,
                autodj: true,
                transfer_bytes: 0,
                transfer_action: TransferAction::Report,
                restream: TargetKinds::all(),
                relay: true,
            },
            Self::Video => Limits {
                max_listeners: 100,
                max_bitrate_kbps: 6000,
                disk_quota_mb: 5120,
                dvr_minutes: 0,
                transcode: false,
                autodj: false,
                transfer_bytes: 0,
                transfer_action: TransferAction::Report,
                restream: TargetKinds::all(),
                relay: true,
            },
        }
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
    pub kind: &'a str,
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
    .bind(s.kind)
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
    sqlx::query_as(sql!("SELECT {COLUMNS} FROM services s WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(exec)
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
    let cond = format!("{filter} AND ($2 = -1 OR s.owner_id = $2)");
    let items = sqlx::query_as(sql!(
        "SELECT {COLUMNS} FROM services s {join} WHERE {cond} ORDER BY s.id LIMIT $3 OFFSET $4"
    ))
    .bind(arg)
    .bind(owner)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    let total = sqlx::query_scalar(sql!("SELECT COUNT(*) FROM services s {join} WHERE {cond}"))
        .bind(arg)
        .bind(owner)
        .fetch_one(db.pool())
        .await?;
    Ok((items, total))
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
    pub hls_format: Option<String>,
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
    .bind(c.hls_format.as_deref())
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
    sqlx::query("UPDATE services SET transfer_suspended = $2 WHERE id = $1")
        .bind(id)
        .bind(month)
        .execute(exec)
        .await?;
    Ok(())
}

/// Saves a station's AutoDJ settings.
pub async fn set_autodj<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    settings_json: &str,
) -> sqlx::Result<()> {
    set_json(exec, id, "autodj_json", Some(settings_json)).await
}

/// Saves a video service's DVR settings.
pub async fn set_dvr<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    settings_json: Option<&str>,
) -> sqlx::Result<()> {
    set_json(exec, id, "dvr_json", settings_json).await
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

/// Sets one of a service's JSON settings columns (`column` is this module's constant).
async fn set_json<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    column: &'static str,
    json: Option<&str>,
) -> sqlx::Result<()> {
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
    ladder_json: Option<&str>,
) -> sqlx::Result<()> {
    set_json(exec, id, "transcode_json", ladder_json).await
}

pub async fn set_status<'e, E: Executor<'e, Database = Any>>(
    exec: E,
    id: i64,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE services SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
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
    sqlx::query("DELETE FROM services WHERE id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(())
}
