//! Statistics benchmark, on SQLite and PostgreSQL:
//!
//! (a) ingest: 10,000 listener sessions ending (one per listener of 10,000 concurrent
//!     listeners over 100 services) go through the server's own statistics writer
//!     (`stats::Recorder`, batched transactions) until all are stored; then the hour they
//!     fall in is rolled up (`stats::rollup::catch_up`, what the server's task runs).
//! (b) history: one year of hourly rollups for 1,000 services (8.76 million rows) in the
//!     database, a real `tidecast` server on it, and `GET …/stats/history` for a year of
//!     one random service at a daily step (366 points) and a 6-hour step (1,464 points),
//!     sequential requests on one keep-alive connection.
//!
//! Run with `benches/run.sh stats` (release build), or by hand:
//! `TIDECAST_BIN=target/release/tidecast target/release/stats_rollup [--runs 3] [--backend sqlite|postgres] [--services 1000]`.
//! Figures are medians over `--runs`.

#![allow(clippy::unwrap_used)] // a benchmark driver: failing loudly is the point

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tidecast_control::admission::DbAdmission;
use tidecast_control::db::{Backend as DbBackend, Db};
use tidecast_control::stats::Recorder;
use tidecast_control::stats::rollup::{self, HOUR};
use tidecast_engine::events::{Events, ListenerSession};
use tidecast_engine::{Engine, ServiceId};
use tidecast_tests::{Backend, Server, Store};
use tokio_util::sync::CancellationToken;

const LISTENERS: usize = 10_000;
const INGEST_SERVICES: i64 = 100;
const REQUESTS: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn services(db: &Db, n: i64) {
    let sql = match db.backend() {
        DbBackend::Sqlite => {
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $1) \
             INSERT INTO services (owner_id, name, slug, kind, status, source_password, stream_key, \
               max_listeners, max_bitrate_kbps, disk_quota_mb, dvr_minutes, transcode, autodj, created_at, updated_at) \
             SELECT 1, 'Bench ' || x, 'bench-' || x, 'radio', 'active', 'pw', 'key-' || x, 100000, 128, 100, 0, 0, 0, 0, 0 FROM n"
        }
        DbBackend::Postgres => {
            "INSERT INTO services (owner_id, name, slug, kind, status, source_password, stream_key, \
               max_listeners, max_bitrate_kbps, disk_quota_mb, dvr_minutes, transcode, autodj, created_at, updated_at) \
             SELECT 1, 'Bench ' || x, 'bench-' || x, 'radio', 'active', 'pw', 'key-' || x, 100000, 128, 100, 0, 0, 0, 0, 0 \
             FROM generate_series(1, CAST($1 AS BIGINT)) AS x"
        }
    };
    sqlx::query(sql).bind(n).execute(db.pool()).await.unwrap();
}

/// A new database with the admin (whose password the test server expects) and `n` services.
async fn fresh(backend: Backend, n: i64) -> (Store, Db) {
    let store = Store::new(backend).await;
    std::fs::create_dir_all(store.data_dir()).unwrap();
    let db = Db::connect(&store.database_url).await.unwrap();
    db.migrate().await.unwrap();
    tidecast_control::bootstrap::ensure_admin(&db, Some(tidecast_tests::ADMIN_PASSWORD.into()))
        .await
        .unwrap();
    services(&db, n).await;
    (store, db)
}

/// (a): seconds to store 10,000 sessions through the Recorder, and to roll up their hour.
async fn ingest(backend: Backend) -> (f64, f64, i64) {
    let (store, db) = fresh(backend, INGEST_SERVICES).await;
    // Sessions that ended in the last finished hour, each up to 50 minutes long.
    let now = tidecast_control::db::now();
    let hour = (now / HOUR - 1) * HOUR;
    let stop = CancellationToken::new();
    let (recorder, task) = Recorder::spawn(
        db.clone(),
        &store.data_dir().join("spool"),
        Default::default(),
        stop.clone(),
    );
    let started = Instant::now();
    for i in 0..LISTENERS {
        let i64i = i as i64;
        let len = 60 + (i64i * 7919) % 3000;
        let start = hour + (i64i * 104_729) % (HOUR - len);
        recorder.listener_ended(ListenerSession {
            service_id: ServiceId(1 + i64i % INGEST_SERVICES),
            mount: format!("bench-{}", 1 + i64i % INGEST_SERVICES),
            ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32)),
            user_agent: Some(format!("Player/{}", i % 20)),
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(start as u64),
            duration: Duration::from_secs(len as u64),
            bytes: 16_000 * len as u64,
        });
    }
    loop {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM listener_sessions")
            .fetch_one(db.pool())
            .await
            .unwrap();
        if n as usize >= LISTENERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stored = started.elapsed().as_secs_f64();
    stop.cancel();
    let _ = task.await;
    // The rollup of that hour (the watermark starts there, as after a first run).
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ('stats_rolled_until', $1, 0)",
    )
    .bind(hour.to_string())
    .execute(db.pool())
    .await
    .unwrap();
    let engine = Engine::new(Arc::new(DbAdmission::new(db.clone())));
    let started = Instant::now();
    let hours = rollup::catch_up(&db, &engine, hour + HOUR + 120)
        .await
        .unwrap();
    let rolled = started.elapsed().as_secs_f64();
    assert_eq!(hours, 1);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM listener_hours")
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    (stored, rolled, rows)
}

