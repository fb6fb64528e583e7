//! Hourly rollups of listener sessions, so a year of statistics answers from 8,760 rows
//! per service instead of millions of sessions.
//!
//! A session is stored once, when it ends. An hour can be rolled up for good once it is
//! over: every session that overlapped it has either ended (and is in the database, the
//! recorder writes within a second or two; `GRACE` leaves room) or is still open (the
//! engine lists it). Each rolled hour is recomputed from scratch and replaced, so a rerun
//! after a crash gives the same rows. Hours not rolled yet (the current one) are computed
//! the same way on demand, so an answer never depends on whether the task has run.
//!
//! The same task applies the retention setting: sessions, titles and rollups older than it
//! are deleted in small batches.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use sqlx::FromRow;
use tidecast_engine::Engine;

use crate::db::{Db, now, site};

pub const HOUR: i64 = 3600;
/// How long after an hour ends it is rolled up for good (sessions that ended just before
/// its end may still be on their way to the database).
const GRACE: i64 = 90;
/// How often the task looks for finished hours.
const TICK: Duration = Duration::from_secs(30);
/// Hours rolled in one transaction when catching up.
const CHUNK_HOURS: i64 = 24;
/// How often old rows are deleted, and how many per statement.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: i64 = 5000;
/// Sessions read at most to compute hours on demand.
const ON_DEMAND_SESSIONS: i64 = 500_000;
/// Sessions end on their way to the database within about a second (the recorder writes
/// once a second): the rollup reads them this long after listing the open ones.
const RECORDER_LAG: Duration = Duration::from_secs(2);
/// Where the first hour not rolled up yet is kept (in `settings`).
const WATERMARK: &str = "stats_rolled_until";

/// A listener or viewer session as the rollups see it (times in unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub service_id: i64,
    pub mount: String,
    pub ip: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Bytes sent, for sessions that have ended (open ones count when they end).
    pub bytes: i64,
    pub open: bool,
}

/// One hour of one mount (or of the whole service: `mount` is "").
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow, Serialize)]
pub struct HourRow {
    pub service_id: i64,
    pub mount: String,
    /// Start of the hour (unix s).
    pub hour: i64,
    /// Most listeners connected at once.
    pub peak: i64,
    /// Sessions that started in the hour.
    pub sessions: i64,
    /// Distinct addresses that listened in the hour.
    pub uniques: i64,
    /// Listening time inside the hour.
    pub listen_ms: i64,
    /// Bytes sent by the sessions that ended in the hour.
    pub bytes: i64,
}

/// The rows of every hour in [from, to) (unix s, whole hours) that had listeners: per
/// (service, mount), and per service under mount "". Pure: the tests drive it directly.
pub fn roll(from: i64, to: i64, spans: &[Span]) -> Vec<HourRow> {
    roll_steps(from, to, HOUR, spans)
}

/// [`roll`] with steps of `step` seconds counted from `from` (charts finer than an hour).
pub fn roll_steps(from: i64, to: i64, step: i64, spans: &[Span]) -> Vec<HourRow> {
    // Each span goes to the steps it overlaps.
    let mut by_hour: HashMap<i64, Vec<&Span>> = HashMap::new();
    for s in spans {
        // A session of zero length still happened at its start.
        let end = s.end_ms.max(s.start_ms + 1);
        let first = from + (s.start_ms.div_euclid(1000) - from).div_euclid(step) * step;
        let mut h = first.max(from);
        while h < to && h * 1000 < end {
            by_hour.entry(h).or_default().push(s);
            h += step;
        }
    }
    let mut out = Vec::new();
    let mut hours: Vec<_> = by_hour.into_iter().collect();
    hours.sort_unstable_by_key(|(h, _)| *h);
    for (hour, spans) in hours {
        let mut groups: HashMap<(i64, &str), Vec<&Span>> = HashMap::new();
        for s in spans {
            groups
                .entry((s.service_id, s.mount.as_str()))
                .or_default()
                .push(s);
            groups.entry((s.service_id, "")).or_default().push(s);
        }
        let mut rows: Vec<HourRow> = groups
            .into_iter()
            .map(|((service_id, mount), spans)| one_step(service_id, mount, hour, step, &spans))
            .collect();
        rows.sort_unstable_by(|a, b| (a.service_id, &a.mount).cmp(&(b.service_id, &b.mount)));
        out.extend(rows);
    }
    out
}

