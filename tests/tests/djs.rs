//! DJs: their API, their own credentials on the Icecast port, priority takeover and
//! handover with listeners connected throughout, and scheduled-only access.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::*;

/// The name of the source on air, from status-json.xsl.
fn on_air_name(srv: &Server, mount: &str) -> Option<String> {
    status_of(srv, mount).and_then(|s| s["server_name"].as_str().map(str::to_owned))
}

fn wait_on_air(srv: &Server, mount: &str, name: &str) {
    let wait = within(secs(10)).every(Duration::from_millis(50)).logs(srv);
    eventually_blocking(wait, format!("{name} on air"), || {
        match on_air_name(srv, mount) {
            Some(now) if now == name => Ok(()),
            now => Err(format!("on air: {now:?}")),
        }
    });
}

both_backends! {
    async fn dj_api(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, _, _) = radio(&srv, "Station", json!({})).await;
        let admin = srv.admin_token().await;
        let owner = srv.login("Station-owner", "Station-owner-password").await;
        let path = format!("/api/v1/services/{id}/djs");

        // The customer manages its own DJs.
        let (status, dj) = srv.post(&path, &owner, json!({"username": "alice", "password": "alice-password", "priority": 70,
            "schedule": [{"days": ["fri"], "start": "20:00", "duration_minutes": 120}]})).await;
        assert_eq!(status, StatusCode::CREATED, "{dj}");
        assert_eq!((dj["priority"].as_i64(), dj["scheduled_only"].as_bool()), (Some(70), Some(false)));
        assert_eq!(dj["schedule"][0]["start"], "20:00");
        assert!(dj.get("password").is_none() && dj.get("password_hash").is_none());
        let dj_id = dj["id"].as_i64().unwrap();
        let (_, list) = srv.get(&path, &admin).await;
        assert_eq!(list["total"], 1);
        let (status, p) = srv.patch(&format!("{path}/{dj_id}"), &owner, json!({"priority": 20})).await;
        assert_eq!((status, p["priority"].as_i64()), (StatusCode::OK, Some(20)));

        let before = store.snapshot().await;
        for (body, expect) in [
            (json!({"username": "ALICE", "password": "whatever-pw", "priority": 10}), StatusCode::CONFLICT),
            (json!({"username": "source", "password": "whatever-pw", "priority": 10}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": 0}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": 101}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "short", "priority": 10}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": 10, "scheduled_only": true}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": 10, "schedule": [{"days": ["someday"], "start": "20:00", "duration_minutes": 5}]}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": 10, "schedule": [{"days": ["mon"], "start": "8pm", "duration_minutes": 5}]}), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({"username": "bob", "password": "whatever-pw", "priority": "high"}), StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, resp) = srv.post(&path, &owner, body.clone()).await;
            assert_eq!(status, expect, "{body} → {resp}");
        }
        // Another tenant sees nothing; a video service has no DJs.
        srv.create_user(&admin, "stranger", "customer", json!({})).await;
        let stranger = srv.login("stranger", "stranger-password").await;
        assert_eq!(srv.get(&path, &stranger).await.0, StatusCode::NOT_FOUND);
        assert_eq!(srv.delete(&format!("{path}/{dj_id}"), &stranger).await.0, StatusCode::NOT_FOUND);
        let video = srv.create_service(&admin, srv.get("/api/v1/me", &owner).await.1["id"].as_i64().unwrap(), "TV", "video").await;
        let (status, _) = srv.post(&format!("/api/v1/services/{}/djs", video["id"]), &owner, json!({"username": "bob", "password": "whatever-pw", "priority": 10})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let after = store.snapshot().await;
        assert_eq!(before["djs"].as_array().map(Vec::len), Some(1), "{before}");
        assert_eq!(before["djs"], after["djs"], "a refused request changed the DJs");

        assert_eq!(srv.delete(&format!("{path}/{dj_id}"), &owner).await.0, StatusCode::NO_CONTENT);
        assert_eq!(srv.get(&path, &owner).await.1["total"], 0);
    }

    async fn priority_handover_keeps_listeners(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, pw) = radio(&srv, "Live", json!({})).await;
        let owner = srv.login("Live-owner", "Live-owner-password").await;
        let path = format!("/api/v1/services/{id}/djs");
        srv.post(&path, &owner, json!({"username": "low", "password": "low-password", "priority": 10})).await;
        srv.post(&path, &owner, json!({"username": "high", "password": "high-password", "priority": 90})).await;

        let _low = ffmpeg_tone(&srv, &mount, "low", "low-password", false, 60, "DJ Low", 440);
        wait_on_air(&srv, &mount, "DJ Low");

        // One listener, connected throughout; it records when each piece of audio arrives.
        let arrivals: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::default();
        let audio: Arc<Mutex<Vec<u8>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let listener = {
            let (arrivals, audio, stop, addr, mount) = (arrivals.clone(), audio.clone(), stop.clone(), srv.icecast.clone(), mount.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                let mut buf = [0u8; 16384];
                let mut data = Vec::new();
                let mut closed = false;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match s.read(&mut buf) {
                        Ok(0) => { closed = true; break; }
                        Ok(n) => { arrivals.lock().unwrap().push((Instant::now(), n)); data.extend_from_slice(&buf[..n]); }
                        Err(_) => {}
                    }
                }
                let split = data.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
                audio.lock().unwrap().extend_from_slice(&data[split..]);
                closed
            })
        };
        std::thread::sleep(Duration::from_secs(2));

        // The service's own login (priority 50) takes over from low; high (90) from it.
        let src = ffmpeg_tone(&srv, &mount, "source", &pw, false, 60, "Studio", 550);
        wait_on_air(&srv, &mount, "Studio");
        let high = ffmpeg_tone(&srv, &mount, "high", "high-password", false, 60, "DJ High", 880);
        wait_on_air(&srv, &mount, "DJ High");
        std::thread::sleep(Duration::from_secs(2));
        // Low tries to come back on top: refused while high is on air (it is still connected
        // on standby, so a second connection as low is a new, lower source).
        let mut again = ffmpeg_tone(&srv, &mount, "low", "low-password", false, 5, "DJ Low 2", 440);
        assert!(!again.wait().unwrap().success(), "a lower priority took over");
        // High leaves: the studio resumes at once; the studio leaves: low resumes.
        drop(high);
        wait_on_air(&srv, &mount, "Studio");
        std::thread::sleep(Duration::from_secs(2));
        drop(src);
        wait_on_air(&srv, &mount, "DJ Low");
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let closed = listener.join().unwrap();
        assert!(!closed, "the listener was disconnected during a handover");

        // No gap over a second in what the listener received, across three handovers.
        let arrivals = arrivals.lock().unwrap();
        let worst = arrivals.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
        assert!(worst < Duration::from_secs(1), "the listener waited {worst:?} for audio");
        let file = store.dir.path().join("handover.mp3");
        std::fs::write(&file, &*audio.lock().unwrap()).unwrap();
        let out = Command::new("ffprobe").args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]).arg(&file).output().unwrap();
        let secs: f64 = body_str(&out.stdout).trim().parse().unwrap_or(0.0);
        let listened = arrivals.last().unwrap().0 - arrivals[0].0;
        let bytes: usize = arrivals.iter().map(|a| a.1).sum();
        assert!(secs + 1.0 >= listened.as_secs_f64(), "decoded {secs} s of audio ({bytes} bytes) in {listened:?} of listening: {}", body_str(&out.stderr));
        let logs = srv.logs();
        // The log tells the story in a user's words.
        assert!(logs.contains("source is on air now") && logs.contains("DJ low is on air now"), "{logs}");
    }

    async fn scheduled_only_dj(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, _) = radio(&srv, "Sched", json!({})).await;
        let owner = srv.login("Sched-owner", "Sched-owner-password").await;
        let path = format!("/api/v1/services/{id}/djs");
        // A slot yesterday only: refused now.
        let yesterday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(weekday_today() + 6) % 7];
        srv.post(&path, &owner, json!({"username": "night", "password": "night-password", "priority": 60, "scheduled_only": true,
            "schedule": [{"days": [yesterday], "start": "00:00", "duration_minutes": 60}]})).await;
        let mut refused = ffmpeg_tone(&srv, &mount, "night", "night-password", false, 5, "Night", 440);
        assert!(!refused.wait().unwrap().success());
        let mut err = String::new();
        refused.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(err.contains("403"), "{err}");
        assert!(srv.wait_log("may only connect during a scheduled slot", Duration::from_secs(2)));
        // A slot covering the whole of today: admitted.
        let today = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][weekday_today()];
        srv.post(&path, &owner, json!({"username": "day", "password": "day-password", "priority": 60, "scheduled_only": true,
            "schedule": [{"days": [today], "start": "00:00", "duration_minutes": 1440}]})).await;
        let _day = ffmpeg_tone(&srv, &mount, "day", "day-password", false, 30, "Day", 440);
        wait_on_air(&srv, &mount, "Day");
    }
}

/// Today's weekday in UTC, Monday = 0.
fn weekday_today() -> usize {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    ((days + 3) % 7) as usize
}
