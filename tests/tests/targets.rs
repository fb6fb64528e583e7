//! Restreaming to a remote Icecast: a station's mount sent as a source to Debian's icecast2
//! on loopback (allowed with `--relay-allow`), heard there with its title; icecast2 is
//! killed and started again and the target reconnects; internal addresses, wrong kinds and
//! bad URLs are refused; the password never comes back.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use tidecast_tests::icecast::*;
use tidecast_tests::media::{level, listen_pcm};
use tidecast_tests::peers::Icecast2;
use tidecast_tests::*;

async fn target(srv: &Server, token: &str, path: &str, want: &str, within: Duration) -> Value {
    eventually(
        wait::within(within),
        format!("the target to be {want}"),
        async || {
            let (_, list) = srv.get(path, token).await;
            let t = list[0].clone();
            if t["state"] == want { Ok(t) } else { Err(list) }
        },
    )
    .await
}

/// Waits until the remote Icecast shows `title` on a source.
async fn remote_title(ice: &Icecast2, title: &str) {
    eventually(
        within(secs(10)),
        format!("{title:?} on the remote"),
        async || {
            let sources = ice.sources().await;
            if sources.iter().any(|s| s["title"] == title) {
                Ok(())
            } else {
                Err(format!("{sources:?}"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_restreams_to_a_remote_icecast_and_reconnects() {
    let mut ice = Icecast2::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, pw) = radio(&srv, "RelayFM", json!({})).await;
    let owner = srv.login("RelayFM-owner", "RelayFM-owner-password").await;
    let path = format!("/api/v1/services/{id}/targets");
    let url = format!(
        "icecast://source:{}@127.0.0.1:{}/relayed.mp3",
        Icecast2::PASSWORD,
        ice.port
    );

    // Bad input changes nothing.
    for (body, says) in [
        (
            json!({"kind": "icecast", "url": "icecast://source:x@10.0.0.7:8000/live"}),
            "a private address",
        ),
        (
            json!({"kind": "icecast", "url": "icecast://source@127.0.0.1:8000/live"}),
            "no password",
        ),
        (
            json!({"kind": "icecast", "url": "http://source:x@127.0.0.1:8000/live"}),
            "icecast://",
        ),
        (
            json!({"kind": "icecast", "url": "icecast://source:x@127.0.0.1:8000/"}),
            "mount",
        ),
        (json!({"kind": "shoutcast", "url": url}), "shoutcast://"),
        (
            json!({"kind": "ftp", "url": url}),
            "kinds: rtmp, icecast, shoutcast",
        ),
        (
            json!({"kind": "icecast", "url": url, "key": "k"}),
            "only rtmp targets",
        ),
    ] {
        let (status, err) = srv.post(&path, &owner, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
    let admin = srv.admin_token().await;
    let cust = srv.login("RelayFM-owner", "RelayFM-owner-password").await;
    let video = srv
        .create_service(
            &admin,
            srv.get("/api/v1/me", &cust).await.1["id"].as_i64().unwrap(),
            "RelayTV",
            "video",
        )
        .await;
    let (status, err) = srv
        .post(
            &format!("/api/v1/services/{}/targets", video["id"]),
            &owner,
            json!({"kind": "icecast", "url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(srv.get(&path, &owner).await.1, json!([]));

    // The target waits for something on air, then sends it.
    let (status, t) = srv
        .post(&path, &owner, json!({"kind": "icecast", "url": url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(
        t["url"],
        format!("icecast://source@127.0.0.1:{}/relayed.mp3", ice.port)
    );
    assert!(!t.to_string().contains(Icecast2::PASSWORD), "{t}");
    target(&srv, &owner, &path, "waiting", Duration::from_secs(5)).await;
    let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 120);
    wait_live(&srv, &mount);
    target(&srv, &owner, &path, "live", Duration::from_secs(10)).await;
    set_title(&srv, &mount, &pw, "Relay Artist - Relay Song");

    // Heard on the remote: the station's 440 Hz tone, decoded without errors, its title.
    let (pcm, errors) = listen_pcm(&ice.addr(), "relayed.mp3", 3);
    assert!(pcm.len() > 44_100 * 2, "{} samples: {errors}", pcm.len());
    assert!(errors.trim().is_empty(), "{errors}");
    assert!(level(&pcm, 440.0, 44_100.0) > 0.1, "the tone is not there");
    remote_title(&ice, "Relay Artist - Relay Song").await;

    // The remote goes away: the target says so and keeps trying; it comes back: live again.
    ice.stop();
    let down = target(&srv, &owner, &path, "retrying", Duration::from_secs(20)).await;
    assert!(
        !down["last_error"].as_str().unwrap_or("").is_empty(),
        "{down}"
    );
    ice.restart();
    let up = target(&srv, &owner, &path, "live", Duration::from_secs(40)).await;
    assert!(up["connections"].as_u64().unwrap() >= 2, "{up}");
    let (pcm, errors) = listen_pcm(&ice.addr(), "relayed.mp3", 2);
    assert!(
        pcm.len() > 44_100,
        "after the reconnect: {} samples: {errors}",
        pcm.len()
    );
    let (_, list) = srv.get(&path, &owner).await;
    assert!(list[0]["kbps"].as_u64().unwrap_or(0) > 50, "{list}");
    // /metrics says it is live, and that it reconnected.
    let (_, _, body) = srv
        .fetch("/metrics", &[("authorization", &format!("Bearer {admin}"))])
        .await;
    let samples = parse_metrics(&String::from_utf8(body).unwrap());
    let metric = |name: &str| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name && l.get("service").map(String::as_str) == Some(id.to_string().as_str())
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(metric("tidecast_target_live"), Some(1.0));
    // …and so do the service's stats.
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &owner)
        .await;
    assert_eq!(stats["targets"][0]["state"], "live", "{stats}");
    assert!(metric("tidecast_target_connections_total").unwrap() >= 2.0);

    // Another customer sees nothing; deleting the target ends the remote's source.
    srv.create_user(&admin, "nosy", "customer", json!({})).await;
    let nosy = srv.login("nosy", "nosy-password").await;
    assert_eq!(srv.get(&path, &nosy).await.0, StatusCode::NOT_FOUND);
    let tid = list[0]["id"].as_i64().unwrap();
    assert_eq!(
        srv.delete(&format!("{path}/{tid}"), &nosy).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        srv.delete(&format!("{path}/{tid}"), &owner).await.0,
        StatusCode::NO_CONTENT
    );
    eventually(
        within(secs(10)),
        "the remote to lose the source",
        async || {
            let sources = ice.sources().await;
            if sources.is_empty() {
                Ok(())
            } else {
                Err(format!("{sources:?}"))
            }
        },
    )
    .await;
    assert!(
        !srv.logs().contains(Icecast2::PASSWORD),
        "the password is in the log"
    );
}

/// ffprobe's streams of a live RTMP URL (codec, size), or what it said when it failed.
fn probe_rtmp(url: &str) -> Result<Value, String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-rw_timeout", "10000000"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "json",
        ])
        .arg(url)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// The codecs of a live RTMP URL's streams, sorted, once it plays with video of `width`.
fn rtmp_codecs(url: &str, width: u64) -> Vec<String> {
    let wait = within(secs(30)).every(Duration::from_millis(500));
    eventually_blocking(wait, format!("{url} to play"), || {
        let v = probe_rtmp(url)?;
        let streams = v["streams"].as_array().cloned().unwrap_or_default();
        if !streams.iter().any(|s| s["width"] == width) {
            return Err(v.to_string());
        }
        let mut codecs: Vec<String> = streams
            .iter()
            .map(|s| s["codec_name"].as_str().unwrap_or("").to_owned())
            .collect();
        codecs.sort();
        Ok(codecs)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_restreams_to_rtmp_and_reconnects() {
    use tidecast_tests::peers::Nginx;
    use tidecast_tests::rtmp::{Publish, ffmpeg_publish, video};
    let mut nginx = Nginx::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, _slug, key) = video(&srv, "RestreamTV", json!({})).await;
    let owner = srv
        .login("RestreamTV-owner", "RestreamTV-owner-password")
        .await;
    let admin = srv.admin_token().await;
    let path = format!("/api/v1/services/{id}/targets");
    let remote_key = "yt-secret-key-4711";
    let url = format!("rtmp://127.0.0.1:{}/live", nginx.rtmp);

    // The presets are there for the UI; bad input changes nothing.
    let (_, presets) = srv.get("/api/v1/restream/presets", &owner).await;
    assert!(
        presets
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "youtube" && p["url"].as_str().unwrap().starts_with("rtmps://")),
        "{presets}"
    );
    for (body, says) in [
        (
            json!({"kind": "rtmp", "url": "rtmp://10.1.2.3/live", "key": "k"}),
            "private address",
        ),
        (json!({"kind": "rtmp", "url": url}), "stream key is missing"),
        (
            json!({"kind": "rtmp", "url": "http://127.0.0.1/live", "key": "k"}),
            "rtmp://host/app",
        ),
        (
            json!({"kind": "rtmp", "preset": "myspace", "key": "k"}),
            "youtube, twitch, facebook",
        ),
        (
            json!({"kind": "rtmp", "url": url, "key": "k", "rendition": "1080p"}),
            "it has none",
        ),
        (
            json!({"kind": "icecast", "url": "icecast://:pw@127.0.0.1:8000/x"}),
            "video service",
        ),
    ] {
        let (status, err) = srv.post(&path, &owner, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {err}"
        );
    }
    // The plan decides which kinds a service may use.
    let svc_path = format!("/api/v1/services/{id}");
    let (status, svc) = srv
        .patch(
            &svc_path,
            &admin,
            json!({"limits": {"restream": ["icecast"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{svc}");
    assert_eq!(svc["limits"]["restream"], json!(["icecast"]));
    let (status, err) = srv
        .post(
            &path,
            &owner,
            json!({"kind": "rtmp", "url": url, "key": remote_key}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    srv.patch(&svc_path, &admin, json!({"limits": {"restream": ["rtmp"]}}))
        .await;
    assert_eq!(srv.get(&path, &owner).await.1, json!([]));

    // The key rides in the URL's last segment just as well; only the owner sees it.
    let (status, t) = srv
        .post(
            &path,
            &owner,
            json!({"kind": "rtmp", "url": format!("{url}/{remote_key}")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["url"], format!("rtmp://127.0.0.1:{}/live", nginx.rtmp));
    assert_eq!(t["key"], remote_key);
    let (_, as_admin) = srv.get(&path, &admin).await;
    assert!(!as_admin.to_string().contains(remote_key), "{as_admin}");
    target(&srv, &owner, &path, "waiting", Duration::from_secs(5)).await;

    // The channel goes live: "YouTube" gets it as it was sent (no re-encode: same size).
    let _publisher = ffmpeg_publish(&srv, &key, Publish::secs(300));
    target(&srv, &owner, &path, "live", Duration::from_secs(20)).await;
    let remote = format!("rtmp://127.0.0.1:{}/live/{remote_key}", nginx.rtmp);
    assert_eq!(rtmp_codecs(&remote, 320), ["aac", "h264"]);

    // "YouTube" goes away: retrying with the reason; back: live again, and it plays.
    nginx.stop();
    let down = target(&srv, &owner, &path, "retrying", Duration::from_secs(30)).await;
    assert!(
        !down["last_error"].as_str().unwrap_or("").is_empty(),
        "{down}"
    );
    nginx.restart();
    let up = target(&srv, &owner, &path, "live", Duration::from_secs(40)).await;
    assert!(up["connections"].as_u64().unwrap() >= 2, "{up}");
    assert_eq!(rtmp_codecs(&remote, 320), ["aac", "h264"]);
    let (_, list) = srv.get(&path, &owner).await;
    assert!(list[0]["kbps"].as_u64().unwrap_or(0) > 50, "{list}");

    // The plan stops allowing RTMP targets: the target stops, and says why; allowed again,
    // it runs again.
    srv.patch(
        &svc_path,
        &admin,
        json!({"limits": {"restream": ["icecast"]}}),
    )
    .await;
    let off = target(&srv, &owner, &path, "disabled", Duration::from_secs(15)).await;
    assert!(
        off["last_error"].as_str().unwrap().contains("plan"),
        "{off}"
    );
    srv.patch(&svc_path, &admin, json!({"limits": {"restream": ["rtmp"]}}))
        .await;
    target(&srv, &owner, &path, "live", Duration::from_secs(30)).await;
    let (_, list) = srv.get(&path, &owner).await;

    // Removed: the remote's stream ends.
    let tid = list[0]["id"].as_i64().unwrap();
    assert_eq!(
        srv.delete(&format!("{path}/{tid}"), &owner).await.0,
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(probe_rtmp(&remote).is_err(), "the remote still plays");
    assert!(
        !srv.logs().contains(remote_key),
        "the stream key is in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_restreams_to_shoutcast() {
    let ice = Icecast2::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, pw) = radio(&srv, "ShoutFM", json!({})).await;
    let owner = srv.login("ShoutFM-owner", "ShoutFM-owner-password").await;
    let path = format!("/api/v1/services/{id}/targets");
    let url = format!(
        "shoutcast://:{}@127.0.0.1:{}",
        Icecast2::PASSWORD,
        ice.shoutcast_port
    );
    let (status, t) = srv
        .post(&path, &owner, json!({"kind": "shoutcast", "url": url}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(
        t["url"],
        format!("shoutcast://127.0.0.1:{}/", ice.shoutcast_port)
    );
    let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 120);
    wait_live(&srv, &mount);
    target(&srv, &owner, &path, "live", Duration::from_secs(15)).await;
    let (pcm, errors) = listen_pcm(&ice.addr(), "sc.mp3", 3);
    assert!(pcm.len() > 44_100 * 2, "{} samples: {errors}", pcm.len());
    assert!(level(&pcm, 440.0, 44_100.0) > 0.1, "the tone is not there");
    set_title(&srv, &mount, &pw, "Shout Artist - Shout Song");
    remote_title(&ice, "Shout Artist - Shout Song").await;

    // A wrong password: said in the target's state, retried.
    let (_, t2) = srv
        .post(&path, &owner, json!({"kind": "shoutcast", "url": format!("shoutcast://:wrong@127.0.0.1:{}", ice.shoutcast_port)}))
        .await;
    let t = eventually(within(secs(15)), "the target to retry", async || {
        let (_, list) = srv.get(&path, &owner).await;
        let t = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == t2["id"])
            .unwrap()
            .clone();
        if t["state"] == "retrying" {
            Ok(t)
        } else {
            Err(t)
        }
    })
    .await;
    assert!(
        t["last_error"].as_str().unwrap().contains("password"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_rendition_is_restreamed() {
    use tidecast_tests::peers::Nginx;
    use tidecast_tests::rtmp::{Publish, ffmpeg_publish_sized, video};
    let nginx = Nginx::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, _slug, key) = video(&srv, "LadderOut", json!({"transcode": true})).await;
    let owner = srv
        .login("LadderOut-owner", "LadderOut-owner-password")
        .await;
    let (status, ladder) = srv
        .put(
            &format!("/api/v1/services/{id}/transcode"),
            &owner,
            json!({"renditions": [
                {"name": "source"},
                {"name": "240p", "height": 240, "video_kbps": 300, "audio_kbps": 64},
            ]}),
        )
        .await;
    assert!(status.is_success(), "{ladder}");
    let path = format!("/api/v1/services/{id}/targets");
    let (status, t) = srv
        .post(&path, &owner, json!({"kind": "rtmp", "url": format!("rtmp://127.0.0.1:{}/live", nginx.rtmp), "key": "low", "rendition": "240p"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["rendition"], "240p");
    // A 480p source; the target sends the 240p rung the ladder makes of it.
    let _publisher = ffmpeg_publish_sized(&srv, &key, Publish::secs(300), "854x480", "1200k");
    target(&srv, &owner, &path, "live", Duration::from_secs(40)).await;
    let remote = format!("rtmp://127.0.0.1:{}/live/low", nginx.rtmp);
    assert_eq!(rtmp_codecs(&remote, 426), ["aac", "h264"]);
}

/// One picture of a live RTMP URL, as 160×90 grey bytes.
fn rtmp_picture(url: &str) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-rw_timeout", "10000000", "-i", url])
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=160:90",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.stdout.len(),
        160 * 90,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// How many of a band of rows' pixels differ between two pictures.
fn band_diff(a: &[u8], b: &[u8], rows: std::ops::Range<usize>) -> usize {
    rows.flat_map(|r| r * 160..(r + 1) * 160)
        .filter(|&i| a[i].abs_diff(b[i]) > 40)
        .count()
}

/// Uploads `file` to the station's library and adds a 640×360 video target drawn on it to
/// nginx's `key`; returns the RTMP URL it plays at once it is H.264 + AAC there.
async fn on_background(
    srv: &Server,
    owner: &str,
    id: i64,
    nginx: &tidecast_tests::peers::Nginx,
    file: &std::path::Path,
    key: &str,
) -> String {
    let (status, up) = tidecast_tests::media::upload(srv, owner, id, &[file]).await;
    assert!(status.is_success(), "{up}");
    let media = tidecast_tests::media::item_ids(&up)[0].clone();
    let (status, t) = srv
        .post(
            &format!("/api/v1/services/{id}/targets"),
            owner,
            json!({"kind": "rtmp", "url": format!("rtmp://127.0.0.1:{}/live", nginx.rtmp),
                "key": key, "video": {"width": 640, "height": 360, "fps": 25, "media": media}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let remote = format!("rtmp://127.0.0.1:{}/live/{key}", nginx.rtmp);
    assert_eq!(rtmp_codecs(&remote, 640), ["aac", "h264"]);
    remote
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_goes_to_a_video_platform_as_video() {
    use tidecast_tests::peers::Nginx;
    let nginx = Nginx::start();
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start_allowing_loopback(&store).await;
    let (id, mount, pw) = radio(&srv, "VideoFM", json!({})).await;
    let owner = srv.login("VideoFM-owner", "VideoFM-owner-password").await;
    let path = format!("/api/v1/services/{id}/targets");
    let url = format!("rtmp://127.0.0.1:{}/live", nginx.rtmp);
    let (status, err) = srv
        .post(
            &path,
            &owner,
            json!({"kind": "rtmp", "url": url, "key": "fm", "video": {"width": 641}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, t) = srv
        .post(
            &path,
            &owner,
            json!({"kind": "rtmp", "url": url, "key": "fm",
                "video": {"width": 640, "height": 360, "fps": 25, "video_kbps": 600}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["video"]["fps"], 25);

    let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 300);
    wait_live(&srv, &mount);
    set_title(&srv, &mount, &pw, "First Artist - First Song");
    target(&srv, &owner, &path, "live", Duration::from_secs(30)).await;
    let remote = format!("rtmp://127.0.0.1:{}/live/fm", nginx.rtmp);
    assert_eq!(rtmp_codecs(&remote, 640), ["aac", "h264"]);

    // The station's audio is in it: its 440 Hz tone.
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-rw_timeout",
            "10000000",
            "-i",
            &remote,
            "-t",
            "3",
        ])
        .args(["-vn", "-ac", "1", "-ar", "44100", "-f", "s16le", "-"])
        .output()
        .unwrap();
    let pcm: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(
        pcm.len() > 44_100 * 2,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        level(&pcm, 440.0, 44_100.0) > 0.1,
        "the station's tone is not there"
    );

    // The title is drawn: a new title changes the title's line, not the station's name.
    let before = rtmp_picture(&remote);
    set_title(
        &srv,
        &mount,
        &pw,
        "Second Artist With A Much Longer Name - Another Song",
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rtmp_picture(&remote);
    assert!(
        band_diff(&before, &after, 52..62) > 50,
        "the title line did not change"
    );
    assert!(
        band_diff(&before, &after, 24..34) < 20,
        "the station's name changed"
    );

    // On a picture from the library: the picture is the background.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("studio.png");
    tidecast_tests::media::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180",
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    let pic_remote = on_background(&srv, &owner, id, &nginx, &png, "fm-pic").await;
    let on_picture = rtmp_picture(&pic_remote);
    // testsrc's colour bars and gradients fill the corners where the plain one is dark.
    assert!(
        band_diff(&after, &on_picture, 0..10) > 500,
        "the picture is not the background"
    );
    // On a looping clip: the picture moves. (1.5 s long: a 2 s clip would loop in step
    // with the keyframes, and each new RTMP player starts on one.)
    let clip = dir.path().join("loop.mp4");
    tidecast_tests::media::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=f=330",
        "-t",
        "1.5",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let clip_remote = on_background(&srv, &owner, id, &nginx, &clip, "fm-clip").await;
    let first = rtmp_picture(&clip_remote);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let later = rtmp_picture(&clip_remote);
    assert!(
        band_diff(&first, &later, 0..90) > 200,
        "the clip does not move"
    );

    // Another customer's media cannot be used.
    let (status, err) = srv
        .post(
            &path,
            &owner,
            json!({"kind": "rtmp", "url": url, "key": "x", "video": {"media": 999_999}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_restreams_over_rtmps_with_the_certificate_checked() {
    use tidecast_tests::peers::Nginx;
    use tidecast_tests::rtmp::{Publish, ffmpeg_publish, video};
    let nginx = Nginx::start_with_tls();
    let rtmps = nginx.rtmps.unwrap();
    let store = Store::new(Backend::Sqlite).await;
    // The server trusts the test's CA as the system's roots (rustls-native-certs reads
    // SSL_CERT_FILE), as a real one trusts YouTube's and Facebook's.
    let srv = Server::start_with(
        &store,
        Options {
            args: vec!["--relay-allow".into(), "127.0.0.0/8".into()],
            env: vec![("SSL_CERT_FILE".into(), nginx.ca().display().to_string())],
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let (id, _slug, key) = video(&srv, "SecureTV", json!({})).await;
    let owner = srv.login("SecureTV-owner", "SecureTV-owner-password").await;
    let path = format!("/api/v1/services/{id}/targets");
    let (status, t) = srv
        .post(&path, &owner, json!({"kind": "rtmp", "url": format!("rtmps://localhost:{rtmps}/live"), "key": "secure"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    // The same server by address: its certificate is for `localhost`, so this one fails.
    let (status, t2) = srv
        .post(&path, &owner, json!({"kind": "rtmp", "url": format!("rtmps://127.0.0.1:{rtmps}/live"), "key": "wrong-name"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t2}");
    let _publisher = ffmpeg_publish(&srv, &key, Publish::secs(120));
    let wait = within(secs(30)).every(Duration::from_millis(300));
    let what = "the right name live and the wrong one retrying";
    let bad = eventually(wait, what, async || {
        let (_, list) = srv.get(&path, &owner).await;
        let by = |id: &Value| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|t| t["id"] == *id)
                .unwrap()
                .clone()
        };
        let (good, bad) = (by(&t["id"]), by(&t2["id"]));
        if good["state"] == "live" && bad["state"] == "retrying" {
            Ok(bad)
        } else {
            Err(list)
        }
    })
    .await;
    assert!(bad["last_error"].as_str().unwrap().contains("TLS"), "{bad}");
    // What went through TLS arrives: nginx plays it (plain RTMP behind its TLS port).
    let remote = format!("rtmp://127.0.0.1:{}/live/secure", nginx.rtmp);
    assert_eq!(rtmp_codecs(&remote, 320), ["aac", "h264"]);
}

both_backends! {
    async fn targets_and_relays_are_kept_across_a_restart(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start_allowing_loopback(&store).await;
        let tv = tidecast_tests::new_service(&srv, "KeptTV", "video", json!({})).await;
        let fm = tidecast_tests::new_service(&srv, "KeptFM", "radio", json!({})).await;
        let owner_tv = srv.login("KeptTV-owner", "KeptTV-owner-password").await;
        let owner_fm = srv.login("KeptFM-owner", "KeptFM-owner-password").await;
        let (tv_id, fm_id) = (tv["id"].as_i64().unwrap(), fm["id"].as_i64().unwrap());
        let tv_targets = format!("/api/v1/services/{tv_id}/targets");
        let fm_targets = format!("/api/v1/services/{fm_id}/targets");
        let relay = format!("/api/v1/services/{tv_id}/relay");
        let (s, _) = srv.post(&tv_targets, &owner_tv, json!({"kind": "rtmp", "url": "rtmps://127.0.0.1:9/live2", "key": "kept-key"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = srv.post(&fm_targets, &owner_fm, json!({"kind": "shoutcast", "url": "shoutcast://:pw@127.0.0.1:9/2"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, r) = srv.put(&relay, &owner_tv, json!({"url": "rtsp://cam:pw@127.0.0.1:9/stream", "mode": "on_demand", "transport": "udp"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let before = (srv.get(&tv_targets, &owner_tv).await.1, srv.get(&fm_targets, &owner_fm).await.1,
            srv.get(&relay, &owner_tv).await.1);
        drop(srv);

        // After a restart the same targets and relay are there, and run again.
        let srv = Server::start_allowing_loopback(&store).await;
        let owner_tv = srv.login("KeptTV-owner", "KeptTV-owner-password").await;
        let owner_fm = srv.login("KeptFM-owner", "KeptFM-owner-password").await;
        let (_, tv_list) = srv.get(&tv_targets, &owner_tv).await;
        let (_, fm_list) = srv.get(&fm_targets, &owner_fm).await;
        let (_, r) = srv.get(&relay, &owner_tv).await;
        for (a, b) in [(&before.0[0], &tv_list[0]), (&before.1[0], &fm_list[0])] {
            assert_eq!((&a["id"], &a["kind"], &a["url"]), (&b["id"], &b["kind"], &b["url"]), "{b}");
        }
        assert_eq!(tv_list[0]["key"], "kept-key");
        assert_eq!(fm_list[0]["url"], "shoutcast://127.0.0.1:9/2");
        assert_eq!((&r["url"], &r["mode"], &r["transport"]), (&before.2["url"], &before.2["mode"], &before.2["transport"]));
        assert_eq!(r["state"], "waiting", "on demand, nobody watching: {r}");
        // It runs again: the RTMP target waits for the channel to go live.
        assert_eq!(tv_list[0]["state"], "waiting", "{tv_list}");
        // Deleting the service removes both (its rows go with it).
        let admin = srv.admin_token().await;
        assert_eq!(srv.delete(&format!("/api/v1/services/{tv_id}"), &admin).await.0,
            StatusCode::NO_CONTENT);
        assert_eq!(srv.get(&relay, &admin).await.0, StatusCode::NOT_FOUND);
    }
}