fn one_step(service_id: i64, mount: &str, hour: i64, step: i64, spans: &[&Span]) -> HourRow {
    let (h0, h1) = (hour * 1000, (hour + step) * 1000);
    let mut row = HourRow {
        service_id,
        mount: mount.to_owned(),
        hour,
        ..HourRow::default()
    };
    let mut events = Vec::with_capacity(spans.len() * 2);
    let mut ips = HashSet::new();
    for s in spans {
        let end = s.end_ms.max(s.start_ms + 1);
        let (a, b) = (s.start_ms.max(h0), end.min(h1));
        events.push((a, 1i64));
        events.push((b, -1i64));
        row.listen_ms += (s.end_ms.min(h1) - a).max(0);
        ips.insert(s.ip.as_str());
        if (h0..h1).contains(&s.start_ms) {
            row.sessions += 1;
        }
        // The step it ended in: (h0, h1], so a session ending exactly on a boundary counts
        // in the step it was part of (the one that holds it).
        if !s.open && h0 < end && end <= h1 {
            row.bytes += s.bytes;
        }
    }
    // Ends sort before starts at the same instant: a reconnect is one listener, not two.
    events.sort_unstable();
    let mut current = 0;
    for (_, d) in events {
        current += d;
        row.peak = row.peak.max(current);
    }
    row.uniques = ips.len() as i64;
    row
}

/// Stored sessions that overlap [from, to) (unix s), of one service or of all; at most
/// `limit` of them, oldest first.
pub async fn stored_spans(
    db: &Db,
    service: Option<i64>,
    from: i64,
    to: i64,
    limit: i64,
) -> sqlx::Result<Vec<Span>> {
    type Raw = (i64, String, String, i64, i64, i64);
    // `ended_at` is whole seconds: a second of slack, then exact filtering in `roll`.
    let rows: Vec<Raw> = match service {
        Some(id) => {
            sqlx::query_as(
                "SELECT service_id, mount, ip, started_at, duration_ms, bytes FROM listener_sessions \
                 WHERE service_id = $1 AND ended_at >= $2 AND started_at < $3 ORDER BY ended_at LIMIT $4",
            )
            .bind(id)
            .bind(from - 1)
            .bind(to)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT service_id, mount, ip, started_at, duration_ms, bytes FROM listener_sessions \
                 WHERE ended_at >= $1 AND started_at < $2 ORDER BY ended_at LIMIT $3",
            )
            .bind(from - 1)
            .bind(to)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(service_id, mount, ip, start, dur, bytes)| Span {
            service_id,
            mount,
            ip,
            start_ms: start * 1000,
            end_ms: start * 1000 + dur.max(0),
            bytes,
            open: false,
        })
        .collect())
}

/// Sessions open now (of one service or of all), as spans ending now.
pub fn open_spans(engine: &Engine, service: Option<i64>) -> Vec<Span> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    engine
        .open_sessions()
        .into_iter()
        .filter(|s| service.is_none_or(|id| s.service_id.0 == id))
        .map(|s| Span {
            service_id: s.service_id.0,
            mount: s.mount,
            ip: s.ip.to_string(),
            start_ms: s
                .started_at
                .duration_since(UNIX_EPOCH)
                .map_or(now_ms, |d| d.as_millis() as i64),
            end_ms: now_ms,
            bytes: 0,
            open: true,
        })
        .collect()
}

/// The first hour not rolled up yet.
pub async fn watermark(db: &Db) -> sqlx::Result<Option<i64>> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(WATERMARK)
        .fetch_optional(db.pool())
        .await?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// The rows of one service for the hours in [from, to): stored rollups below the
