//! Mounts of a radio service and fallback: listeners of a mount without a source hear its
//! fallback, and move back when a source returns, without being disconnected.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::*;

both_backends! {
    async fn mount_api(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, slug, _) = radio(&srv, "Main", json!({"max_bitrate_kbps": 192})).await;
        let (other_id, other_slug, _) = radio(&srv, "Other", json!({})).await;
        let owner = srv.login("Main-owner", "Main-owner-password").await;
        let path = format!("/api/v1/services/{id}/mounts");
        let (status, m) = srv.post(&path, &owner, json!({"path": "/main-aac", "format": "aac", "bitrate_kbps": 64})).await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
        assert_eq!((m["path"].as_str(), m["format"].as_str(), m["primary"].as_bool()), (Some("/main-aac"), Some("aac"), Some(false)));
        let before = store.snapshot().await;
        for (body, expect) in [
            (json!({"path": "/main-aac", "format": "mp3", "bitrate_kbps": 128}), StatusCode::CONFLICT),
            (json!({"path": format!("/{other_slug}"), "format": "mp3", "bitrate_kbps": 128}), StatusCode::CONFLICT),
            (json!({"path": "/Bad Path", "format": "mp3", "bitrate_kbps": 128}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"path": "/hi", "format": "wav", "bitrate_kbps": 128}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"path": "/hi", "format": "mp3", "bitrate_kbps": 256}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"path": "/hi", "format": "mp3", "bitrate_kbps": 128, "fallback": format!("/{other_slug}")}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"path": "/hi", "format": "mp3", "bitrate_kbps": 128, "fallback": "/hi"}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"path": "/hi", "format": "mp3"}), StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, resp) = srv.post(&path, &owner, body.clone()).await;
            assert_eq!(status, expect, "{body} → {resp}");
        }
        let (status, _) = srv.patch(&format!("/api/v1/services/{id}"), &owner, json!({"fallback": format!("/{other_slug}")})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(before, store.snapshot().await, "a refused mount request changed the database");
        // Another tenant's service: 404.
        assert_eq!(srv.post(&format!("/api/v1/services/{other_id}/mounts"), &owner, json!({"path": "/x1", "format": "mp3", "bitrate_kbps": 64})).await.0, StatusCode::NOT_FOUND);

        // The primary falls back to the extra mount; the list shows both.
        let (status, svc) = srv.patch(&format!("/api/v1/services/{id}"), &owner, json!({"fallback": "/main-aac"})).await;
        assert_eq!((status, svc["fallback"].as_str()), (StatusCode::OK, Some("main-aac")), "{svc}");
        let (_, list) = srv.get(&path, &owner).await;
        assert_eq!(list["total"], 2);
        assert_eq!((list["items"][0]["path"].as_str(), list["items"][0]["primary"].as_bool()), (Some(format!("/{slug}").as_str()), Some(true)));
        assert_eq!(list["items"][0]["fallback"], "main-aac");
        // Deleting the extra mount clears the fallback that named it.
        let mid = m["id"].as_i64().unwrap();
        assert_eq!(srv.delete(&format!("{path}/{mid}"), &owner).await.0, StatusCode::NO_CONTENT);
        assert!(srv.get(&format!("/api/v1/services/{id}"), &owner).await.1.get("fallback").is_none());
    }

    async fn listeners_follow_fallback_and_come_back(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, slug, pw) = radio(&srv, "Show", json!({})).await;
        let owner = srv.login("Show-owner", "Show-owner-password").await;
        let (status, _) = srv.post(&format!("/api/v1/services/{id}/mounts"), &owner, json!({"path": "/show-backup", "format": "mp3", "bitrate_kbps": 128})).await;
        assert_eq!(status, StatusCode::CREATED);
        srv.patch(&format!("/api/v1/services/{id}"), &owner, json!({"fallback": "show-backup"})).await;

        let _backup = ffmpeg_tone(&srv, "show-backup", "source", &pw, false, 60, "Backup", 330);
        wait_live(&srv, "show-backup");
        set_title(&srv, "show-backup", &pw, "Backup Song");

        // The primary has no source: a listener hears the fallback.
        let data: Arc<Mutex<Vec<u8>>> = Arc::default();
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (data, arrivals, stop, addr, slug) = (data.clone(), arrivals.clone(), stop.clone(), srv.icecast.clone(), slug.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(format!("GET /{slug} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n").as_bytes()).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                let mut buf = [0u8; 16384];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match s.read(&mut buf) {
                        Ok(0) => return true,
                        Ok(n) => { data.lock().unwrap().extend_from_slice(&buf[..n]); arrivals.lock().unwrap().push(Instant::now()); }
                        Err(_) => {}
                    }
                }
                false
            })
        };
        std::thread::sleep(Duration::from_secs(2));
        let head = {
            let d = data.lock().unwrap();
            body_str(&d[..200.min(d.len())])
        };
        assert!(head.starts_with("HTTP/1.0 200") && head.contains("icy-name: Backup"), "{head}");

        // A source on the primary: the listener moves to it; when it leaves, back to the fallback.
        let main = ffmpeg_tone(&srv, &slug, "source", &pw, false, 60, "Main", 660);
        wait_live(&srv, &slug);
        set_title(&srv, &slug, &pw, "Main Song");
        std::thread::sleep(Duration::from_secs(3));
        drop(main);
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(!reader.join().unwrap(), "the listener was disconnected");

        let seen = stream_titles(&data.lock().unwrap(), 16_000);
        let backup_main_backup = seen.iter().position(|t| t == "Backup Song")
            .and_then(|a| seen[a..].iter().position(|t| t == "Main Song").map(|b| a + b))
            .and_then(|b| seen[b..].iter().position(|t| t == "Backup Song"));
        assert!(backup_main_backup.is_some(), "titles heard: {seen:?}");
        let arrivals = arrivals.lock().unwrap();
        let worst = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(worst < Duration::from_secs(1), "the listener waited {worst:?} for audio");
    }
}