/// (b): seconds to fill a year of rollups; then per-request latencies (ms) of a year's
/// history at a daily and a 6-hour step, through a real server.
async fn history(backend: Backend, n: i64, runs: usize) -> (f64, Vec<f64>, Vec<f64>, usize) {
    let (store, db) = fresh(backend, n).await;
    let now = tidecast_control::db::now();
    let top = now / HOUR * HOUR;
    let first = top - 8760 * HOUR;
    let started = Instant::now();
    // One row per service and hour (the service totals, which history reads), with
    // made-up but plausible figures.
    let sql = match db.backend() {
        DbBackend::Sqlite => {
            "WITH RECURSIVE h(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM h WHERE x < 8759) \
             INSERT INTO listener_hours (service_id, mount, hour, peak, sessions, uniques, listen_ms, bytes) \
             SELECT s.id, '', $1 + x * 3600, (s.id * 7 + x) % 97, (s.id + x) % 31, (s.id + x) % 29, \
                    ((s.id + x) % 97) * 1800000, ((s.id + x) % 97) * 57600000 FROM services s CROSS JOIN h"
        }
        DbBackend::Postgres => {
            "INSERT INTO listener_hours (service_id, mount, hour, peak, sessions, uniques, listen_ms, bytes) \
             SELECT s.id, '', $1 + x * 3600, (s.id * 7 + x) % 97, (s.id + x) % 31, (s.id + x) % 29, \
                    ((s.id + x) % 97) * 1800000, ((s.id + x) % 97) * 57600000 \
             FROM services s CROSS JOIN generate_series(0, 8759) AS x"
        }
    };
    sqlx::query(sql)
        .bind(first)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ('stats_rolled_until', $1, 0)",
    )
    .bind(top.to_string())
    .execute(db.pool())
    .await
    .unwrap();
    if db.backend() == DbBackend::Postgres {
        sqlx::query("ANALYZE listener_hours")
            .execute(db.pool())
            .await
            .unwrap();
    }
    let filled = started.elapsed().as_secs_f64();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM listener_hours")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(rows, n * 8760);
    db.close().await;

    let srv = Server::start(&store).await;
    let token = srv.admin_token().await;
    let client = reqwest::Client::new();
    let mut daily = Vec::new();
    let mut six_hourly = Vec::new();
    let mut points = 0;
    for run in 0..runs {
        for i in 0..REQUESTS {
            let id = 1 + ((i * 7919 + run * 104_729) as i64) % n;
            for (step, out) in [(86_400, &mut daily), (6 * HOUR, &mut six_hourly)] {
                let url = srv.url(&format!(
                    "/api/v1/services/{id}/stats/history?from={}&to={now}&step={step}",
                    now - 365 * 86_400
                ));
                let t = Instant::now();
                let resp = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let v: serde_json::Value = resp.json().await.unwrap();
                out.push(t.elapsed().as_secs_f64() * 1000.0);
                if step == 86_400 {
                    points = v["points"].as_array().unwrap().len();
                    let peak = v["points"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["listeners"].as_i64().unwrap())
                        .max();
                    assert!(
                        peak.unwrap_or(0) > 0,
                        "a year of rollups answers with listeners"
                    );
                }
            }
        }
    }
    (filled, daily, six_hourly, points)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tidecast_tests::install_tls();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = arg("--runs").map_or(3, |v| v.parse().unwrap());
    let n: i64 = arg("--services").map_or(1000, |v| v.parse().unwrap());
    let backends: Vec<Backend> = match arg("--backend").as_deref() {
        Some("sqlite") => vec![Backend::Sqlite],
        Some("postgres") => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    for b in backends {
        let mut stored = Vec::new();
        let mut rolled = Vec::new();
        let mut rows = 0;
        for _ in 0..runs {
            let (s, r, n) = ingest(b).await;
            stored.push(s);
            rolled.push(r);
            rows = n;
        }
        let s = median(stored);
        println!(
            "{b:?} ingest: {LISTENERS} sessions stored in {:.2} s ({:.0} sessions/s); their hour rolled up in {:.0} ms ({rows} rows)",
            s,
            LISTENERS as f64 / s,
            median(rolled) * 1000.0
        );
        let (filled, daily, six, points) = history(b, n, runs).await;
        println!(
            "{b:?} history: {} rows ({n} services x 8760 h) filled in {filled:.0} s; a year by day ({points} points): p50 {:.2} ms, p99 {:.2} ms; by 6 h: p50 {:.2} ms, p99 {:.2} ms ({} requests each)",
            n * 8760,
            percentile(&daily, 0.5),
            percentile(&daily, 0.99),
            percentile(&six, 0.5),
            percentile(&six, 0.99),
            daily.len()
        );
    }
}