/// watermark, computed now above it. `mount`: one mount, or every row (all mounts and
/// the service's "" total) when `None`.
pub async fn service_hours(
    db: &Db,
    engine: &Engine,
    service: i64,
    mount: Option<&str>,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<HourRow>> {
    let rolled = watermark(db).await?.unwrap_or(i64::MIN).clamp(from, to);
    let mut rows: Vec<HourRow> = if rolled > from {
        let sql = "SELECT service_id, mount, hour, peak, sessions, uniques, listen_ms, bytes \
                   FROM listener_hours WHERE service_id = $1 AND hour >= $2 AND hour < $3";
        match mount {
            Some(m) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{sql} AND mount = $4 ORDER BY hour"
                )))
                .bind(service)
                .bind(from)
                .bind(rolled)
                .bind(m)
                .fetch_all(db.pool())
                .await?
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{sql} ORDER BY hour")))
                    .bind(service)
                    .bind(from)
                    .bind(rolled)
                    .fetch_all(db.pool())
                    .await?
            }
        }
    } else {
        Vec::new()
    };
    rows.extend(not_rolled(db, engine, service, mount, rolled, to).await?);
    Ok(rows)
}

/// The hours in [rolled, to) that are not rolled up yet (the one running, or a backlog),
/// computed from the sessions the way the task will roll them.
async fn not_rolled(
    db: &Db,
    engine: &Engine,
    service: i64,
    mount: Option<&str>,
    rolled: i64,
    to: i64,
) -> sqlx::Result<Vec<HourRow>> {
    if rolled >= to {
        return Ok(Vec::new());
    }
    // A backlog (the first start after an upgrade, a task that keeps failing) is the task's
    // to catch up; an answer computes at most the last two days of it, from a bounded read.
    let rolled = rolled.max(to - 48 * HOUR);
    let mut spans = stored_spans(db, Some(service), rolled, to, ON_DEMAND_SESSIONS).await?;
    spans.extend(open_spans(engine, Some(service)));
    Ok(roll(rolled, to, &spans)
        .into_iter()
        .filter(|r| mount.is_none_or(|m| r.mount == m))
        .collect())
}

/// Like [`service_hours`] for one mount (or the service's totals, ""), with the stored
/// hours already folded into steps of `step` seconds (a whole number of hours) counted from
/// `from` by the database: a year by day is 366 rows to read, not 8,760. Each row's `hour`
/// is the start of its step; peaks are the most of its hours, the rest sums.
pub async fn service_steps(
    db: &Db,
    engine: &Engine,
    service: i64,
    mount: &str,
    from: i64,
    to: i64,
    step: i64,
) -> sqlx::Result<Vec<HourRow>> {
    let rolled = watermark(db).await?.unwrap_or(i64::MIN).clamp(from, to);
    type Raw = (i64, i64, i64, i64, i64, i64);
    let stored: Vec<Raw> = if rolled > from {
        // CASTs: PostgreSQL's SUM of bigint is numeric, which the Any driver cannot read.
        sqlx::query_as(
            "SELECT CAST((hour - $3) / $5 AS BIGINT) AS i, CAST(MAX(peak) AS BIGINT), \
                    CAST(SUM(sessions) AS BIGINT), CAST(MAX(uniques) AS BIGINT), \
                    CAST(SUM(listen_ms) AS BIGINT), CAST(SUM(bytes) AS BIGINT) \
             FROM listener_hours WHERE service_id = $1 AND mount = $2 AND hour >= $3 AND hour < $4 \
             GROUP BY CAST((hour - $3) / $5 AS BIGINT)",
        )
        .bind(service)
        .bind(mount)
        .bind(from)
        .bind(rolled)
        .bind(step)
        .fetch_all(db.pool())
        .await?
    } else {
        Vec::new()
    };
    let mut rows: Vec<HourRow> = stored
        .into_iter()
        .map(|(i, peak, sessions, uniques, listen_ms, bytes)| HourRow {
            service_id: service,
            mount: mount.to_owned(),
            hour: from + i * step,
            peak,
            sessions,
            uniques,
            listen_ms,
            bytes,
        })
        .collect();
    rows.extend(not_rolled(db, engine, service, Some(mount), rolled, to).await?);
    Ok(rows)
}

