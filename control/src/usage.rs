//! Usage per service per calendar month (UTC): data transferred, counted from the bytes
//! listener and viewer sessions actually sent (recorded as each session ends), and disk
//! (the owner's media library, shared by its services, and the service's DVR archives).
//!
//! The monthly transfer limit is enforced by `jobs::transfer_limits`.

use chrono::{Datelike, TimeZone, Utc};
use tidecast_engine::{Engine, ServiceId};

use crate::db::services::Service;
use crate::db::{Db, now};

/// A calendar month: `YYYY-MM` and its bounds in unix seconds [start, end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub name: String,
    pub start: i64,
    pub end: i64,
}

impl Period {
    pub fn containing(unix: i64) -> Self {
        let t = Utc.timestamp_opt(unix, 0).single().unwrap_or_else(Utc::now);
        let (y, m) = (t.year(), t.month());
        let first = |y: i32, m: u32| {
            Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                .single()
                .map_or(0, |d| d.timestamp())
        };
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Self {
            name: format!("{y:04}-{m:02}"),
            start: first(y, m),
            end: first(ny, nm),
        }
    }

    pub fn now() -> Self {
        Self::containing(now())
    }
}

/// Bytes sent by a service's sessions that started in `period`.
pub async fn transfer(db: &Db, service: i64, period: &Period) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM listener_sessions \
         WHERE service_id = $1 AND started_at >= $2 AND started_at < $3",
    )
    .bind(service)
    .bind(period.start)
    .bind(period.end)
    .fetch_one(db.pool())
    .await
}

/// Disk used: (the owner's media library, this service's DVR archives), in bytes.
pub async fn disk(db: &Db, engine: &Engine, s: &Service) -> sqlx::Result<(i64, i64)> {
    let media = crate::db::media::bytes_used(db.pool(), s.owner_id).await?;
    let dvr = engine.dvr().map_or(0, |d| d.service_bytes(ServiceId(s.id)));
    Ok((media, i64::try_from(dvr).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_their_bounds() {
        // 2026-11-28T18:00:00Z
        let p = Period::containing(1_795_888_800);
        assert_eq!(p.name, "2026-11");
        assert_eq!(p.start, 1_793_491_200); // 2026-11-01
        assert_eq!(p.end, 1_796_083_200); // 2026-12-01
        let dec = Period::containing(p.end + 5);
        assert_eq!(dec.name, "2026-12");
        assert_eq!(Period::containing(dec.end).name, "2027-01");
    }
}
