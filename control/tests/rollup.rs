//! Hourly rollups on a real database (SQLite and PostgreSQL): sessions from past hours are
//! rolled up once, the stored rows answer exactly what computing them from the sessions
//! does, a rerun changes nothing, and retention deletes what is older than it. (The
//! end-to-end tests cannot wait for an hour to pass; this is the same code the server's
//! task runs, driven with a chosen "now".)

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use tidecast_control::admission::DbAdmission;
use tidecast_control::bootstrap;
use tidecast_control::db::Db;
use tidecast_control::db::services::{self, Limits, NewService, TransferAction};
use tidecast_control::stats::rollup::{self, HOUR, HourRow};
use tidecast_engine::Engine;
use tidecast_tests::{Store, both_backends};

async fn session(db: &Db, service: i64, mount: &str, ip: &str, start: i64, secs: i64, bytes: i64) {
    sqlx::query(
        "INSERT INTO listener_sessions (service_id, mount, ip, user_agent, started_at, duration_ms, bytes, ended_at) \
         VALUES ($1, $2, $3, 'VLC/3.0', $4, $5, $6, $7)",
    )
    .bind(service)
    .bind(mount)
    .bind(ip)
    .bind(start)
    .bind(secs * 1000)
    .bind(bytes)
    .bind(start + secs)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn service(db: &Db, slug: &str) -> i64 {
    let owner: i64 = sqlx::query_scalar("SELECT id FROM users ORDER BY id LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    services::insert(
        db.pool(),
        &NewService {
            owner_id: owner,
            name: slug,
            slug,
            kind: tidecast_control::model::Kind::Radio,
            source_password: "pw",
            stream_key: &format!("key-{slug}"),
            limits: Limits {
                max_listeners: 100,
                max_bitrate_kbps: 128,
                disk_quota_mb: 100,
                dvr_minutes: 0,
                transcode: false,
                autodj: false,
                transfer_bytes: 0,
                transfer_action: TransferAction::Report,
                restream: tidecast_control::db::services::TargetKinds::all(),
                relay: true,
            },
        },
    )
    .await
    .unwrap()
}

fn sorted(mut rows: Vec<HourRow>) -> Vec<HourRow> {
    rows.sort_by(|a, b| (a.hour, &a.mount).cmp(&(b.hour, &b.mount)));
    rows
}

both_backends! {
    async fn rollups_match_sessions_and_retention_prunes(b: Backend) {
        let store = Store::new(b).await;
        std::fs::create_dir_all(store.data_dir()).unwrap();
        let db = Db::connect(&store.database_url).await.unwrap();
        db.migrate().await.unwrap();
        bootstrap::ensure_admin(&db, Some("admin-password-1".into())).await.unwrap();
        let engine = Engine::new(Arc::new(DbAdmission::new(db.clone())));
        let (a, other) = (service(&db, "alpha").await, service(&db, "beta").await);

        // Three days ago, hour-aligned; "now" is two days later.
        let t0 = (1_800_000_000 / HOUR) * HOUR;
        let now = t0 + 48 * HOUR + 600;
        session(&db, a, "/live", "10.0.0.1", t0 + 60, 3 * HOUR, 9000).await; // spans 4 hours
        session(&db, a, "/live", "10.0.0.2", t0 + 120, 600, 100).await;
        session(&db, a, "/aac", "10.0.0.2", t0 + HOUR + 5, 60, 7).await;
        session(&db, other, "/b", "10.0.0.9", t0 + 10, 20, 3).await;
        // Far in the past: retention will take it.
        session(&db, a, "/live", "10.0.0.3", t0 - 400 * 86_400, 60, 1).await;

        let range = (t0, t0 + 24 * HOUR);
        let computed = sorted(rollup::service_hours(&db, &engine, a, None, range.0, range.1).await.unwrap());
        assert_eq!(rollup::watermark(&db).await.unwrap(), None);

        let rolled = rollup::catch_up(&db, &engine, now).await.unwrap();
        assert!(rolled >= 48, "{rolled} hours rolled");
        let mark = rollup::watermark(&db).await.unwrap().unwrap();
        assert_eq!(mark, t0 + 48 * HOUR, "up to the last finished hour");
        let stored = sorted(rollup::service_hours(&db, &engine, a, None, range.0, range.1).await.unwrap());
        assert_eq!(stored, computed, "the stored rollups answer what the sessions do");

        let total: Vec<&HourRow> = stored.iter().filter(|r| r.mount.is_empty()).collect();
        assert_eq!(total.len(), 4, "{total:?}");
        assert_eq!((total[0].peak, total[0].sessions, total[0].uniques), (2, 2, 2));
        assert_eq!(total[1].peak, 2, "the long session and the /aac one overlap");
        assert_eq!(total[3].bytes, 9000, "bytes count in the hour the session ended");
        let listened: i64 = total.iter().map(|r| r.listen_ms).sum();
        assert_eq!(listened, (3 * HOUR + 600 + 60) * 1000);

        // Folded into 2-hour steps by the database: the same figures.
        let steps = rollup::service_steps(&db, &engine, a, "", range.0, range.1, 2 * HOUR).await.unwrap();
        assert_eq!(steps.iter().map(|r| r.listen_ms).sum::<i64>(), listened);
        assert_eq!(steps.iter().map(|r| r.bytes).sum::<i64>(), total.iter().map(|r| r.bytes).sum::<i64>());
        assert_eq!((steps[0].hour, steps[0].peak, steps[0].sessions), (t0, 2, 3), "{steps:?}");
        assert_eq!(steps.len(), 2, "hours 0-1 and 2-3: {steps:?}");

        // A rerun rolls nothing new and leaves the rows as they are.
        assert_eq!(rollup::catch_up(&db, &engine, now).await.unwrap(), 0);
        let count = |sql: &'static str| {
            let db = db.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await.unwrap() }
        };
        let rows = count("SELECT COUNT(*) FROM listener_hours").await;
        assert_eq!(rollup::catch_up(&db, &engine, now + 60).await.unwrap(), 0);
        assert_eq!(count("SELECT COUNT(*) FROM listener_hours").await, rows);

        // Retention of 180 days: the 400-day-old session and its hour go, nothing else.
        let before = count("SELECT COUNT(*) FROM listener_sessions").await;
        let deleted = rollup::prune(&db, now - 180 * 86_400).await.unwrap();
        assert_eq!(deleted, 3, "one session, its hour row per mount and for the service");
        assert_eq!(count("SELECT COUNT(*) FROM listener_sessions").await, before - 1);
        assert_eq!(count("SELECT COUNT(*) FROM listener_hours").await, rows - 2);

        // A deleted service takes its rollups with it.
        sqlx::query("DELETE FROM services WHERE id = $1").bind(other).execute(db.pool()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM listener_hours WHERE service_id = $1")
            .bind(other).fetch_one(db.pool()).await.unwrap();
        assert_eq!(left, 0);
    }
}