/// Rolls up every finished hour not rolled yet, then deletes what is past the retention
/// now and then. Runs until the process ends.
///
/// An hour is rolled up for good, so nothing is rolled while the database is away or while
/// sessions of an outage are still spooled (`spooled`, see [`super::spool`]): they belong
/// to hours not rolled yet.
pub async fn run(
    db: Db,
    engine: Engine,
    spooled: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut last_prune: Option<std::time::Instant> = None;
    while !stop.is_cancelled() {
        let ready = db.health().is_up() && spooled.load(std::sync::atomic::Ordering::Relaxed) == 0;
        if ready && let Err(e) = catch_up(&db, &engine, now()).await {
            tracing::warn!("statistics rollup failed (retried in {TICK:?}): {e}");
        }
        if ready && last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(std::time::Instant::now());
            let days = match crate::db::site::load(&db).await {
                Ok(s) => s.stats_retention_days,
                Err(e) => {
                    tracing::warn!(
                        "cannot read the retention setting ({e:?}); keeping everything for now"
                    );
                    i64::MAX / 86_400 / 2
                }
            };
            match prune(&db, now() - days * 86_400).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    rows = n,
                    "statistics older than the retention period deleted"
                ),
                Err(e) => tracing::warn!("cannot delete old statistics: {e}"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = stop.cancelled() => {}
        }
    }
}

/// Every session that overlaps [from, to), for rolling it up for good: the open ones are
/// listed first, then (after the recorder has had time to write any that ended meanwhile)
/// the stored ones, and a session found both ways counts once. Read the other way round, a
/// session ending in between would be in neither.
async fn spans_for_rollup(db: &Db, engine: &Engine, from: i64, to: i64) -> sqlx::Result<Vec<Span>> {
    let open = open_spans(engine, None);
    if !open.is_empty() {
        tokio::time::sleep(RECORDER_LAG).await;
    }
    let mut spans = stored_spans(db, None, from, to, i64::MAX).await?;
    // Stored starts are whole seconds; open ones are milliseconds.
    let stored: HashSet<(i64, String, String, i64)> = spans
        .iter()
        .map(|s| {
            (
                s.service_id,
                s.mount.clone(),
                s.ip.clone(),
                s.start_ms / 1000,
            )
        })
        .collect();
    spans.extend(open.into_iter().filter(|o| {
        !stored.contains(&(
            o.service_id,
            o.mount.clone(),
            o.ip.clone(),
            o.start_ms / 1000,
        ))
    }));
    Ok(spans)
}

/// Rolls up the finished hours up to `now - GRACE`. Returns how many hours it rolled.
pub async fn catch_up(db: &Db, engine: &Engine, now: i64) -> sqlx::Result<i64> {
    let done_until = (now - GRACE).div_euclid(HOUR) * HOUR;
    let mut from = match watermark(db).await? {
        Some(w) => w,
        None => {
            // First run: from the oldest stored session (or now, with none).
            let oldest: Option<i64> =
                sqlx::query_scalar("SELECT MIN(started_at) FROM listener_sessions")
                    .fetch_one(db.pool())
                    .await?;
            oldest.map_or(done_until, |t| t.div_euclid(HOUR) * HOUR)
        }
    };
    let start = from;
    while from < done_until {
        let to = (from + CHUNK_HOURS * HOUR).min(done_until);
        let spans = spans_for_rollup(db, engine, from, to).await?;
        let rows = roll(from, to, &spans);
        let mut tx = db.pool().begin().await?;
        sqlx::query("DELETE FROM listener_hours WHERE hour >= $1 AND hour < $2")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        for r in &rows {
            // A service deleted since its sessions ended: nothing to keep.
            sqlx::query(
                "INSERT INTO listener_hours (service_id, mount, hour, peak, sessions, uniques, listen_ms, bytes) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)",
            )
            .bind(r.service_id)
            .bind(&r.mount)
            .bind(r.hour)
            .bind(r.peak)
            .bind(r.sessions)
            .bind(r.uniques)
            .bind(r.listen_ms)
            .bind(r.bytes)
            .execute(&mut *tx)
            .await?;
        }
        site::put_setting(&mut *tx, WATERMARK, &to.to_string()).await?;
        tx.commit().await?;
        from = to;
    }
    if from == start {
        // Nothing to roll; make sure a first run still leaves its mark.
        if watermark(db).await?.is_none() {
            site::put_setting(db.pool(), WATERMARK, &from.to_string()).await?;
        }
    }
    Ok((from - start) / HOUR)
}

