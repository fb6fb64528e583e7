//! Relays: a service's source pulled from a URL. Video from an nginx-rtmp stream, an IP
//! camera (GStreamer's RTSP server, over TCP and UDP) and an HLS folder served by nginx;
//! radio from a remote icecast2 mount, always and on demand. Each comes out of the server
//! as a pushed source would (HLS that ffmpeg decodes, the mount a listener hears); the
//! remote is killed and started again and the relay comes back; bad input, other tenants
//! and internal addresses are refused; a camera's password is shown to its owner only.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::media::{level, listen_pcm};
use tidecast_tests::peers::{Icecast2, Nginx, RtspCamera};
use tidecast_tests::rtmp::{decode_window, video, wait_playlist};
use tidecast_tests::*;

/// Polls the relay until it is in `want`; returns it.
async fn relay_state(srv: &Server, token: &str, id: i64, want: &str, within: Duration) -> Value {
    let wait = wait::within(within).logs(srv);
    eventually(wait, format!("the relay to be {want}"), async || {
        let (_, r) = srv
            .get(&format!("/api/v1/services/{id}/relay"), token)
            .await;
        if r["state"] == want { Ok(r) } else { Err(r) }
    })
    .await
}

/// Polls the service's stats until it is off air (its relay stopped feeding it).
async fn wait_off_air(srv: &Server, token: &str, id: i64, within: Duration) {
    let what = "the service to be off air after its relay stopped";
    eventually(wait::within(within), what, async || {
        let (_, st) = srv
            .get(&format!("/api/v1/services/{id}/stats"), token)
            .await;
        if st["live"] == false { Ok(()) } else { Err(st) }
    })
    .await;
}

/// The live window of `slug` decodes cleanly and has video of `width` and audio.
async fn decodes(srv: &Server, slug: &str, dir: &Path, width: u64) {
    let playlist = wait_playlist(srv, slug, 2, Duration::from_secs(40)).await;
    let (ok, log) = decode_window(srv, slug, &playlist, dir, "error").await;
    // Decoding errors fail the test. The null muxer's complaint that two decoded pictures
    // fall on one output tick does not: a relayed origin may nudge its own timestamps
    // (nginx-rtmp re-syncs a subscriber that fell behind on a loaded machine), and the
    // relay passes them on as they come.
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            !l.trim().is_empty() && !l.contains("non monotonically increasing dts to muxer")
        })
        .collect();
    assert!(ok && errors.is_empty(), "{log}");
    let first = tidecast_tests::rtmp::segments_of(&playlist)[0].0.clone();
    let seg = dir.join(first.rsplit('/').next().unwrap());
    let streams = tidecast_tests::rtmp::probe(
        &seg,
        &["-show_entries", "stream=codec_name,width", "-of", "csv=p=0"],
    );
    assert!(streams.contains(&format!("h264,{width}")), "{streams}");
    assert!(streams.contains("aac"), "{streams}");
}

