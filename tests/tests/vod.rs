//! On-demand video through the real binary: a video file made by ffmpeg, uploaded to the
//! media library, is transcoded in the background into an HLS ladder in the service's
//! rungs; ffprobe reads its master playlist and every rung, with segments cut at the same
//! instants in all rungs; a file cut short gets a clear status instead of a ladder. Its
//! URLs carry an unguessable public id (the integer id is no URL), and its visibility
//! decides who plays it: a private one only its owner's side or a signed, expiring URL.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::time::Duration;

use tidecast_tests::media::{ffmpeg, item, multipart, tone_file, upload};
use tidecast_tests::rtmp::{probe, segments_of, tag, video};
use tidecast_tests::*;

/// A 640x360 30 fps clip with a tone, `secs` long, B-frames (as cameras and OBS send),
/// keyframes every 100 frames (not on the ladder's 4 s grid), moov at the front so a cut
/// copy still has its header.
fn clip(dir: &Path, name: &str, secs: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    let t = secs.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=640x360:rate=30:duration={t}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency=440:sample_rate=44100:duration={t}"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-g",
        "100",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-movflags",
        "+faststart",
        path.to_str().unwrap(),
    ]);
    path
}

/// The media item `mid` once its on-demand copy is no longer queued or transcoding; the
/// progress values seen on the way.
async fn settled(srv: &Server, token: &str, service: i64, mid: i64) -> (Value, Vec<f64>) {
    let mut seen = Vec::new();
    let wait = within(secs(180))
        .every(Duration::from_millis(250))
        .logs(srv);
    let item = eventually(wait, "the video to be transcoded", async || {
        let item = item(srv, token, service, mid).await;
        let vod = &item["vod"];
        if let Some(p) = vod["progress"].as_f64() {
            seen.push(p);
        }
        if vod["status"] == "ready" || vod["status"] == "failed" {
            Ok(item)
        } else {
            Err(item)
        }
    })
    .await;
    (item, seen)
}

/// Waits until the worker writes the video's ladder into `partial`.
async fn started_transcoding(srv: &Server, partial: &Path) {
    let wait = within(secs(60)).every(Duration::from_millis(50)).logs(srv);
    let what = format!("the transcoder to write {}", partial.display());
    eventually(wait, what, async || {
        if partial.exists() {
            Ok(())
        } else {
            Err("nothing yet")
        }
    })
    .await;
}

