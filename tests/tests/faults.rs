//! Real faults under real load: the database stopped while a radio station and a live video
//! channel are on air with their audience; the media disk full.
//!
//! The database is a PostgreSQL server of the test's own ([`tidecast_tests::pg`]), stopped
//! and started as an operator would; the shared test server is never touched.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tidecast_tests::disk::SmallDisk;
use tidecast_tests::icecast::{ffmpeg_source, radio, set_title, wait_live};
use tidecast_tests::media::{tone_file, upload};
use tidecast_tests::pg::PrivatePostgres;
use tidecast_tests::rtmp::{Publish, ffmpeg_publish, segments_of, video, wait_playlist};
use tidecast_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

const LISTENERS: usize = 50;
/// Of the listeners, these leave while the database is down: their sessions end then.
const LEAVING: usize = 10;
const VIEWERS: usize = 20;
const OUTAGE: Duration = Duration::from_secs(30);

/// A raw Icecast listener counting the bytes it receives until its task is aborted (which
/// closes the connection: the server ends the session).
fn listener(srv: &Server, slug: &str, received: Arc<AtomicU64>) -> JoinHandle<()> {
    let addr = srv.icecast.clone();
    let req = format!("GET /{slug} HTTP/1.0\r\nUser-Agent: faults-test\r\n\r\n");
    tokio::spawn(async move {
        let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
            return;
        };
        if s.write_all(req.as_bytes()).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                return;
            }
            received.fetch_add(n as u64, Ordering::Relaxed);
        }
    })
}