fn ffmpeg_to_nginx(nginx: &Nginx, name: &str) -> Proc {
    let url = format!("rtmp://127.0.0.1:{}/live/{name}", nginx.rtmp);
    Proc(
        Command::new("ffmpeg")
            .args(["-v", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=426x240:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=f=440:sample_rate=44100"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30"])
            .args(["-c:a", "aac", "-t", "300", "-f", "flv", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_relays_an_rtmp_stream_and_reconnects() {
    let mut nginx = Nginx::start();
    let _origin = ffmpeg_to_nginx(&nginx, "origin");
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, slug, _) = video(&srv, "RelayCam", json!({})).await;
    let owner = srv.login("RelayCam-owner", "RelayCam-owner-password").await;
    let admin = srv.admin_token().await;
    let path = format!("/api/v1/services/{id}/relay");
    assert_eq!(srv.get(&path, &owner).await.1, Value::Null);

    // Bad input changes nothing.
    for (body, status, says) in [
        (
            json!({"url": "rtmp://10.9.8.7/live/x"}),
            422,
            "private address",
        ),
        (
            json!({"url": "rtmp://127.0.0.1/live"}),
            422,
            "rtmp://host/app/stream",
        ),
        (
            json!({"url": "ftp://127.0.0.1/x"}),
            422,
            "not a relay source",
        ),
        (
            json!({"url": "http://127.0.0.1:8000/radio.mp3"}),
            422,
            "video service relays",
        ),
        (
            json!({"url": "rtmp://127.0.0.1/live/x", "mode": "sometimes"}),
            422,
            "on_demand",
        ),
        (
            json!({"url": "rtmp://127.0.0.1/live/x", "transport": "udp"}),
            422,
            "only rtsp",
        ),
    ] {
        let (got, err) = srv.put(&path, &owner, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
    assert_eq!(srv.get(&path, &owner).await.1, Value::Null);
    // Another customer cannot see or set it.
    srv.create_user(&admin, "nosy", "customer", json!({})).await;
    let nosy = srv.login("nosy", "nosy-password").await;
    let url = format!("rtmp://127.0.0.1:{}/live/origin", nginx.rtmp);
    assert_eq!(
        srv.put(&path, &nosy, json!({"url": url})).await.0,
        StatusCode::NOT_FOUND
    );

    let (status, r) = srv.put(&path, &owner, json!({"url": url})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["mode"], "always");
    // The stream name may be a key: masked for anyone but the owner.
    let (_, as_admin) = srv.get(&path, &admin).await;
    assert!(
        as_admin["url"].as_str().unwrap().ends_with("/live/***"),
        "{as_admin}"
    );
    relay_state(&srv, &owner, id, "live", Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    decodes(&srv, &slug, &dir.path().join("a"), 426).await;
    // Counted as the service's source.
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &owner)
        .await;
    assert_eq!(stats["live"], true, "{stats}");
    assert_eq!(stats["source"]["protocol"], "relay", "{stats}");
    assert_eq!(stats["relay"]["state"], "live", "{stats}");

    // The origin goes away: the relay says so and retries; back, and republished: live.
    nginx.stop();
    let down = relay_state(&srv, &owner, id, "retrying", Duration::from_secs(30)).await;
    assert!(
        !down["last_error"].as_str().unwrap_or("").is_empty(),
        "{down}"
    );
    nginx.restart();
    let _origin = ffmpeg_to_nginx(&nginx, "origin");
    let up = relay_state(&srv, &owner, id, "live", Duration::from_secs(60)).await;
    assert!(up["connections"].as_u64().unwrap() >= 2, "{up}");
    tokio::time::sleep(Duration::from_secs(6)).await;
    decodes(&srv, &slug, &dir.path().join("b"), 426).await;

    // Stopped: the stream ends (its playlist gets ENDLIST after the grace period).
    assert_eq!(srv.delete(&path, &owner).await.0, StatusCode::NO_CONTENT);
    assert_eq!(srv.get(&path, &owner).await.1, Value::Null);
    wait_off_air(&srv, &owner, id, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_relays_an_ip_camera_over_tcp_and_udp() {
    let mut cam = RtspCamera::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, slug, _) = video(&srv, "Doorcam", json!({})).await;
    let owner = srv.login("Doorcam-owner", "Doorcam-owner-password").await;
    let admin = srv.admin_token().await;
    let path = format!("/api/v1/services/{id}/relay");
    // The camera's password: the owner sees it, the admin does not, nor does the log.
    let url = cam.url().replace("rtsp://", "rtsp://viewer:cam-secret-99@");
    let (status, r) = srv
        .put(&path, &owner, json!({"url": url, "transport": "tcp"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["url"], url);
    let (_, as_admin) = srv.get(&path, &admin).await;
    assert!(
        !as_admin.to_string().contains("cam-secret-99"),
        "{as_admin}"
    );
    relay_state(&srv, &owner, id, "live", Duration::from_secs(30)).await;
    let dir = tempfile::tempdir().unwrap();
    decodes(&srv, &slug, &dir.path().join("tcp"), 320).await;

    // The camera reboots: the relay comes back.
    cam.stop();
    relay_state(&srv, &owner, id, "retrying", Duration::from_secs(30)).await;
    cam.restart();
    relay_state(&srv, &owner, id, "live", Duration::from_secs(60)).await;

    // Over UDP: RTP from the camera.
    let (status, r) = srv
        .put(&path, &owner, json!({"url": cam.url(), "transport": "udp"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["transport"], "udp");
    relay_state(&srv, &owner, id, "live", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    decodes(&srv, &slug, &dir.path().join("udp"), 320).await;
    assert!(
        !srv.logs().contains("cam-secret-99"),
        "the camera's password is in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_relays_an_hls_stream_on_demand() {
    let mut nginx = Nginx::start();
    // ffmpeg writes a live HLS stream into the folder nginx serves.
    let out = nginx.www().join("live.m3u8");
    let _packager = Proc(
        Command::new("ffmpeg")
            .args(["-v", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc=size=480x270:rate=30"])
            .args(["-f", "lavfi", "-i", "sine=f=440:sample_rate=44100"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "30",
                "-c:a",
                "aac",
            ])
            .args([
                "-t",
                "300",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_list_size",
                "6",
            ])
            .args(["-hls_flags", "delete_segments"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, slug, _) = video(&srv, "HlsRelay", json!({})).await;
    let owner = srv.login("HlsRelay-owner", "HlsRelay-owner-password").await;
    let path = format!("/api/v1/services/{id}/relay");
    let url = format!("http://127.0.0.1:{}/live.m3u8", nginx.http);
    let (status, r) = srv
        .put(&path, &owner, json!({"url": url, "mode": "on_demand"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    // Nobody watches: it waits, and pulls nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, r) = srv.get(&path, &owner).await;
    assert_eq!(r["state"], "waiting", "{r}");
    assert_eq!(r["connections"], 0, "{r}");
    // A player asks: the first request waits for the stream, then it plays.
    let dir = tempfile::tempdir().unwrap();
    decodes(&srv, &slug, &dir.path().join("a"), 480).await;
    relay_state(&srv, &owner, id, "live", Duration::from_secs(5)).await;

    // The origin's web server goes away and comes back: the relay follows.
    nginx.stop();
    relay_state(&srv, &owner, id, "retrying", Duration::from_secs(40)).await;
    nginx.restart();
    relay_state(&srv, &owner, id, "live", Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    decodes(&srv, &slug, &dir.path().join("b"), 480).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_relays_a_remote_icecast_mount() {
    let mut ice = Icecast2::start();
    let remote_source = |ice: &Icecast2| {
        Proc(
            Command::new("ffmpeg")
                .args([
                    "-v",
                    "error",
                    "-re",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=f=660:sample_rate=44100",
                ])
                .args(["-c:a", "libmp3lame", "-b:a", "128k", "-t", "300"])
                .args([
                    "-content_type",
                    "audio/mpeg",
                    "-ice_name",
                    "Remote FM",
                    "-f",
                    "mp3",
                ])
                .arg(format!(
                    "icecast://source:{}@127.0.0.1:{}/remote.mp3",
                    Icecast2::PASSWORD,
                    ice.port
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let _remote = remote_source(&ice);
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, _) = radio(&srv, "RebroadcastFM", json!({})).await;
    let owner = srv
        .login("RebroadcastFM-owner", "RebroadcastFM-owner-password")
        .await;
    let admin = srv.admin_token().await;
    let path = format!("/api/v1/services/{id}/relay");
    let url = format!("http://127.0.0.1:{}/remote.mp3", ice.port);

    // The plan decides; a radio station takes only audio streams.
    srv.patch(
        &format!("/api/v1/services/{id}"),
        &admin,
        json!({"limits": {"relay": false}}),
    )
    .await;
    assert_eq!(
        srv.put(&path, &owner, json!({"url": url})).await.0,
        StatusCode::FORBIDDEN
    );
    srv.patch(
        &format!("/api/v1/services/{id}"),
        &admin,
        json!({"limits": {"relay": true}}),
    )
    .await;
    let (status, err) = srv
        .put(&path, &owner, json!({"url": "rtsp://127.0.0.1/cam"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    let (status, r) = srv
        .put(&path, &owner, json!({"url": url, "mode": "on_demand"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(srv.get(&path, &owner).await.1["state"], "waiting");
    // The first listener starts it and hears the remote's 660 Hz tone.
    let (pcm, errors) = listen_pcm(&srv.icecast, &mount, 3);
    assert!(
        pcm.len() > 44_100 * 2,
        "{} samples: {errors}\n{}",
        pcm.len(),
        srv.logs()
    );
    assert!(
        level(&pcm, 660.0, 44_100.0) > 0.1,
        "the remote's tone is not there"
    );
    relay_state(&srv, &owner, id, "live", Duration::from_secs(5)).await;

    // Always on: it stays; the remote restarts, the relay comes back.
    let (status, _) = srv
        .put(&path, &owner, json!({"url": url, "mode": "always"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    relay_state(&srv, &owner, id, "live", Duration::from_secs(15)).await;
    ice.stop();
    relay_state(&srv, &owner, id, "retrying", Duration::from_secs(30)).await;
    ice.restart();
    let _remote = remote_source(&ice);
    relay_state(&srv, &owner, id, "live", Duration::from_secs(60)).await;
    wait_live(&srv, &mount);
    // What listeners get is the relay, and the service says so.
    let svc = srv.get(&format!("/api/v1/services/{id}"), &owner).await.1;
    assert_eq!(svc["on_air"], "relay", "{svc}");
    let (pcm, errors) = listen_pcm(&srv.icecast, &mount, 2);
    assert!(
        level(&pcm, 660.0, 44_100.0) > 0.1,
        "after the restart: {errors}"
    );

    // The plan stops allowing relays: it stops within a few seconds, and says why.
    srv.patch(
        &format!("/api/v1/services/{id}"),
        &admin,
        json!({"limits": {"relay": false}}),
    )
    .await;
    let off = relay_state(&srv, &owner, id, "disabled", Duration::from_secs(5)).await;
    assert!(
        off["last_error"].as_str().unwrap().contains("plan"),
        "{off}"
    );
    wait_off_air(&srv, &owner, id, Duration::from_secs(15)).await;
    let svc = srv.get(&format!("/api/v1/services/{id}"), &owner).await.1;
    assert_eq!(svc["on_air"], "offline", "{svc}");
}