/// Deletes sessions, titles and rollups from before `cutoff` (unix s), a batch at a time
/// so listeners' sessions are never held up behind one long delete. Returns rows deleted.
pub async fn prune(db: &Db, cutoff: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    for (table, column) in [
        ("listener_sessions", "ended_at"),
        ("title_history", "started_at"),
        ("listener_hours", "hour"),
    ] {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < $1 LIMIT {PRUNE_BATCH})"
        );
        loop {
            let n = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(cutoff)
                .execute(db.pool())
                .await?
                .rows_affected();
            total += n;
            if n < PRUNE_BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(service: i64, mount: &str, ip: &str, start_s: i64, end_s: i64, bytes: i64) -> Span {
        Span {
            service_id: service,
            mount: mount.into(),
            ip: ip.into(),
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
            bytes,
            open: false,
        }
    }

    #[test]
    fn hours_of_sessions() {
        let h = 100 * HOUR;
        let spans = [
            // Two listeners overlap in the first hour; one of them runs into the second.
            span(1, "/live", "10.0.0.1", h + 60, h + HOUR + 1800, 1000),
            span(1, "/live", "10.0.0.2", h + 600, h + 1200, 50),
            // The same address again later (not a second unique), on another mount.
            span(1, "/aac", "10.0.0.2", h + 2000, h + 2100, 7),
            // Another service.
            span(2, "/live", "10.0.0.9", h + 10, h + 20, 3),
        ];
        let rows = roll(h, h + 2 * HOUR, &spans);
        let get = |s: i64, m: &str, hour: i64| {
            rows.iter()
                .find(|r| r.service_id == s && r.mount == m && r.hour == hour)
                .cloned()
                .unwrap_or_else(|| panic!("no row {s} {m:?} {hour}: {rows:?}"))
        };
        let all = get(1, "", h);
        assert_eq!((all.peak, all.sessions, all.uniques), (2, 3, 2));
        assert_eq!(all.listen_ms, (HOUR - 60 + 600 + 100) * 1000);
        assert_eq!(
            all.bytes, 57,
            "the long session's bytes count in the hour it ended"
        );
        let live = get(1, "/live", h);
        assert_eq!((live.peak, live.sessions, live.uniques), (2, 2, 2));
        let next = get(1, "", h + HOUR);
        assert_eq!(
            (next.peak, next.sessions, next.uniques, next.bytes),
            (1, 0, 1, 1000)
        );
        assert_eq!(next.listen_ms, 1_800_000);
        assert_eq!(get(2, "", h).peak, 1);
        // First hour: service 1 (total, /live, /aac) and service 2 (total, /live); then 1 (total, /live).
        assert_eq!(rows.len(), 3 + 2 + 2, "{rows:?}");
    }

    #[test]
    fn reconnects_and_open_sessions() {
        let h = 7 * HOUR;
        let mut open = span(1, "/m", "a", h + 100, h + HOUR + 500, 999);
        open.open = true;
        let spans = [
            span(1, "/m", "b", h, h + 100, 1),
            // Back-to-back: one listener at a time.
            span(1, "/m", "b", h + 100, h + 200, 1),
            open,
            // Zero length: a session, counted at its start.
            span(1, "/m", "c", h + 3000, h + 3000, 0),
        ];
        let rows = roll(h, h + HOUR, &spans);
        let r = rows.iter().find(|r| r.mount == "/m").expect("row");
        assert_eq!(r.peak, 2);
        assert_eq!(r.sessions, 4);
        assert_eq!(r.uniques, 3);
        assert_eq!(r.bytes, 2, "an open session's bytes count when it ends");
        // Outside [from, to): nothing.
        assert!(roll(h + HOUR, h + 2 * HOUR, &spans[..2]).is_empty());
    }
}