/// An HLS viewer: reloads the live playlist every second and fetches each new segment,
/// counting the segments it got.
fn viewer(srv: &Server, slug: &str, got: Arc<AtomicU64>) -> JoinHandle<()> {
    let base = srv.url(&format!("/hls/{slug}/"));
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if let Ok(r) = client.get(format!("{base}index.m3u8")).send().await
                && let Ok(text) = r.text().await
            {
                for (uri, _) in segments_of(&text) {
                    if seen.insert(uri.clone())
                        && let Ok(r) = client.get(format!("{base}{uri}")).send().await
                        && r.status().is_success()
                        && r.bytes().await.is_ok_and(|b| !b.is_empty())
                    {
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

fn total(counters: &[Arc<AtomicU64>]) -> Vec<u64> {
    counters.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

async fn count(db: &str, sql: &str, id: i64) -> i64 {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db)
        .await
        .unwrap();
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_keeps_media_flowing_and_loses_no_statistics() {
    sqlx::any::install_default_drivers();
    let pg = PrivatePostgres::start();
    let store = Store::on_postgres(pg.url());
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;

    // On air: a radio station with its audience, a video channel with its viewers.
    let (radio_id, station, pw) = radio(&srv, "outage-fm", json!({})).await;
    let _source = ffmpeg_source(&srv, &station, "source", &pw, false, 600);
    wait_live(&srv, &station);
    set_title(&srv, &station, &pw, "Before the outage");
    let (video_id, channel, key) = video(&srv, "outage-tv", json!({})).await;
    let _publisher = ffmpeg_publish(
        &srv,
        &key,
        Publish {
            seconds: 600,
            ..Publish::default()
        },
    );
    wait_playlist(&srv, &channel, 2, secs(30)).await;
    let heard: Vec<Arc<AtomicU64>> = (0..LISTENERS).map(|_| Arc::default()).collect();
    let mut listeners: Vec<JoinHandle<()>> = heard
        .iter()
        .map(|c| listener(&srv, &station, Arc::clone(c)))
        .collect();
    let seen: Vec<Arc<AtomicU64>> = (0..VIEWERS).map(|_| Arc::default()).collect();
    let viewers: Vec<JoinHandle<()>> = seen
        .iter()
        .map(|c| viewer(&srv, &channel, Arc::clone(c)))
        .collect();
    eventually(
        within(secs(30)).logs(&srv),
        "every listener and viewer served",
        async || {
            let (h, s) = (total(&heard), total(&seen));
            if h.iter().all(|n| *n > 0) && s.iter().all(|n| *n > 0) {
                Ok(())
            } else {
                Err(format!("bytes {h:?}, segments {s:?}"))
            }
        },
    )
    .await;
    let sessions_before = count(
        &pg.url(),
        "SELECT COUNT(*) FROM listener_sessions WHERE service_id = $1",
        radio_id,
    )
    .await;

    // The database goes away.
    pg.down();
    let down_at = Instant::now();
    let health = eventually(
        within(secs(15)).logs(&srv),
        "health to say the database is down",
        async || {
            let (status, body) = srv.call("GET", "/healthz", None, None).await;
            if status == StatusCode::SERVICE_UNAVAILABLE && body["database"] == "down" {
                Ok(body)
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await;
    assert_eq!(health["status"], "degraded");
    // The API says so at once (not after the pool's wait) in its own error shape, with a
    // time to come back; the answer's latency is for RELIABILITY.md, not an assertion.
    let asked = Instant::now();
    let res = reqwest::Client::new()
        .get(srv.url("/api/v1/services"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let api_latency = asked.elapsed();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        res.headers().contains_key("retry-after"),
        "{:?}",
        res.headers()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    eprintln!("API answer while the database is down: {api_latency:?}");
    // A person opening the panel is told in a sentence.
    let (status, headers, page) = srv.fetch("/", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(String::from_utf8_lossy(&page).contains("Live streams are not affected"));

    // While it is away: listeners leave (their sessions end), a new one joins, the source
    // changes its title (its login was checked before the outage).
    let heard_at_outage = total(&heard);
    let seen_at_outage = total(&seen);
    for l in listeners.drain(..LEAVING) {
        l.abort();
    }
    let late = Arc::new(AtomicU64::new(0));
    let late_listener = listener(&srv, &station, Arc::clone(&late));
    set_title(&srv, &station, &pw, "During the outage");
    tokio::time::sleep(OUTAGE.saturating_sub(down_at.elapsed())).await;

    // Media flowed the whole time: every remaining listener got more audio, every viewer more
    // segments, the new listener was admitted.
    let heard_now = total(&heard);
    let seen_now = total(&seen);
    for i in LEAVING..LISTENERS {
        assert!(
            heard_now[i] > heard_at_outage[i] + 64 * 1024,
            "listener {i} starved during the outage: {} → {} bytes",
            heard_at_outage[i],
            heard_now[i]
        );
    }
    for i in 0..VIEWERS {
        assert!(
            seen_now[i] >= seen_at_outage[i] + 5,
            "viewer {i} got no new segments during the outage: {} → {}",
            seen_at_outage[i],
            seen_now[i]
        );
    }
    assert!(
        late.load(Ordering::Relaxed) > 0,
        "a listener joining during the outage was refused"
    );
    let (status, health) = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        health["statistics_spooled"].as_u64().unwrap() >= LEAVING as u64,
        "{health}"
    );

    // The database returns: the API works again and nothing that ended meanwhile is lost.
    pg.up();
    eventually(
        within(secs(20)).logs(&srv),
        "the API to answer again",
        async || {
            let (status, body) = srv.get("/api/v1/services", &admin).await;
            if status == StatusCode::OK {
                Ok(())
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await;
    eventually(within(secs(20)).logs(&srv), "the outage's sessions and title stored", async || {
        let sessions = count(&pg.url(), "SELECT COUNT(*) FROM listener_sessions WHERE service_id = $1", radio_id).await;
        let titles = count(&pg.url(), "SELECT COUNT(*) FROM title_history WHERE service_id = $1 AND title = 'During the outage'", radio_id).await;
        if sessions >= sessions_before + LEAVING as i64 && titles == 1 {
            Ok(())
        } else {
            Err(format!("sessions {sessions} (before {sessions_before}), titles {titles}"))
        }
    })
    .await;
    let (_, health) = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["statistics_spooled"], 0);

    // A second outage with a restart in it: what ends while the database is away and the
    // server stops is kept on disk and written by the next start.
    pg.down();
    eventually(
        within(secs(15)),
        "health to say the database is down",
        async || {
            let (_, body) = srv.call("GET", "/healthz", None, None).await;
            if body["database"] == "down" {
                Ok(())
            } else {
                Err(body.to_string())
            }
        },
    )
    .await;
    for l in listeners.drain(..) {
        l.abort();
    }
    late_listener.abort();
    for v in viewers {
        v.abort();
    }
    // The remaining listeners' sessions end as the server stops.
    let status = srv.stop();
    assert_eq!(status.code(), Some(0));
    pg.up();
    let srv = Server::start(&store).await;
    eventually(
        within(secs(20)).logs(&srv),
        "sessions spooled before the restart stored",
        async || {
            let sessions = count(
                &pg.url(),
                "SELECT COUNT(*) FROM listener_sessions WHERE service_id = $1",
                radio_id,
            )
            .await;
            // Every listener of the test: 50, plus the late one.
            let want = sessions_before + LISTENERS as i64 + 1;
            if sessions >= want {
                Ok(())
            } else {
                Err(format!("{sessions} of {want}"))
            }
        },
    )
    .await;
    let (status, _) = srv
        .get(&format!("/api/v1/services/{video_id}"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The media disk fills up: an upload is refused with 507 and leaves nothing behind, live
/// audio goes on, and once there is room again the same upload is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_media_disk_refuses_uploads_with_507_and_live_goes_on() {
    let store = Store::new(Backend::Sqlite).await;
    let media = store.data_dir().join("media");
    let _disk = SmallDisk::mount(&media, "1m");
    let srv = Server::start(&store).await;
    let (id, station, pw) = radio(&srv, "fulldisk-fm", json!({"disk_quota_mb": 100})).await;
    let owner = srv
        .login("fulldisk-fm-owner", "fulldisk-fm-owner-password")
        .await;
    let _source = ffmpeg_source(&srv, &station, "source", &pw, false, 120);
    wait_live(&srv, &station);
    // Most of the disk taken by something else (another tenant's library, a backup).
    let filler = media.join("filler.bin");
    std::fs::write(&filler, vec![0u8; 900 * 1024]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let song = tone_file(
        dir.path(),
        "long.mp3",
        440,
        20.0,
        (0.0, 0.0),
        ("Long", "Disk", "Full"),
    );
    assert!(std::fs::metadata(&song).unwrap().len() > 200 * 1024);
    let before = store.snapshot().await;

    let (status, body) = upload(&srv, &owner, id, &[song.as_path()]).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
    assert_eq!(
        before["media"],
        store.snapshot().await["media"],
        "a refused upload stored a row"
    );
    let left: Vec<_> = std::fs::read_dir(media.join(".incoming"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a refused upload left files: {left:?}");
    // Live audio is not on that disk's path: a listener still hears the station.
    let (head, bytes) =
        tidecast_tests::icecast::raw_get(&srv, &format!("/{station}"), &[], 64 * 1024, secs(5));
    assert!(
        head.contains("200 OK") && bytes.len() >= 16 * 1024,
        "{head}"
    );

    std::fs::remove_file(&filler).unwrap();
    let (status, body) = upload(&srv, &owner, id, &[song.as_path()]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
