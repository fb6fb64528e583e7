//! Usage per service per calendar month (UTC): data transferred, counted from the bytes
//! listener and viewer sessions actually sent (recorded as each session ends), and disk
//! (the owner's media library, shared by its services, and the service's DVR archives).
//!
//! A monthly transfer limit (`limits.transfer_gb`) is checked every few seconds: past it a
//! service is reported (`report`) or suspended until the month ends (`suspend`); the next
//! month lifts exactly the suspensions the limit made.

use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use tidecast_engine::ServiceId;

use crate::api::state::AppState;
use crate::db::services::{self, Service, TransferAction};
use crate::db::{Db, now};

/// How often limits are checked.
const CHECK_EVERY: Duration = Duration::from_secs(5);

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
pub async fn disk(state: &AppState, s: &Service) -> sqlx::Result<(i64, i64)> {
    let media = crate::db::media::bytes_used(state.db.pool(), s.owner_id).await?;
    let dvr = state
        .engine
        .dvr()
        .map_or(0, |d| d.service_bytes(ServiceId(s.id)));
    Ok((media, i64::try_from(dvr).unwrap_or(i64::MAX)))
}

/// Checks limits forever (the server's lifetime).
pub async fn run(state: AppState) {
    loop {
        if let Err(e) = check(&state).await {
            tracing::warn!("transfer limits not checked: {e}");
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

async fn check(state: &AppState) -> anyhow::Result<()> {
    let period = Period::now();
    for s in services::with_transfer_rules(&state.db).await? {
        // A suspension the limit made in an earlier month ends with that month.
        if let Some(month) = s.transfer_suspended.as_deref()
            && month != period.name
        {
            services::set_transfer_suspended(state.db.pool(), s.id, None).await?;
            if s.is_suspended() {
                crate::api::services::apply_status(
                    state,
                    &s,
                    false,
                    None,
                    Some(&format!(
                        "a new month ({}) lifts the transfer limit's suspension",
                        period.name
                    )),
                )
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
                tracing::info!(slug = %s.slug, "service unsuspended: a new month of transfer began");
            }
            continue;
        }
        if s.transfer_bytes <= 0 || s.is_suspended() {
            continue;
        }
        let used = transfer(&state.db, s.id, &period).await?;
        if used < s.transfer_bytes {
            continue;
        }
        match TransferAction::parse(&s.transfer_action) {
            TransferAction::Report => {}
            TransferAction::Suspend => {
                services::set_transfer_suspended(state.db.pool(), s.id, Some(&period.name)).await?;
                let why = format!(
                    "over its monthly transfer ({:.3} GB of {:.3} GB in {}); suspended until the month ends",
                    used as f64 / 1e9,
                    s.transfer_bytes as f64 / 1e9,
                    period.name
                );
                crate::api::services::apply_status(state, &s, true, None, Some(&why))
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                tracing::warn!(slug = %s.slug, "service suspended: {why}");
            }
        }
    }
    Ok(())
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
