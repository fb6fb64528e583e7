//! Live figures and stored sessions: `/services/{id}/stats`, the public now-playing API,
//! listener sessions reported by the engine and kept across a restart.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::*;

/// Waits up to 10 s, looking every 100 ms.
fn ten_seconds() -> Wait<'static> {
    within(secs(10)).every(Duration::from_millis(100))
}

both_backends! {
    async fn live_stats_and_nowplaying(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, pw) = radio(&srv, "RadioOne", json!({})).await;
        let owner = srv.login("RadioOne-owner", "RadioOne-owner-password").await;
        let stats_path = format!("/api/v1/services/{id}/stats");
        let public_path = format!("/api/v1/public/{mount}/nowplaying");

        let (status, idle) = srv.get(&stats_path, &owner).await;
        assert_eq!(status, StatusCode::OK, "{idle}");
        assert_eq!((idle["live"].as_bool(), idle["listeners"].as_i64()), (Some(false), Some(0)));
        let (_, public) = srv.call("GET", &public_path, None, None).await;
        assert_eq!(public["live"], false);
        assert_eq!(public["station"]["name"], "RadioOne");

        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
        wait_live(&srv, &mount);
        for song in ["Artist A - First", "Artist B - Second"] {
            set_title(&srv, &mount, &pw, song);
        }
        let mut listener = TcpStream::connect(&srv.icecast).unwrap();
        listener.write_all(format!("GET /{mount} HTTP/1.0\r\nUser-Agent: VLC/3.0.18 LibVLC/3.0.18\r\n\r\n").as_bytes()).unwrap();
        let (head, _) = read_response(&mut listener, 1000, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");

        let (_, live) = srv.get(&stats_path, &owner).await;
        assert_eq!(live["live"], true, "{live}");
        assert_eq!(live["source"]["dj"], "source");
        assert_eq!(live["source"]["name"], "Test FM");
        assert_eq!(live["source"]["content_type"], "audio/mpeg");
        assert_eq!(live["listeners"], 1);
        assert_eq!(live["peak_listeners"], 1);
        assert_eq!(live["now_playing"], "Artist B - Second");
        assert_eq!(live["mounts"][0]["mount"], format!("/{mount}"));

        // The public API: now playing, history, listeners; CORS for station websites; no secrets.
        let resp = reqwest::get(srv.url(&public_path)).await.unwrap();
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let public: Value = resp.json().await.unwrap();
        assert_eq!(public["live"], true);
        assert_eq!(public["live_dj"], "source");
        assert_eq!(public["now_playing"]["title"], "Artist B - Second", "{public}");
        assert_eq!(public["listeners"], 1);
        // Titles reach the history through the statistics writer (batched each second).
        eventually(ten_seconds(), "title history", async || {
            let (_, p) = srv.call("GET", &public_path, None, None).await;
            if p["history"][0]["title"] == "Artist A - First" { Ok(()) } else { Err(p) }
        }).await;
        let text = srv.call("GET", &public_path, None, None).await.1.to_string();
        assert!(!text.contains(&pw) && !text.contains("password"), "{text}");
        assert_eq!(srv.call("GET", "/api/v1/public/no-such-station/nowplaying", None, None).await.0, StatusCode::NOT_FOUND);

        // Another tenant cannot read the stats.
        let admin = srv.admin_token().await;
        srv.create_user(&admin, "nosy", "customer", json!({})).await;
        let nosy = srv.login("nosy", "nosy-password").await;
        assert_eq!(srv.get(&stats_path, &nosy).await.0, StatusCode::NOT_FOUND);

        // The listener leaves: its session is stored with its user agent and bytes.
        std::thread::sleep(Duration::from_secs(1));
        drop(listener);
        eventually(ten_seconds(), "a stored listener session", async || {
            let (_, st) = srv.get(&stats_path, &owner).await;
            if st["sessions_24h"] == 1 { Ok(()) } else { Err(st) }
        }).await;
        let (_, after) = srv.get(&stats_path, &owner).await;
        assert!(after["bytes_sent_24h"].as_i64().unwrap() > 16_000, "{after}");
        assert!(after["listener_hours_24h"].as_f64().unwrap() > 0.0);
        let snap = store.snapshot().await;
        let row = &snap["listener_sessions"][0];
        assert_eq!(row["user_agent"], "VLC/3.0.18 LibVLC/3.0.18");
        assert_eq!(row["ip"], "127.0.0.1");
        assert_eq!(snap["title_history"][1]["dj"], "source");

        // A listener connected at shutdown is still recorded (SIGTERM drains the writer).
        let mut last = TcpStream::connect(&srv.icecast).unwrap();
        last.write_all(format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
        let (head, _) = read_response(&mut last, 1000, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 200"));
        assert_eq!(srv.stop().code(), Some(0));
        assert_eq!(store.snapshot().await["listener_sessions"].as_array().unwrap().len(), 2);
    }
}
