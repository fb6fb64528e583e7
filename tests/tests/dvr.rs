//! nDVR through the real binary: ffmpeg publishes over RTMP, every segment is archived on
//! disk, `/hls/<slug>/dvr.m3u8` plays the window back (ffprobe decodes it, program dates
//! match the wall clock), and the archive survives a SIGKILL of the server.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::process::Command;
use std::time::{Duration, SystemTime};

use tidecast_tests::disk::SmallDisk;
use tidecast_tests::rtmp::*;
use tidecast_tests::*;

/// `(program date in unix ms, duration s)` of each segment of a DVR playlist.
fn dated(playlist: &str) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut at: Option<i64> = None;
    for line in playlist.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            at = Some(
                chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .timestamp_millis(),
            );
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let d: f64 = d.trim_end_matches(',').parse().unwrap();
            out.push((at.take().expect("every segment has its program date"), d));
        }
    }
    out
}

async fn dvr_playlist(srv: &Server, slug: &str) -> (StatusCode, String) {
    let (status, _, body) = srv.fetch(&format!("/hls/{slug}/dvr.m3u8"), &[]).await;
    (status, String::from_utf8(body).unwrap())
}

/// The DVR window once it has ended: the writer finished what the publisher left queued.
async fn ended_window(srv: &Server, slug: &str) -> String {
    eventually(
        within(secs(10)).logs(srv),
        "the archive to end",
        async || {
            let (status, p) = dvr_playlist(srv, slug).await;
            if status == StatusCode::OK && p.contains("#EXT-X-ENDLIST") {
                Ok(p)
            } else {
                Err(format!("{status} {p}"))
            }
        },
    )
    .await
}