async fn text(srv: &Server, path: &str) -> (StatusCode, String) {
    let (status, _, body) = srv.fetch(path, &[]).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

both_backends! {
async fn an_uploaded_video_plays_on_demand_in_every_rung_that_fits_it(b: Backend) {
    let (store, srv, admin) = started(b).await;
    let (id, _, _) = video(&srv, "Vodtv", json!({"transcode": true})).await;
    let owner = srv.login("Vodtv-owner", "Vodtv-owner-password").await;
    // The service's ladder is the VOD ladder; 720p is above the 360p clip and left out.
    let (status, body) = srv
        .call(
            "PUT",
            &format!("/api/v1/services/{id}/transcode"),
            Some(&admin),
            Some(json!({"renditions": [
                {"name": "720p", "height": 720, "video_kbps": 1500, "audio_kbps": 96},
                {"name": "360p", "height": 360, "video_kbps": 700, "audio_kbps": 96},
                {"name": "240p", "height": 240, "video_kbps": 300, "audio_kbps": 64},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "clip.mp4", 14);
    let (status, up) = upload(&srv, &owner, id, &[&file]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let item = &up["items"][0];
    assert_eq!(item["kind"], "video", "{item}");
    assert!(
        ["queued", "transcoding"].contains(&item["vod"]["status"].as_str().unwrap()),
        "{item}"
    );
    let mid = item["id"].as_i64().unwrap();
    // Addressed by an unguessable public id; an upload starts unlisted.
    let pid = item["public_id"].as_str().unwrap().to_owned();
    assert!(
        pid.len() == 32 && pid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{item}"
    );
    assert_eq!(item["visibility"], "unlisted", "{item}");
    let master_path = format!("/hls/vod/{pid}/index.m3u8");
    assert_eq!(item["vod"]["hls_path"], master_path.as_str());
    assert_eq!(item["vod"]["player_path"], format!("/player/vod/{pid}"));
    // Not served before it is made.
    let (status, _) = text(&srv, &master_path).await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::OK,
        "{status}"
    );

    let (item, progress) = settled(&srv, &owner, id, mid).await;
    assert_eq!(item["vod"]["status"], "ready", "{item}\n{}", srv.logs());
    assert_eq!(item["vod"]["progress"], 1.0);
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {progress:?}"
    );
    assert!(
        srv.logs()
            .contains("on-demand copy of \\\"clip.mp4\\\" ready")
    );

    // The integer id walks to nothing for someone who is not logged in.
    for old in [
        format!("/hls/vod/{mid}/index.m3u8"),
        format!("/hls/vod/{mid}/360p/index.m3u8"),
        format!("/hls/vod/{mid}/360p/00000.ts"),
        format!("/player/vod/{mid}"),
        format!("/embed/vod/{mid}"),
    ] {
        let (status, _) = text(&srv, &old).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{old}");
    }

    // The master playlist: the two rungs that fit, highest first, with what players need.
    let (status, master) = text(&srv, &master_path).await;
    assert_eq!(status, StatusCode::OK, "{master}");
    let inf: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    assert_eq!(inf.len(), 2, "{master}");
    assert!(inf[0].contains("RESOLUTION=640x360"), "{master}");
    assert!(inf[1].contains("RESOLUTION=426x240"), "{master}");
    for l in &inf {
        assert!(
            l.contains("CODECS=\"avc1.") && l.contains(",mp4a.40.2\""),
            "{l}"
        );
        assert!(l.contains("AVERAGE-BANDWIDTH="), "{l}");
        assert!(l.contains("FRAME-RATE=30.000"), "{l}");
    }
    let uris: Vec<&str> = master.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(uris, ["360p/index.m3u8", "240p/index.m3u8"]);

    // Each rung: a finished VOD playlist of 4 s segments, cut at the same instants.
    let mut cuts = Vec::new();
    for rung in ["360p", "240p"] {
        let (status, pl) = text(&srv, &format!("/hls/vod/{pid}/{rung}/index.m3u8")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(pl.contains("#EXT-X-ENDLIST"), "{pl}");
        assert_eq!(tag(&pl, "#EXT-X-PLAYLIST-TYPE"), Some("VOD"), "{pl}");
        let segs = segments_of(&pl);
        let total: f64 = segs.iter().map(|(_, d)| d).sum();
        assert!((total - 14.0).abs() < 0.5, "{rung}: {total} s\n{pl}");
        assert!(segs.len() >= 3, "{pl}");
        for (name, d) in &segs[..segs.len() - 1] {
            assert!((d - 4.0).abs() < 0.1, "{rung}/{name} lasts {d} s\n{pl}");
        }
        cuts.push(
            segs.iter()
                .map(|(_, d)| (d * 100.0).round() as i64)
                .collect::<Vec<_>>(),
        );
        // Every segment starts on a keyframe, so players can switch rungs at any of them.
        let (_, _, first) = srv
            .fetch(&format!("/hls/vod/{pid}/{rung}/{}", segs[1].0), &[])
            .await;
        let seg = dir.path().join(format!("{rung}.ts"));
        std::fs::write(&seg, first).unwrap();
        let key = probe(
            &seg,
            &[
                "-select_streams",
                "v",
                "-read_intervals",
                "%+#1",
                "-show_entries",
                "frame=key_frame",
                "-of",
                "csv=p=0",
            ],
        );
        assert_eq!(key.lines().next(), Some("1"), "{rung}: {key}");
    }
    // (The last segment ends with whichever track ends last: a frame either way.)
    let n = cuts[0].len();
    assert_eq!(cuts[0].len(), cuts[1].len(), "{cuts:?}");
    assert_eq!(
        cuts[0][..n - 1],
        cuts[1][..n - 1],
        "rungs cut at different instants"
    );
    assert!((cuts[0][n - 1] - cuts[1][n - 1]).abs() <= 10, "{cuts:?}");

    // ffmpeg plays the whole ladder over HTTP from the master playlist.
    plays_whole(&srv.url(&master_path));
    let dur = probe(
        Path::new(&srv.url(&format!("/hls/vod/{pid}/360p/index.m3u8"))),
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    );
    let dur: f64 = dur.parse().unwrap_or_else(|_| panic!("{dur}"));
    assert!((dur - 14.0).abs() < 0.5, "{dur}");

    // The video player page for it: VOD mode over the same master playlist.
    let (status, page) = text(&srv, &format!("/player/vod/{pid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!("\"hls\":\"/hls/vod/{pid}/index.m3u8\""))
            && page.contains("\"vod\":true"),
        "{page}"
    );
    let (status, _) = text(&srv, &format!("/embed/vod/{pid}")).await;
    assert_eq!(status, StatusCode::OK);

    // Names the transcoder never writes, and ids that are not ready, are not found.
    for bad in [
        format!("/hls/vod/{pid}/..%2F..%2Findex.m3u8"),
        format!("/hls/vod/{pid}/360p/..%2Findex.m3u8"),
        format!("/hls/vod/{pid}/360p/x.ts"),
        format!("/hls/vod/{}/index.m3u8", "0".repeat(32)),
        format!("/hls/vod/{}/index.m3u8", pid.to_uppercase()),
        "/hls/vod/abc/index.m3u8".to_owned(),
    ] {
        let (status, _) = text(&srv, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }

    let segs = segs_of(&srv, &pid).await;
    private_plays_only_for_its_owner_or_a_signed_url(&srv, &admin, id, mid, &pid, &segs).await;

    // Deleting the video takes its ladder with it.
    let (status, _) = srv
        .call(
            "DELETE",
            &format!("/api/v1/services/{id}/media/{mid}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = text(&srv, &master_path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!store.data_dir().join("vod").join(mid.to_string()).exists());
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_cut_short_says_so_and_a_restart_finishes_the_queue() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, _, _) = video(&srv, "Vodcut", json!({})).await;
    let owner = srv.login("Vodcut-owner", "Vodcut-owner-password").await;
    let dir = tempfile::tempdir().unwrap();

    // The header says 20 s; the bytes stop before half of it.
    let whole = clip(dir.path(), "whole.mp4", 20);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 5]).unwrap();
    let (status, up) = upload(&srv, &owner, id, &[&cut]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let mid = up["items"][0]["id"].as_i64().unwrap();
    let (item, _) = settled(&srv, &owner, id, mid).await;
    assert_eq!(item["vod"]["status"], "failed", "{item}");
    let why = item["vod"]["error"].as_str().unwrap();
    assert!(why.contains("cut short"), "{why}");
    let (status, _) = text(&srv, item["vod"]["hls_path"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let leftovers: Vec<_> = std::fs::read_dir(store.data_dir().join("vod"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A server killed mid-transcode picks the video up again at its next start.
    let long = clip(dir.path(), "long.mp4", 40);
    let (status, up) = upload(&srv, &owner, id, &[&long]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let mid = up["items"][0]["id"].as_i64().unwrap();
    let partial = store.data_dir().join("vod").join(format!("{mid}.partial"));
    started_transcoding(&srv, &partial).await;
    srv.kill();
    let srv = Server::start(&store).await;
    assert!(
        srv.wait_log(
            "cut short by the last stop: queued again",
            Duration::from_secs(10)
        ),
        "{}",
        srv.logs()
    );
    let (item, _) = settled(&srv, &owner, id, mid).await;
    assert_eq!(item["vod"]["status"], "ready", "{item}\n{}", srv.logs());
    let (status, master) = text(&srv, item["vod"]["hls_path"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{master}");
    // The default ladder, left at the rungs the 360p clip fits.
    assert!(master.contains("360p/index.m3u8"), "{master}");
    assert!(!master.contains("720p"), "{master}");

    // A video deleted while it is transcoded stops its transcode and leaves nothing behind.
    let other = clip(dir.path(), "other.mp4", 41);
    let (status, up) = upload(&srv, &owner, id, &[&other]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let mid = up["items"][0]["id"].as_i64().unwrap();
    let partial = store.data_dir().join("vod").join(format!("{mid}.partial"));
    started_transcoding(&srv, &partial).await;
    let (status, _) = srv
        .call(
            "DELETE",
            &format!("/api/v1/services/{id}/media/{mid}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        srv.wait_log("stopped: the video was deleted", Duration::from_secs(10)),
        "{}",
        srv.logs()
    );
    let ladder = store.data_dir().join("vod").join(mid.to_string());
    let wait = within(secs(10)).every(Duration::from_millis(100));
    eventually(wait, "the deleted video's ladder to go", async || {
        match [&partial, &ladder].into_iter().find(|p| p.exists()) {
            Some(p) => Err(format!("{} is still there", p.display())),
            None => Ok(()),
        }
    })
    .await;
}

/// ffmpeg decodes the first video and audio of every segment `url` leads to, without error.
fn plays_whole(url: &str) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i", url])
        .args(["-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{url}: {err}");
}

/// `PATCH`es an item's visibility as `token`.
async fn set_visibility(srv: &Server, token: &str, item: &str, v: &str) -> (StatusCode, Value) {
    let body = json!({ "visibility": v });
    srv.call("PATCH", item, Some(token), Some(body)).await
}

/// The 360p rung's segment names, from its playlist.
async fn segs_of(srv: &Server, pid: &str) -> Vec<String> {
    let (status, pl) = text(srv, &format!("/hls/vod/{pid}/360p/index.m3u8")).await;
    assert_eq!(status, StatusCode::OK, "{pl}");
    segments_of(&pl).into_iter().map(|(n, _)| n).collect()
}

/// Every URI of a playlist (its non-tag lines).
fn uris(pl: &str) -> Vec<&str> {
    pl.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The path and query of an absolute URL of `srv`.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Item `mid` (public id `pid`, owned by `Vodtv-owner`, in service `id`) made private: it
/// plays for nobody else, by any of its URLs; for its owner's side (bearer or the panel's
/// cookie session) it does; a signed URL plays it in full (the signature reaches the rung
/// playlists and the segments) until it expires; a changed signature or another tenant's
/// request gets nothing.
async fn private_plays_only_for_its_owner_or_a_signed_url(
    srv: &Server,
    admin: &str,
    id: i64,
    mid: i64,
    pid: &str,
    segs: &[String],
) {
    let owner = srv.login("Vodtv-owner", "Vodtv-owner-password").await;
    let item_path = format!("/api/v1/services/{id}/media/{mid}");
    let (status, body) = set_visibility(srv, &owner, &item_path, "secret").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = set_visibility(srv, &owner, &item_path, "private").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["visibility"], "private", "{body}");

    let seg = &segs[0];
    let urls = [
        format!("/hls/vod/{pid}/index.m3u8"),
        format!("/hls/vod/{pid}/360p/index.m3u8"),
        format!("/hls/vod/{pid}/360p/{seg}"),
        format!("/player/vod/{pid}"),
        format!("/embed/vod/{pid}"),
    ];
    let int_urls = [
        format!("/hls/vod/{mid}/index.m3u8"),
        format!("/hls/vod/{mid}/360p/index.m3u8"),
        format!("/hls/vod/{mid}/360p/{seg}"),
        format!("/player/vod/{mid}"),
    ];
    // Nobody, and another customer, get 404 everywhere (as for an id that does not exist).
    srv.create_user(admin, "Vodstranger", "customer", json!({}))
        .await;
    let stranger = srv.login("Vodstranger", "Vodstranger-password").await;
    let as_stranger = format!("Bearer {stranger}");
    for url in urls.iter().chain(&int_urls) {
        let (status, _, _) = srv.fetch(url, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url} anonymously");
        let (status, _, _) = srv.fetch(url, &[("authorization", &as_stranger)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url} as another customer");
    }
    // Its owner (a bearer token, the panel's cookie session) and the admin play it, by
    // either id.
    let res = reqwest::Client::new()
        .post(srv.url("/api/v1/login"))
        .json(
            &json!({"username": "Vodtv-owner", "password": "Vodtv-owner-password", "cookie": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let as_owner = format!("Bearer {owner}");
    let as_admin = format!("Bearer {admin}");
    for url in urls.iter().chain(&int_urls) {
        for creds in [
            ("authorization", as_owner.as_str()),
            ("cookie", cookie.as_str()),
            ("authorization", as_admin.as_str()),
        ] {
            let (status, h, _) = srv.fetch(url, &[creds]).await;
            assert_eq!(status, StatusCode::OK, "{url} with {}", creds.0);
            if url.starts_with("/hls/") {
                assert!(
                    h["cache-control"].to_str().unwrap().starts_with("private"),
                    "{url}: {h:?}"
                );
            }
        }
    }

    // Signed URLs: only for who sees the item, with a sane lifetime.
    let sign = format!("{item_path}/signed-url");
    let (status, _) = srv.get(&sign, &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = srv.post(&sign, &stranger, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (ttl, want) in [
        ("0", StatusCode::UNPROCESSABLE_ENTITY),
        ("-5", StatusCode::UNPROCESSABLE_ENTITY),
        ("604801", StatusCode::UNPROCESSABLE_ENTITY),
        ("abc", StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = srv.get(&format!("{sign}?ttl={ttl}"), &owner).await;
        assert_eq!(status, want, "ttl={ttl}: {body}");
    }
    let (status, link) = srv
        .post(&format!("{sign}?ttl=600"), &owner, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert!(link["expires_at"].is_string(), "{link}");
    let url = link["url"].as_str().unwrap();
    let master = path_of(url).to_owned();
    let (base, query) = master.split_once('?').unwrap();
    assert_eq!(base, format!("/hls/vod/{pid}/index.m3u8"));
    assert!(
        query.contains("expires=") && query.contains("sig="),
        "{url}"
    );

    // Anonymous, signed: the master, a rung and its segments, each reached by the URIs the
    // playlist before it gave.
    let (status, text_master) = text(srv, &master).await;
    assert_eq!(status, StatusCode::OK, "{text_master}");
    let rung_uri = uris(&text_master)[0].to_owned();
    assert!(rung_uri.ends_with(&format!("?{query}")), "{text_master}");
    let rung_path = format!("/hls/vod/{pid}/{rung_uri}");
    let (status, rung) = text(srv, &rung_path).await;
    assert_eq!(status, StatusCode::OK, "{rung}");
    let seg_uris: Vec<String> = uris(&rung).into_iter().map(str::to_owned).collect();
    assert!(
        !seg_uris.is_empty() && seg_uris.iter().all(|u| u.ends_with(&format!("?{query}"))),
        "{rung}"
    );
    let rung_dir = rung_path
        .split('?')
        .next()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0
        .to_owned();
    for u in &seg_uris {
        let (status, h, body) = srv.fetch(&format!("{rung_dir}/{u}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{u}");
        assert!(!body.is_empty() && h["cache-control"].to_str().unwrap().starts_with("private"));
    }
    let player = path_of(link["player_url"].as_str().unwrap());
    let (status, h, page) = srv.fetch(player, &[]).await;
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(h["cache-control"], "private, no-cache");
    assert!(
        page.contains(&format!("/hls/vod/{pid}/index.m3u8?{query}")),
        "{page}"
    );
    // ffmpeg, a real player, plays the whole signed ladder from the URL as handed out.
    plays_whole(url);

    // The signature holds only for this item, as made: a changed one, one moved to another
    // expiry, one on the integer id, or none at all on a segment get nothing.
    let sig = query.split("sig=").nth(1).unwrap();
    let flipped = if sig.starts_with('A') {
        sig.replacen('A', "B", 1)
    } else {
        format!("A{}", &sig[1..])
    };
    let expires: i64 = query
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for bad in [
        format!("/hls/vod/{pid}/index.m3u8?{}", query.replace(sig, &flipped)),
        format!(
            "/hls/vod/{pid}/index.m3u8?expires={}&sig={sig}",
            expires + 3600
        ),
        format!("/hls/vod/{pid}/360p/{seg}?expires={expires}"),
        format!("/hls/vod/{pid}/360p/{seg}"),
        format!("/hls/vod/{mid}/index.m3u8?{query}"),
        format!("/player/vod/{pid}?{}", query.replace(sig, &flipped)),
    ] {
        let (status, _) = text(srv, &bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    // An expired one says so.
    let (status, short) = srv.get(&format!("{sign}?ttl=1"), &owner).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let short = path_of(short["url"].as_str().unwrap()).to_owned();
    let short_q = short.split_once('?').unwrap().1.to_owned();
    for url in [
        short.clone(),
        format!("/hls/vod/{pid}/360p/{seg}?{short_q}"),
        format!("/player/vod/{pid}?{short_q}"),
    ] {
        let (status, body) = text(srv, &url).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {body}");
        assert!(body.contains("expired"), "{body}");
    }

    // An upload may say who watches it; only the three values are taken.
    let dir = tempfile::tempdir().unwrap();
    let tone = tone_file(dir.path(), "t.mp3", 440, 1.0, (0.0, 0.0), ("T", "A", "B"));
    let (ct, body) = multipart(&[("file", Some("t.mp3"), std::fs::read(&tone).unwrap())]);
    let media = format!("/api/v1/services/{id}/media");
    let headers = [("content-type", ct.as_str())];
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    for (v, want) in [("everyone", refused), ("private", StatusCode::CREATED)] {
        let path = format!("{media}?visibility={v}");
        let (status, up) = srv
            .raw("POST", &path, Some(&owner), &headers, body.clone())
            .await;
        assert_eq!(status, want, "{up}");
        if status == StatusCode::CREATED {
            assert_eq!(up["items"][0]["visibility"], v, "{up}");
        }
    }

    // Public again: it plays for anyone by its public id (still not by the integer one).
    let (status, body) = set_visibility(srv, &owner, &item_path, "public").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = text(srv, &urls[2]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = text(srv, &int_urls[0]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
