//! A soak: the server under churn — listeners and viewers coming and going, DJs handing
//! over, AutoDJ skipping, a publisher stopping and starting, uploads and deletions, API
//! writes — while its memory, file descriptors, threads and tasks are sampled from
//! `/metrics`. After a warm-up they must stay flat (no leak), and the log must hold no error
//! nobody caused.
//!
//! CI runs 5 minutes (`TIDECAST_SOAK_SECS`, default 300); `benches/run.sh soak` runs the hour
//! and writes the figures (`TIDECAST_SOAK_REPORT`, JSON) that RELIABILITY.md quotes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tidecast_tests::icecast::{Proc, ffmpeg_tone, radio, wait_live};
use tidecast_tests::media::{autodj, item_ids, tone_file, upload};
use tidecast_tests::rtmp::{Publish, ffmpeg_publish, segments_of, video};
use tidecast_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One `/metrics` reading of the process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_s: f64,
    rss_mb: f64,
    fds: f64,
    threads: f64,
    tasks: f64,
    listeners: f64,
}

/// What the churn did, counted (so the report says the load was real).
#[derive(Debug, Default)]
struct Done {
    listeners: AtomicU64,
    listener_bytes: AtomicU64,
    segments: AtomicU64,
    dj_sets: AtomicU64,
    publishes: AtomicU64,
    skips: AtomicU64,
    uploads: AtomicU64,
    deletes: AtomicU64,
    api_writes: AtomicU64,
    api_failures: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

async fn sample(srv: &Server, token: &str, start: Instant) -> Sample {
    let (status, _, body) = srv
        .fetch("/metrics", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    let metrics = parse_metrics(&text);
    let one = |name: &str| {
        metrics
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
            .sum::<f64>()
    };
    Sample {
        at_s: start.elapsed().as_secs_f64(),
        rss_mb: one("process_resident_memory_bytes") / 1e6,
        fds: one("process_open_fds"),
        threads: one("process_threads"),
        tasks: one("tidecast_runtime_tasks"),
        listeners: one("tidecast_icecast_listeners"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A listener that stays `hold` and leaves.
fn listener(addr: String, slug: String, hold: Duration, done: Arc<Done>) {
    tokio::spawn(async move {
        let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
            return;
        };
        let req = format!("GET /{slug} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            return;
        }
        bump(&done.listeners);
        let mut buf = vec![0u8; 16 * 1024];
        let _ = tokio::time::timeout(hold, async {
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                done.listener_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
        })
        .await;
    });
}

/// A viewer that follows the live playlist for `hold` and leaves.
fn viewer(base: String, hold: Duration, done: Arc<Done>) {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let end = Instant::now() + hold;
        let mut seen = std::collections::HashSet::new();
        while Instant::now() < end {
            if let Ok(r) = client.get(format!("{base}index.m3u8")).send().await
                && let Ok(text) = r.text().await
            {
                for (uri, _) in segments_of(&text) {
                    if seen.insert(uri.clone())
                        && let Ok(r) = client.get(format!("{base}{uri}")).send().await
                        && r.bytes().await.is_ok()
                    {
                        bump(&done.segments);
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

fn tracks(dir: &Path, n: u32, prefix: &str) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let hz = 300 + 40 * i;
            let title = format!("{prefix} {i}");
            tone_file(
                dir,
                &format!("{prefix}-{i}.mp3"),
                hz,
                6.0,
                (0.2, 0.2),
                (&title, "Soak", "Churn"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_leaves_memory_fds_threads_and_tasks_flat() {
    let secs: u64 = std::env::var("TIDECAST_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let run = Duration::from_secs(secs);
    // The issue's hour is judged after its first ten minutes; a short run after 40 %.
    let warm_up = Duration::from_secs((secs * 2 / 5).min(600));

    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let done = Arc::new(Done::default());
    let dir = tempfile::tempdir().unwrap();

    // A station on AutoDJ with two DJs who take turns.
    let (station_id, station, _) = radio(&srv, "soak-fm", json!({"autodj": true})).await;
    let owner = srv.login("soak-fm-owner", "soak-fm-owner-password").await;
    let files = tracks(dir.path(), 4, "rotation");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (status, up) = upload(&srv, &owner, station_id, &paths).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let (status, p) = srv
        .post(
            &format!("/api/v1/services/{station_id}/playlists"),
            &owner,
            json!({"name": "Rotation", "order": "shuffle", "media": item_ids(&up)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (status, s) = srv
        .call(
            "PUT",
            &format!("/api/v1/services/{station_id}/autodj"),
            Some(&owner),
            Some(json!({"crossfade_s": 1.0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let (status, s) = autodj(&srv, &owner, station_id, "start").await;
    assert!(status.is_success(), "{s}");
    wait_live(&srv, &station);
    for (name, priority) in [("alice", 70), ("bob", 60)] {
        let (status, dj) = srv
            .post(
                &format!("/api/v1/services/{station_id}/djs"),
                &owner,
                json!({"username": name, "password": format!("{name}-password"), "priority": priority}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{dj}");
    }
    // A video channel whose publisher comes and goes.
    let (video_id, channel, key) = video(&srv, "soak-tv", json!({})).await;
    let uploads = tracks(dir.path(), 6, "upload");

    let start = Instant::now();
    let end = start + run;
    let mut samples = Vec::new();
    let mut tick = 0u64;
    let mut dj: Option<(Proc, Instant)> = None;
    let mut publisher: Option<(Proc, Instant)> = None;
    let mut uploaded: std::collections::VecDeque<i64> = Default::default();
    while Instant::now() < end {
        tick += 1;
        // Every second: listeners arrive and leave after 1–8 s; viewers after 5–15 s.
        for i in 0..4 {
            let hold = Duration::from_millis(1000 + (tick * 7 + i * 13) % 7000);
            listener(
                srv.icecast.clone(),
                station.clone(),
                hold,
                Arc::clone(&done),
            );
        }
        if tick.is_multiple_of(3) {
            let hold = Duration::from_secs(5 + tick % 10);
            viewer(
                srv.url(&format!("/hls/{channel}/")),
                hold,
                Arc::clone(&done),
            );
        }
        // DJs: alice and bob take turns, 20 s on, 10 s off (AutoDJ between them).
        if dj.as_ref().is_none_or(|(_, until)| Instant::now() > *until) && tick.is_multiple_of(30) {
            let name = if (tick / 30).is_multiple_of(2) {
                "alice"
            } else {
                "bob"
            };
            let proc = ffmpeg_tone(
                &srv,
                &station,
                name,
                &format!("{name}-password"),
                false,
                20,
                "Soak DJ",
                500,
            );
            dj = Some((proc, Instant::now() + Duration::from_secs(25)));
            bump(&done.dj_sets);
        }
        // The publisher: 25 s on air, 5 s off.
        if publisher
            .as_ref()
            .is_none_or(|(_, until)| Instant::now() > *until)
        {
            let p = ffmpeg_publish(
                &srv,
                &key,
                Publish {
                    seconds: 25,
                    gop_secs: 1,
                    bframes: false,
                },
            );
            publisher = Some((p, Instant::now() + Duration::from_secs(30)));
            bump(&done.publishes);
        }
        if tick.is_multiple_of(15) {
            let (status, _) = autodj(&srv, &owner, station_id, "skip").await;
            if status.is_success() {
                bump(&done.skips);
            }
        }
        // Uploads and deletions: the library holds at most three of them.
        if tick.is_multiple_of(20) {
            let file = &uploads[(tick / 20) as usize % uploads.len()];
            let (status, up) = upload(&srv, &owner, station_id, &[file.as_path()]).await;
            if status == StatusCode::CREATED {
                bump(&done.uploads);
                uploaded.extend(item_ids(&up).iter().filter_map(Value::as_i64));
            } else {
                bump(&done.api_failures);
                eprintln!("upload: {status} {up}");
            }
            while uploaded.len() > 3 {
                let id = uploaded.pop_front().unwrap();
                let (status, _) = srv
                    .call(
                        "DELETE",
                        &format!("/api/v1/services/{station_id}/media/{id}"),
                        Some(&owner),
                        None,
                    )
                    .await;
                if status.is_success() {
                    bump(&done.deletes);
                }
            }
        }
        // API writes: renames, DJ edits.
        let (status, body) = srv
            .call(
                "PATCH",
                &format!("/api/v1/services/{video_id}"),
                Some(&admin),
                Some(json!({"name": format!("Soak TV {}", tick % 5)})),
            )
            .await;
        if status.is_success() {
            bump(&done.api_writes);
        } else {
            bump(&done.api_failures);
            eprintln!("PATCH service: {status} {body}");
        }
        if tick.is_multiple_of(5) {
            samples.push(sample(&srv, &admin, start).await);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(dj);
    drop(publisher);

    let steady: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.at_s >= warm_up.as_secs_f64())
        .collect();
    assert!(
        steady.len() >= 8,
        "too few samples after the warm-up: {}",
        steady.len()
    );
    let quarter = (steady.len() / 4).max(2);
    let (first, last) = (&steady[..quarter], &steady[steady.len() - quarter..]);
    let growth = |f: fn(&Sample) -> f64| {
        (
            median(first.iter().map(f).collect()),
            median(last.iter().map(f).collect()),
        )
    };
    let rss = growth(|s| s.rss_mb);
    let fds = growth(|s| s.fds);
    let threads = growth(|s| s.threads);
    let tasks = growth(|s| s.tasks);
    let counts = format!(
        "listeners {}, {} MB heard, segments {}, DJ sets {}, publishes {}, skips {}, uploads {}, deletes {}, API writes {} ({} failed)",
        done.listeners.load(Ordering::Relaxed),
        done.listener_bytes.load(Ordering::Relaxed) / 1_000_000,
        done.segments.load(Ordering::Relaxed),
        done.dj_sets.load(Ordering::Relaxed),
        done.publishes.load(Ordering::Relaxed),
        done.skips.load(Ordering::Relaxed),
        done.uploads.load(Ordering::Relaxed),
        done.deletes.load(Ordering::Relaxed),
        done.api_writes.load(Ordering::Relaxed),
        done.api_failures.load(Ordering::Relaxed),
    );
    let report = json!({
        "seconds": secs,
        "warm_up_s": warm_up.as_secs(),
        "rss_mb": [rss.0, rss.1],
        "open_fds": [fds.0, fds.1],
        "threads": [threads.0, threads.1],
        "tasks": [tasks.0, tasks.1],
        "churn": counts,
        "samples": samples
            .iter()
            .map(|s| json!([s.at_s, s.rss_mb, s.fds, s.threads, s.tasks, s.listeners]))
            .collect::<Vec<_>>(),
        "sample_columns": ["at_s", "rss_mb", "open_fds", "threads", "tasks", "listeners"],
    });
    eprintln!("soak: {}", serde_json::to_string(&report["churn"]).unwrap());
    eprintln!(
        "soak: after warm-up, first → last quarter medians: RSS {:.1} → {:.1} MB, fds {} → {}, threads {} → {}, tasks {} → {}",
        rss.0, rss.1, fds.0, fds.1, threads.0, threads.1, tasks.0, tasks.1
    );
    if let Ok(path) = std::env::var("TIDECAST_SOAK_REPORT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    }

    // The churn happened.
    assert!(done.listeners.load(Ordering::Relaxed) > 100, "{counts}");
    assert!(done.segments.load(Ordering::Relaxed) > 10, "{counts}");
    assert!(
        done.uploads.load(Ordering::Relaxed) > 0 && done.skips.load(Ordering::Relaxed) > 0,
        "{counts}"
    );
    assert_eq!(
        done.api_failures.load(Ordering::Relaxed),
        0,
        "{counts}\n{}",
        srv.logs()
    );
    // Flat: what the churn holds comes and goes; a leak grows with time. The slack covers
    // the churn's own swing between two readings (listeners, viewers and ffmpeg sessions
    // present at that moment), not growth over the run.
    assert!(
        fds.1 <= fds.0 + 40.0,
        "file descriptors grew: {fds:?}\n{report}"
    );
    assert!(
        tasks.1 <= tasks.0 + 100.0,
        "tasks grew: {tasks:?}\n{report}"
    );
    assert!(
        threads.1 <= threads.0 + 8.0,
        "threads grew: {threads:?}\n{report}"
    );
    assert!(
        rss.1 <= rss.0 * 1.25 + 16.0,
        "memory grew: {rss:?}\n{report}"
    );
    // No error nobody caused: every ERROR line in the log is a failure of this test.
    let logs = srv.logs();
    let errors: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#) || l.contains("panicked"))
        .collect();
    assert!(
        errors.is_empty(),
        "unexplained errors in the log:\n{}",
        errors.join("\n")
    );
}