/// ffmpeg reads a playlist (or file) to the end without a complaint. Frames keep their own
/// time base (`-enc_time_base -1`): RTMP's millisecond timestamps rounded to 1/30 s would
/// collide in ffmpeg's null output and be reported as errors of the input.
fn decodes_cleanly(url: &str) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i", url])
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_plays_back_and_survives_a_crash() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Archive", json!({"dvr_minutes": 10})).await;
    let dvr = format!("/api/v1/services/{id}/dvr");
    let (status, e) = srv
        .put(&dvr, &admin, json!({"enabled": true, "window_minutes": 11}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // More bad settings: a zero window, unknown fields, a plan without DVR, a radio station.
    let (none, _, _) = video(&srv, "Nodvr", json!({"dvr_minutes": 0})).await;
    let (radio, _, _) = tidecast_tests::icecast::radio(&srv, "Radiodvr", json!({})).await;
    for (path, body, want) in [
        (
            dvr.clone(),
            json!({"enabled": true, "window_minutes": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            dvr.clone(),
            json!({"enabled": true, "hours": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/v1/services/{none}/dvr"),
            json!({"enabled": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/v1/services/{radio}/dvr"),
            json!({"enabled": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, e) = srv.put(&path, &admin, body.clone()).await;
        assert!(
            status == want || status == StatusCode::BAD_REQUEST,
            "{path} {body} → {status} {e}"
        );
    }
    let (status, v) = srv
        .put(&dvr, &admin, json!({"enabled": true, "window_minutes": 5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
    let (status, _) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"segment_seconds": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = dvr_playlist(&srv, &slug).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing recorded yet");

    let t0 = unix_ms();
    let mut publisher = ffmpeg_publish(&srv, &key, Publish::secs(13).no_bframes());
    publisher.wait().unwrap();
    let t1 = unix_ms();
    let playlist = ended_window(&srv, &slug).await;
    let segs = dated(&playlist);
    assert!(segs.len() >= 5, "{playlist}");
    // Program dates run with the wall clock, each segment after the last.
    assert!(
        segs[0].0 >= t0 - 1000 && segs.last().unwrap().0 <= t1,
        "{playlist}"
    );
    for w in segs.windows(2) {
        assert!(
            (w[1].0 - (w[0].0 + (w[0].1 * 1000.0) as i64)).abs() < 300,
            "{playlist}"
        );
    }
    // Players that take gzip get the same playlist gzipped.
    let (status, h, gz) = srv
        .fetch(
            &format!("/hls/{slug}/dvr.m3u8"),
            &[("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-encoding"], "gzip");
    let mut gunzip = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut gunzip.stdin.take().unwrap(), &gz).unwrap();
    let out = gunzip.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), playlist);
    // A player reads it: ffprobe decodes the whole archive without a complaint.
    decodes_cleanly(&srv.url(&format!("/hls/{slug}/dvr.m3u8")));
    let total: f64 = segs.iter().map(|s| s.1).sum();
    assert!(
        (10.0..15.0).contains(&total),
        "archived {total} s of a 13 s publish"
    );

    // A slice of the archive: the segments over that span, ended (its end is past).
    let (from, to) = (segs[1].0 / 1000 + 1, segs[3].0 / 1000 + 1);
    let (status, _, body) = srv
        .fetch(
            &format!("/hls/{slug}/index.m3u8?start={from}&end={to}"),
            &[],
        )
        .await;
    let slice = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK, "{slice}");
    assert!(slice.contains("#EXT-X-ENDLIST"), "{slice}");
    let part = dated(&slice);
    assert!((2..=4).contains(&part.len()), "{slice}");
    assert!(
        part[0].0 <= from * 1000 && part.last().unwrap().0 < to * 1000,
        "{slice}"
    );
    decodes_cleanly(&srv.url(&format!("/hls/{slug}/index.m3u8?start={from}&end={to}")));
    let now = unix_ms() / 1000;
    for (query, want) in [
        ("start=abc&end=5".to_owned(), StatusCode::BAD_REQUEST),
        (format!("start={to}&end={from}"), StatusCode::BAD_REQUEST),
        (
            format!("start={}&end={now}", now - 48 * 3600),
            StatusCode::BAD_REQUEST,
        ),
        ("start=1000&end=2000".to_owned(), StatusCode::NOT_FOUND),
    ] {
        let (status, _, _) = srv
            .fetch(&format!("/hls/{slug}/index.m3u8?{query}"), &[])
            .await;
        assert_eq!(status, want, "{query}");
    }

    // A crash: the server is killed, an unfinished segment is left in the archive.
    let folder = store
        .data_dir()
        .join("dvr")
        .join(id.to_string())
        .join(&slug);
    std::fs::write(folder.join("999-1.ts"), b"half a segment").unwrap();
    srv.kill();
    let srv = Server::start(&store).await;
    let (status, after) = dvr_playlist(&srv, &slug).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dated(&after), segs, "the archive changed across the crash");
    assert!(
        !folder.join("999-1.ts").exists(),
        "the unfinished segment was kept"
    );
    assert!(
        srv.wait_log("DVR archive repaired", Duration::from_secs(1)),
        "{}",
        srv.logs()
    );

    // A second session is appended after a break.
    let mut again = ffmpeg_publish(&srv, &key, Publish::secs(5).no_bframes());
    again.wait().unwrap();
    let p = eventually(
        within(secs(10)),
        "the second session to be archived",
        async || {
            let (_, p) = dvr_playlist(&srv, &slug).await;
            if dated(&p).len() > segs.len() + 1 && p.contains("#EXT-X-ENDLIST") {
                Ok(p)
            } else {
                Err(p)
            }
        },
    )
    .await;
    assert!(p.contains("#EXT-X-DISCONTINUITY"), "{p}");
    // An export across both sessions: one timeline, the break between them left out.
    let (_, p) = dvr_playlist(&srv, &slug).await;
    let all = dated(&p);
    let total: f64 = all.iter().map(|s| s.1).sum();
    let recordings = format!("/api/v1/services/{id}/recordings");
    let (status, rec) = srv
        .post(
            &recordings,
            &admin,
            json!({"from": all[0].0 / 1000, "to": unix_ms() / 1000}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{rec}");
    let rec = finished(&srv, &admin, &recordings, &rec).await;
    assert_eq!(rec["status"], "done", "{rec}");
    let got = media_duration(&srv, &admin, id, rec["media_id"].as_i64().unwrap()).await;
    assert!(
        (got - total).abs() < 1.0,
        "{got} s exported of {total} s archived in two sessions"
    );

    // Segments come only from the index.
    let (status, _, _) = srv
        .fetch(&format!("/hls/{slug}/dvr/..%2F..%2Ftidecast.db"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Sets a service's DVR as the admin; it must be accepted.
async fn enable_dvr(srv: &Server, admin: &str, id: i64, minutes: u32) {
    let (status, v) = srv
        .put(
            &format!("/api/v1/services/{id}/dvr"),
            admin,
            json!({"enabled": true, "window_minutes": minutes}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            admin,
            json!({"hls": {"segment_seconds": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// Bytes of the segment files under a folder (its index files not counted).
fn archived_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += archived_bytes(&path);
        } else if path
            .extension()
            .is_some_and(|e| e == "ts" || e == "m4s" || e == "mp4")
        {
            total += entry.metadata().unwrap().len();
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcoded_service_records_every_rendition_within_its_disk_quota() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(
        &srv,
        "Ladderdvr",
        json!({"transcode": true, "dvr_minutes": 10, "disk_quota_mb": 1}),
    )
    .await;
    let (status, v) = srv
        .put(
            &format!("/api/v1/services/{id}/transcode"),
            &admin,
            json!({"renditions": [
                {"name": "source"},
                {"name": "180p", "width": 320, "height": 180, "video_kbps": 200, "audio_kbps": 64},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    enable_dvr(&srv, &admin, id, 10).await;

    // About 1.4 MB of source and rendition for a 1 MB quota.
    let t0 = unix_ms();
    let mut publisher = ffmpeg_publish(&srv, &key, Publish::secs(18).no_bframes());
    publisher.wait().unwrap();
    let t1 = unix_ms();
    let rendition = |r: &str| format!("/hls/{slug}/{r}/dvr.m3u8");
    let what = "the renditions' archives to end";
    eventually(within(secs(15)).logs(&srv), what, async || {
        let (_, _, a) = srv.fetch(&rendition("source"), &[]).await;
        let (_, _, b) = srv.fetch(&rendition("180p"), &[]).await;
        let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        if a.contains("#EXT-X-ENDLIST") && b.contains("#EXT-X-ENDLIST") {
            Ok(())
        } else {
            Err(format!("source:\n{a}\n180p:\n{b}"))
        }
    })
    .await;

    // The window is a master playlist over the renditions' archives.
    let (status, master) = dvr_playlist(&srv, &slug).await;
    assert_eq!(status, StatusCode::OK, "{master}");
    let parsed = hls_m3u8::MasterPlaylist::try_from(master.as_str())
        .unwrap_or_else(|e| panic!("not a valid master playlist ({e}):\n{master}"));
    assert_eq!(parsed.variant_streams.len(), 2, "{master}");
    let uris: Vec<&str> = master.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(uris, ["source/dvr.m3u8", "180p/dvr.m3u8"], "{master}");
    assert!(master.contains("RESOLUTION=320x180"), "{master}");
    // Every variant says what it carries, as live and VOD master playlists do (the archive
    // noted it while recording).
    for inf in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
    {
        for attr in [
            "AVERAGE-BANDWIDTH=",
            "RESOLUTION=",
            "CODECS=\"avc1.",
            ",mp4a.40.2\"",
            "FRAME-RATE=30.000",
        ] {
            assert!(inf.contains(attr), "{attr} missing: {master}");
        }
    }
    for r in ["source", "180p"] {
        decodes_cleanly(&srv.url(&rendition(r)));
    }

    // The quota: source and rendition together never keep more than 1 MB; the oldest went.
    let folder = store.data_dir().join("dvr").join(id.to_string());
    let bytes = archived_bytes(&folder);
    assert!(
        bytes <= 1024 * 1024 && bytes > 512 * 1024,
        "{bytes} bytes archived for a 1 MB quota"
    );
    let (_, _, p) = srv.fetch(&rendition("source"), &[]).await;
    let segs = dated(&String::from_utf8(p).unwrap());
    assert!(
        segs[0].0 > t0 + 2000 && segs.last().unwrap().0 <= t1,
        "the oldest segments were kept: {segs:?} (publish {t0}..{t1})"
    );

    // A slice is a master playlist too, over the renditions' slices.
    let from = segs[1].0 / 1000 + 1;
    let to = from + 4;
    let (status, _, body) = srv
        .fetch(
            &format!("/hls/{slug}/index.m3u8?start={from}&end={to}"),
            &[],
        )
        .await;
    let slice = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK, "{slice}");
    assert!(
        slice.contains(&format!("180p/index.m3u8?start={from}&end={to}")),
        "{slice}"
    );
    let (status, _, body) = srv
        .fetch(
            &format!("/hls/{slug}/180p/index.m3u8?start={from}&end={to}"),
            &[],
        )
        .await;
    let part = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK, "{part}");
    assert!(part.contains("#EXT-X-ENDLIST"), "{part}");
    let dates = dated(&part);
    assert!(
        (2..=4).contains(&dates.len()) && dates[0].0 <= from * 1000,
        "{part}"
    );
    decodes_cleanly(&srv.url(&format!(
        "/hls/{slug}/180p/index.m3u8?start={from}&end={to}"
    )));
    // A rendition that was never recorded.
    let (status, _, _) = srv.fetch(&rendition("1080p"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The recording once its export ended.
async fn finished(srv: &Server, token: &str, recordings: &str, rec: &Value) -> Value {
    let rid = rec["id"].as_i64().unwrap();
    eventually(within(secs(30)), "the export to end", async || {
        let (status, r) = srv.get(&format!("{recordings}/{rid}"), token).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        if r["status"] != "exporting" {
            Ok(r)
        } else {
            Err(r)
        }
    })
    .await
}

/// The duration of a library item.
async fn media_duration(srv: &Server, token: &str, service: i64, mid: i64) -> f64 {
    let item = tidecast_tests::media::item(srv, token, service, mid).await;
    item["duration_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{item}"))
}

/// Top-level MP4 box types of a file, in order.
fn mp4_boxes(path: &std::path::Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut at = 0usize;
    let mut out = Vec::new();
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}

/// `(format duration s, stream codec names)` by ffprobe.
fn probe(path: &std::path::Path) -> (f64, Vec<String>) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let codecs = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_owned())
        .collect();
    (duration, codecs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_of_the_archive_exports_to_an_mp4_in_the_library() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(
        &srv,
        "Exports",
        json!({"dvr_minutes": 10, "disk_quota_mb": 50}),
    )
    .await;
    enable_dvr(&srv, &admin, id, 10).await;
    let owner = srv.login("Exports-owner", "Exports-owner-password").await;
    let recordings = format!("/api/v1/services/{id}/recordings");
    let (status, list) = srv.get(&recordings, &owner).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!({"items": [], "total": 0}));

    let mut publisher = ffmpeg_publish(&srv, &key, Publish::secs(16));
    publisher.wait().unwrap();
    let segs = dated(&ended_window(&srv, &slug).await);
    assert!(segs.len() >= 6, "{segs:?}");

    // Bad requests change nothing.
    let now = unix_ms() / 1000;
    let (radio, _, _) = tidecast_tests::icecast::radio(&srv, "Radioexport", json!({})).await;
    for (path, body, want) in [
        (
            recordings.clone(),
            json!({"from": 20, "to": 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            recordings.clone(),
            json!({"from": now - 48 * 3600, "to": now}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            recordings.clone(),
            json!({"from": "soon", "to": 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            recordings.clone(),
            json!({"from": 1000, "to": 2000}),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/services/{radio}/recordings"),
            json!({"from": now - 10, "to": now}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, e) = srv.post(&path, &admin, body.clone()).await;
        assert!(
            status == want
                || (want == StatusCode::UNPROCESSABLE_ENTITY && status == StatusCode::BAD_REQUEST),
            "{path} {body} → {status} {e}"
        );
    }
    // Another customer cannot see or make this service's recordings.
    srv.create_user(&admin, "stranger", "customer", json!({}))
        .await;
    let stranger = srv.login("stranger", "stranger-password").await;
    let (status, _) = srv.get(&recordings, &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = srv
        .post(&recordings, &stranger, json!({"from": now - 10, "to": now}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Segments 1 to 5 of the archive, by wall-clock time.
    let from = segs[1].0 / 1000 + 1;
    let to = segs[5].0 / 1000 + 1;
    let (status, rec) = srv
        .post(
            &recordings,
            &owner,
            json!({"from": from, "to": to, "title": "Best bits"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{rec}");
    assert_eq!(rec["status"], "exporting");
    let rec = finished(&srv, &owner, &recordings, &rec).await;
    assert_eq!(rec["status"], "done", "{rec}\n{}", srv.logs());
    assert_eq!(rec["progress"], 1.0);
    // Whole segments: the recording starts at or before `from` and ends at or after `to`,
    // each within one segment.
    let (rf, rt) = (rec["from"].as_f64().unwrap(), rec["to"].as_f64().unwrap());
    assert!(
        rf <= from as f64 && rf > from as f64 - 2.5,
        "{rec} for {from}..{to}"
    );
    assert!(
        rt >= to as f64 && rt < to as f64 + 2.5,
        "{rec} for {from}..{to}"
    );

    // In the library, in the Recordings folder, with the span's duration.
    let mid = rec["media_id"].as_i64().unwrap();
    let (_, items) = srv
        .get(&format!("/api/v1/services/{id}/media"), &owner)
        .await;
    let item = items["items"]
        .as_array()
        .or(items.as_array())
        .unwrap()
        .iter()
        .find(|i| i["id"] == mid)
        .cloned()
        .unwrap_or_else(|| panic!("{mid} not in {items}"));
    assert_eq!(item["folder"], "Recordings", "{item}");
    assert_eq!(item["title"], "Best bits", "{item}");
    // The owner's until shared: private, its URL of no use to anyone else.
    assert_eq!(item["visibility"], "private", "{item}");
    let expected: f64 = segs
        .iter()
        .filter(|(at, d)| (*at as f64 + d * 1000.0) > rf * 1000.0 && (*at as f64) < rt * 1000.0)
        .map(|(_, d)| d)
        .sum();
    let got = item["duration_s"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 0.5,
        "{got} s exported, {expected} s archived"
    );

    // The file: H.264 and AAC copied as they were, the index (moov) before the media.
    let dir = store.data_dir().join("media");
    let file = walk(&dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .expect("the MP4 in the library");
    let (duration, codecs) = probe(&file);
    assert_eq!(codecs, ["h264", "aac"]);
    assert!(
        (duration - expected).abs() < 0.5,
        "{duration} vs {expected}"
    );
    let boxes = mp4_boxes(&file);
    let moov = boxes.iter().position(|b| b == "moov");
    let mdat = boxes.iter().position(|b| b == "mdat");
    assert!(moov.is_some() && moov < mdat, "{boxes:?}");
    decodes_cleanly(file.to_str().unwrap());
    let (_, list) = srv.get(&recordings, &owner).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_archive_not_the_live_stream() {
    let store = Store::new(Backend::Sqlite).await;
    let folder = store.data_dir().join("dvr");
    let _disk = SmallDisk::mount(&folder, "512k");
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Fulldisk", json!({"dvr_minutes": 10})).await;
    enable_dvr(&srv, &admin, id, 10).await;
    // About 50 kB a second: the 512 kB disk is full after some 10 s.
    let mut publisher = ffmpeg_publish(&srv, &key, Publish::secs(24).no_bframes());
    assert!(
        srv.wait_log("DVR: cannot write", Duration::from_secs(22)),
        "the disk never filled up\n{}",
        srv.logs()
    );
    // Live goes on: new segments keep coming, and they play.
    let live = format!("/hls/{slug}/index.m3u8");
    let (status, _, before) = srv.fetch(&live, &[]).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, _, after) = srv.fetch(&live, &[]).await;
    let (before, after) = (
        String::from_utf8(before).unwrap(),
        String::from_utf8(after).unwrap(),
    );
    assert!(
        media_sequence(&after) >= media_sequence(&before) + 2,
        "live stalled with the disk full:\n{before}\n{after}"
    );
    decodes_cleanly(&srv.url(&live));
    publisher.wait().unwrap();

    // What was archived before the disk filled up is whole: it plays, every file in the
    // folder is one the index names, and a restart finds nothing to repair.
    let archived = ended_window(&srv, &slug).await;
    let segs = dated(&archived);
    assert!(segs.len() >= 4, "{archived}");
    decodes_cleanly(&srv.url(&format!("/hls/{slug}/dvr.m3u8")));
    let files = walk(&folder)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .count();
    assert_eq!(files, segs.len(), "files left that the index does not name");
    // The segments the full disk cost are counted where operators look.
    let (status, _, body) = srv
        .fetch("/metrics", &[("authorization", &format!("Bearer {admin}"))])
        .await;
    assert_eq!(status, StatusCode::OK);
    let samples = parse_metrics(&String::from_utf8(body).unwrap());
    let dropped: f64 = samples
        .iter()
        .filter(|(name, labels, _)| {
            name == "tidecast_dvr_dropped_segments_total"
                && labels.get("service") == Some(&id.to_string())
        })
        .map(|(_, _, v)| v)
        .sum();
    assert!(dropped >= 1.0, "no dropped segments counted: {samples:?}");
    srv.kill();
    let srv = Server::start(&store).await;
    let (status, again) = dvr_playlist(&srv, &slug).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dated(&again), segs);
    assert!(
        !srv.logs().contains("DVR archive repaired"),
        "{}",
        srv.logs()
    );
    drop(srv);
}

/// What a viewer does with a DVR seek bar: hls.js in headless Chromium plays `dvr.m3u8` at
/// the live edge, seeks two minutes back and plays from there (the program dates of what it
/// plays are two minutes old), then goes back to live and plays on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_seeks_two_minutes_back_in_the_dvr_window_and_returns_to_live() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Seekbar", json!({"dvr_minutes": 10})).await;
    enable_dvr(&srv, &admin, id, 5).await;
    let _pub = ffmpeg_publish(&srv, &key, Publish::secs(240));
    // Two minutes and a bit in the window before the viewer arrives.
    let wait = within(secs(200)).every(secs(2)).logs(&srv);
    eventually(wait, "135 s in the DVR window", async || {
        let (status, pl) = dvr_playlist(&srv, &slug).await;
        let span: f64 = dated(&pl).iter().map(|(_, d)| d).sum();
        if status == StatusCode::OK && span >= 135.0 {
            Ok(())
        } else {
            Err(format!("{status} {span} s"))
        }
    })
    .await;
    let run = play_in_chromium(
        &srv.url(&format!("/hls/{slug}/dvr.m3u8")),
        &["--seek-back", "120", "--seconds", "3"],
    );
    eprintln!("hls.js in dvr.m3u8: {run}");
    let seek = &run["seek"];
    let window = seek["window"].as_array().unwrap();
    let (from, to) = (window[0].as_f64().unwrap(), window[1].as_f64().unwrap());
    assert!(to - from >= 125.0, "the seek bar spans {from}..{to}: {run}");
    assert_eq!(seek["playedBack"], true, "{run}");
    assert_eq!(seek["playedLive"], true, "{run}");
    // What played after the seek was recorded two minutes before what played at the edge.
    let live = seek["liveBehindMs"].as_f64().unwrap();
    let back = seek["behindMs"].as_f64().unwrap();
    assert!(
        (back - live - 120_000.0).abs() < 10_000.0,
        "at the edge {live} ms behind the wall clock, after seeking 120 s back {back} ms: {run}"
    );
    let again = seek["backBehindMs"].as_f64().unwrap();
    assert!(
        again < live + 10_000.0,
        "back to live: {again} ms behind: {run}"
    );
    assert!(
        !run["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("FATAL")),
        "{run}"
    );

    // The same archive in Tidecast's own video player: its seek bar, "back to live".
    let report = tidecast_tests::browser::run(
        "player_dvr.mjs",
        &json!({
            "base": srv.url(""),
            "slug": slug,
            "back": 60,
            "screenshots": tidecast_tests::browser::screenshots("dvr"),
        }),
    );
    tidecast_tests::browser::assert_passed(&report, &srv.logs());
    let window = report["window"].as_array().unwrap();
    let span = window[1].as_f64().unwrap() - window[0].as_f64().unwrap();
    assert!(span >= 120.0, "the seek bar spans {span} s: {report}");
    assert_eq!(report["atEdge"], 1, "{report}");
    // "−1:0x" behind live while in the past; nothing once back at the edge.
    let behind = report["behind"].as_str().unwrap();
    assert!(
        behind.starts_with("−0:5") || behind.starts_with("−1:0"),
        "{report}"
    );
    assert_eq!(report["after"], "", "{report}");
}

/// SIGKILL while an upload streams in, an export runs and the DVR writes: after the restart
/// nothing is half there — no upload remnant, no library file without its row nor row
/// without its file, no export stuck, and every archived segment is one the index names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_upload_an_export_and_a_dvr_write_leaves_no_orphans() {
    use std::io::Write as _;

    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Crashy", json!({"dvr_minutes": 10})).await;
    enable_dvr(&srv, &admin, id, 10).await;
    let owner = srv.login("Crashy-owner", "Crashy-owner-password").await;
    let _publisher = ffmpeg_publish(
        &srv,
        &key,
        Publish {
            seconds: 120,
            gop_secs: 1,
            bframes: false,
        },
    );
    let archived = eventually(
        within(secs(40)).logs(&srv),
        "six archived segments",
        async || {
            let (status, p) = dvr_playlist(&srv, &slug).await;
            if status == StatusCode::OK && dated(&p).len() >= 6 {
                Ok(p)
            } else {
                Err(p)
            }
        },
    )
    .await;
    let segs = dated(&archived);

    // An upload whose body is half sent when the server dies.
    let mut upload = std::net::TcpStream::connect(&srv.http).unwrap();
    let boundary = "crashboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n"
    );
    write!(
        upload,
        "POST /api/v1/services/{id}/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {owner}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        head.len() + 10_000_000
    )
    .unwrap();
    upload.write_all(&vec![0xAA; 256 * 1024]).unwrap();
    let incoming = store.data_dir().join("media").join(".incoming");
    eventually(within(secs(10)), "the upload to be on disk", async || {
        let n = std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0);
        if n > 0 { Ok(()) } else { Err(n) }
    })
    .await;
    // An export of the archive so far, killed as it starts.
    let from = segs[0].0 / 1000 + 1;
    let to = segs[segs.len() - 1].0 / 1000;
    let recordings = format!("/api/v1/services/{id}/recordings");
    let (status, rec) = srv
        .post(&recordings, &owner, json!({"from": from, "to": to}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{rec}");
    srv.kill();
    drop(upload);

    let srv = Server::start(&store).await;
    // The export runs again (or failed with a reason): never stuck.
    let rec = finished(&srv, &owner, &recordings, &rec).await;
    assert!(rec["status"] == "done" || rec["error"].is_string(), "{rec}");
    // Let the on-demand copy of the export settle, so the folders hold still.
    if let Some(mid) = rec["media_id"].as_i64() {
        eventually(
            within(secs(60)),
            "the export's on-demand copy",
            async || {
                let vod = tidecast_tests::media::item(&srv, &owner, id, mid).await["vod"]["status"]
                    .clone();
                if vod == "ready" || vod == "failed" || vod.is_null() {
                    Ok(())
                } else {
                    Err(vod)
                }
            },
        )
        .await;
    }
    let snapshot = store.snapshot().await;
    let rows = snapshot["media"].as_array().cloned().unwrap_or_default();
    let known: std::collections::BTreeSet<String> = rows
        .iter()
        .flat_map(|r| [r["path"].as_str(), r["cover_path"].as_str()])
        .flatten()
        .map(|p| store.data_dir().join(p).display().to_string())
        .collect();
    let files: Vec<String> = walk(&store.data_dir().join("media"))
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        files.iter().all(|f| known.contains(f)),
        "library files without a row after the crash: {files:?}\nrows: {known:?}"
    );
    for f in &known {
        assert!(
            std::path::Path::new(f).exists(),
            "a row whose file is gone: {f}"
        );
    }
    // The archive: what the index names and what is on disk agree.
    let folder = store
        .data_dir()
        .join("dvr")
        .join(id.to_string())
        .join(&slug);
    let (status, after) = dvr_playlist(&srv, &slug).await;
    assert_eq!(status, StatusCode::OK);
    let on_disk = walk(&folder)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .count();
    assert!(
        dated(&after).len() >= segs.len(),
        "archived segments lost: {after}"
    );
    assert_eq!(
        on_disk,
        dated(&after).len(),
        "segment files the index does not name:\n{after}"
    );
}
