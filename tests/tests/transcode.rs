//! The adaptive-bitrate ladder through the real binary: ffmpeg publishes over RTMP, the
//! in-process transcoder makes the renditions, ffprobe/ffmpeg check what comes out of
//! `/hls/<slug>/…` (master playlist, renditions, aligned segment boundaries, bitrates).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use tidecast_tests::rtmp::*;
use tidecast_tests::*;

/// `(stream_index, first video PTS in 90 kHz ticks)` of a segment file.
fn first_video_pts(file: &std::path::Path) -> Option<i64> {
    probe(
        file,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .min()
}

/// Video bits per second of a rendition's downloaded segments (packets only, no container).
fn video_kbps(dir: &std::path::Path, playlist: &str) -> f64 {
    let mut bytes = 0u64;
    let mut secs = 0.0;
    for (uri, dur) in segments_of(playlist) {
        let sizes = probe(
            &dir.join(&uri),
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=size",
                "-of",
                "csv=p=0",
            ],
        );
        bytes += sizes
            .lines()
            .filter_map(|l| l.trim().trim_end_matches(',').parse::<u64>().ok())
            .sum::<u64>();
        secs += dur;
    }
    bytes as f64 * 8.0 / secs / 1000.0
}

/// Sets a service's ladder as the admin; it must be accepted.
async fn put_ladder(srv: &Server, admin: &str, id: i64, body: Value) -> Value {
    let (status, view) = srv
        .put(&format!("/api/v1/services/{id}/transcode"), admin, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ladder_renditions_decode_align_and_are_listed_in_a_master_playlist() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(
        &srv,
        "Ladder",
        json!({"transcode": true, "max_bitrate_kbps": 4000}),
    )
    .await;
    let ladder = put_ladder(
        &srv,
        &admin,
        id,
        json!({"renditions": [
            {"name": "source"},
            {"name": "720p", "height": 720, "video_kbps": 1500, "audio_kbps": 96},
            {"name": "360p", "height": 360, "video_kbps": 600, "audio_kbps": 64},
            {"name": "240p", "height": 240, "video_kbps": 300, "audio_kbps": 64},
        ]}),
    )
    .await;
    assert_eq!(ladder["enabled"], true);

    // A 480p source: the 720p rung is above it and is skipped.
    let _pub = ffmpeg_publish_sized(&srv, &key, Publish::secs(40).gop(2), "854x480", "1200k");
    let r360 = wait_playlist(&srv, &format!("{slug}/360p"), 6, Duration::from_secs(40)).await;

    // The master playlist: the source first, then the rungs highest first, each with its
    // bandwidths, resolution, codecs and frame rate; hls_m3u8 accepts it.
    let (status, h, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/vnd.apple.mpegurl");
    let master = String::from_utf8(body).unwrap();
    let parsed = hls_m3u8::MasterPlaylist::try_from(master.as_str())
        .unwrap_or_else(|e| panic!("not a valid master playlist ({e}):\n{master}"));
    assert_eq!(parsed.variant_streams.len(), 3, "{master}");
    let uris: Vec<&str> = master.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        uris,
        ["source/index.m3u8", "360p/index.m3u8", "240p/index.m3u8"],
        "{master}"
    );
    let infs: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
        .collect();
    for (inf, res) in infs.iter().zip(["854x480", "640x360", "426x240"]) {
        for attr in [
            "BANDWIDTH=",
            "AVERAGE-BANDWIDTH=",
            "CODECS=\"avc1.",
            "mp4a.40.2\"",
            "FRAME-RATE=30.000",
        ] {
            assert!(inf.contains(attr), "{attr} missing: {inf}");
        }
        assert!(inf.contains(&format!("RESOLUTION={res}")), "{inf}");
    }
    let (status, _, _) = srv
        .fetch(&format!("/hls/{slug}/720p/index.m3u8"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "720p is above the source");
    // A player's session token follows it into the rendition it picks: one viewer.
    let (_, _, tokened) = srv
        .fetch(&format!("/hls/{slug}/index.m3u8?session=abc-1"), &[])
        .await;
    let tokened = String::from_utf8(tokened).unwrap();
    assert!(
        tokened.contains("\n360p/index.m3u8?session=abc-1\n"),
        "{tokened}"
    );
    let (status, _, _) = srv
        .fetch(&format!("/hls/{slug}/360p/index.m3u8?session=abc-1"), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    // A token that is not a plain word is ignored, never written into the playlist.
    let (_, _, bad) = srv
        .fetch(&format!("/hls/{slug}/index.m3u8?session=%0A%23EXT"), &[])
        .await;
    let bad = String::from_utf8_lossy(&bad);
    assert!(!bad.contains("session="), "{bad}");

    // Every rendition decodes without an error, at its size, H.264 + AAC.
    let tmp = tempfile::tempdir().unwrap();
    let mut starts: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (name, (w, h)) in [
        ("360p", (640, 360)),
        ("240p", (426, 240)),
        ("source", (854, 480)),
    ] {
        let playlist = if name == "360p" {
            r360.clone()
        } else {
            wait_playlist(&srv, &format!("{slug}/{name}"), 5, Duration::from_secs(20)).await
        };
        let dir = tmp.path().join(name);
        let path = download(&srv, &format!("{slug}/{name}"), &playlist, &dir).await;
        // The window as a finished playlist, so ffmpeg reads it through and stops.
        std::fs::write(&path, format!("{playlist}#EXT-X-ENDLIST\n")).unwrap();
        // The pass-through keeps RTMP's millisecond timestamps (±1 ms of jitter), which
        // the ffmpeg CLI's null muxer complains about at some start offsets (the plain RTMP
        // tests cover that path through it): it is decoded with ffprobe, which muxes
        // nothing. Transcoded rungs have exact timestamps and go through the CLI.
        let out = if name == "source" {
            Command::new("ffprobe")
                .args(["-v", "warning", "-count_frames", "-show_entries"])
                .args(["stream=nb_read_frames", "-of", "csv=p=0"])
                .arg(&path)
                .output()
                .unwrap()
        } else {
            // passthrough: the CLI must not retime frames to a frame rate it guessed (a
            // rung that skipped pictures on a loaded machine makes it guess low, and then
            // the null muxer complains about its own duplicate timestamps).
            Command::new("ffmpeg")
                .args(["-v", "warning", "-i"])
                .arg(&path)
                .args(["-fps_mode", "passthrough", "-f", "null", "-"])
                .output()
                .unwrap()
        };
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && errors.trim().is_empty(),
            "{name}: {errors}"
        );
        let first = dir.join(&segments_of(&playlist)[0].0);
        let v = probe(
            &first,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "csv=p=0",
            ],
        );
        assert_eq!(
            v.lines().next().unwrap().trim_end_matches(','),
            format!("h264,{w},{h}"),
            "{name}"
        );
        let a = probe(
            &first,
            &[
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ],
        );
        assert_eq!(
            a.lines().next().unwrap().trim_end_matches(','),
            "aac",
            "{name}"
        );
        if name != "source" {
            // Bitrate within 20 % of the rung's target.
            let kbps = video_kbps(&dir, &playlist);
            let target = if name == "360p" { 600.0 } else { 300.0 };
            assert!(
                (kbps - target).abs() / target <= 0.2,
                "{name}: {kbps:.0} kbps for a {target} kbps target"
            );
            // Segments of about the service's 2 s target.
            for (uri, dur) in segments_of(&playlist).iter().skip(1) {
                assert!(
                    (1.8..=2.2).contains(dur),
                    "{name} {uri}: {dur} s\n{playlist}"
                );
            }
            starts.insert(
                name,
                segments_of(&playlist)
                    .iter()
                    .filter_map(|(uri, _)| first_video_pts(&dir.join(uri)))
                    .collect(),
            );
        }
    }
    // Keyframes, hence segment boundaries, at the same instants in every transcoded rung.
    let a: std::collections::BTreeSet<i64> = starts["360p"].iter().copied().collect();
    let b: std::collections::BTreeSet<i64> = starts["240p"].iter().copied().collect();
    let common: Vec<_> = a.intersection(&b).collect();
    assert!(
        common.len() >= 4,
        "boundaries differ: 360p {a:?} / 240p {b:?}"
    );
    let (lo, hi) = (
        *a.first().unwrap().max(b.first().unwrap()),
        *a.last().unwrap().min(b.last().unwrap()),
    );
    let in_range = |s: &std::collections::BTreeSet<i64>| -> Vec<i64> {
        s.iter()
            .copied()
            .filter(|x| (lo..=hi).contains(x))
            .collect()
    };
    assert_eq!(in_range(&a), in_range(&b), "segment boundaries differ");

    // Stats: the ladder's figures per rendition.
    let (status, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let t = &stats["transcode"];
    assert!(t["input_fps"].as_f64().unwrap() > 20.0, "{stats}");
    assert!(t["speed"].as_f64().unwrap() > 1.0, "{stats}");
    let names: Vec<&str> = t["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["360p", "240p"], "{stats}");
    assert!(
        t["renditions"][0]["output_fps"].as_f64().unwrap() > 20.0,
        "{stats}"
    );
    assert!(
        stats["source"]["bitrate_kbps"].as_u64().unwrap() > 500,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_switches_down_the_ladder_when_bandwidth_drops() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Abr", json!({"transcode": true})).await;
    put_ladder(
        &srv,
        &admin,
        id,
        json!({"renditions": [
            {"name": "480p", "height": 480, "video_kbps": 1400, "audio_kbps": 96},
            {"name": "180p", "height": 180, "video_kbps": 200, "audio_kbps": 64},
        ]}),
    )
    .await;
    let _pub = ffmpeg_publish_sized(&srv, &key, Publish::secs(90).gop(2), "854x480", "1500k");
    wait_playlist(&srv, &format!("{slug}/180p"), 3, Duration::from_secs(30)).await;
    // hls.js climbs to 480p on the loopback, then the page's network is capped at
    // 700 kbit/s: it must step down to 180p and keep playing.
    let report = play_in_chromium(
        &format!("http://{}/hls/{slug}/index.m3u8", srv.http),
        &["--seconds", "3", "--throttle-kbps", "700"],
    );
    eprintln!("hls.js ABR: {report}");
    assert_eq!(report["levels"].as_array().unwrap().len(), 2, "{report}");
    let switches: Vec<i64> = report["switches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_i64().unwrap())
        .collect();
    assert!(
        switches.contains(&1) && switches.last() == Some(&0),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4_4_4_source_without_audio_still_gets_its_ladder() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Odd", json!({"transcode": true})).await;
    put_ladder(
        &srv,
        &admin,
        id,
        json!({"renditions": [{"name": "240p", "height": 240, "video_kbps": 300}]}),
    )
    .await;
    // H.264 High 4:4:4 (what libx264 makes of an RGB source unless told otherwise), no audio.
    let _pub = ffmpeg_publish_raw(
        &srv,
        &key,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30",
            "-t",
            "25",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv444p",
            "-g",
            "60",
            "-b:v",
            "800k",
        ],
    );
    let playlist = wait_playlist(&srv, &format!("{slug}/240p"), 4, Duration::from_secs(30)).await;
    let tmp = tempfile::tempdir().unwrap();
    let (ok, errors) = decode_window(
        &srv,
        &format!("{slug}/240p"),
        &playlist,
        tmp.path(),
        "warning",
    )
    .await;
    assert!(ok && errors.trim().is_empty(), "{errors}");
    // 4:2:0 out, video only; the master playlist lists no audio codec.
    let first = tmp.path().join(&segments_of(&playlist)[0].0);
    let streams = probe(
        &first,
        &[
            "-show_entries",
            "stream=codec_type,pix_fmt,width,height",
            "-of",
            "csv=p=0",
        ],
    );
    assert_eq!(
        streams.lines().next().unwrap().trim_end_matches(','),
        "video,426,240,yuv420p",
        "{streams}"
    );
    assert!(!streams.contains("audio"), "{streams}");
    let (_, _, master) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    let master = String::from_utf8(master).unwrap();
    assert!(
        master.contains("CODECS=\"avc1.") && !master.contains("mp4a"),
        "{master}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rung_just_over_the_announced_bitrate_runs_capped_and_taller_rungs_are_reported() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Capped", json!({"transcode": true})).await;
    put_ladder(
        &srv,
        &admin,
        id,
        json!({"renditions": [
            {"name": "1080p", "height": 1080, "video_kbps": 2800},
            {"name": "720p", "height": 720, "video_kbps": 2000},
            {"name": "360p", "height": 360, "video_kbps": 800},
        ]}),
    )
    .await;
    let transcode = || async {
        let (status, view) = srv
            .get(&format!("/api/v1/services/{id}/transcode"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    };
    let idle = transcode().await;
    assert!(idle.get("live").is_none(), "no source yet: {idle}");

    // A 720p source sent at `-b:v 2000k`: ffmpeg's FLV muxer announces bit_rate / 1024, just
    // under the 720p rung's 2000 kbit/s.
    let announced = (2_000_000.0f64 / 1024.0) as u64;
    let publisher = ffmpeg_publish_sized(
        &srv,
        &key,
        Publish::secs(40).gop(2).no_bframes(),
        "1280x720",
        "2000k",
    );
    // The 720p rung runs (once dropped for its bitrate, leaving only 360p).
    wait_playlist(&srv, &format!("{slug}/720p"), 1, Duration::from_secs(40)).await;
    let view = transcode().await;
    let live = &view["live"];
    assert_eq!(
        live["running"],
        json!([
            {"name": "720p", "video_kbps": announced},
            {"name": "360p", "video_kbps": 800},
        ]),
        "{view}"
    );
    assert_eq!(
        live["skipped"],
        json!([{"name": "1080p", "reason": "above the source's 720 lines"}]),
        "{view}"
    );
    let (_, _, master) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    let master = String::from_utf8(master).unwrap();
    assert!(!master.contains("1080p"), "{master}");
    let (status, _, _) = srv
        .fetch(&format!("/hls/{slug}/1080p/index.m3u8"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Once the source has gone, nothing is live.
    drop(publisher);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let view = transcode().await;
        if view.get("live").is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still live after the source left: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_source_resolution_restarts_the_ladder_on_low_latency_renditions() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Resize", json!({"transcode": true})).await;
    for (path, body) in [
        (
            format!("/api/v1/services/{id}"),
            json!({"hls": {"format": "fmp4", "low_latency": true}}),
        ),
        (
            format!("/api/v1/services/{id}/transcode"),
            json!({"renditions": [{"name": "180p", "height": 180, "video_kbps": 200}]}),
        ),
    ] {
        let method = if path.ends_with("transcode") {
            "PUT"
        } else {
            "PATCH"
        };
        let (status, v) = srv.call(method, &path, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    // 4:3 for 8 s, then the encoder "restarts" at 16:9.
    let dir = store.dir.path().join("resize");
    let joined = two_size_flv(&dir, "testsrc2", "320x240", "640x360", 8);
    let _pub = ffmpeg_publish_file(&srv, &key, &joined);
    // The rendition continues after a discontinuity, at the new aspect; its playlist has
    // LL-HLS parts throughout; the master playlist follows.
    let rendition = format!("{slug}/180p");
    let p = wait_discontinuity(&srv, &rendition, 2, Duration::from_secs(30)).await;
    assert!(
        p.contains("#EXT-X-PART:") && p.contains("#EXT-X-PRELOAD-HINT:"),
        "{p}"
    );
    assert!(p.contains("#EXT-X-MAP:URI="), "{p}");
    let local = download(&srv, &rendition, &p, &dir.join("r")).await;
    let _ = local;
    // fMP4: each segment needs its init; ffprobe reads the init + segment concatenated.
    let size_after = {
        let before_map: Vec<&str> = p
            .lines()
            .filter_map(|l| {
                l.strip_prefix("#EXT-X-MAP:URI=\"")
                    .and_then(|r| r.strip_suffix('"'))
            })
            .collect();
        let init = std::fs::read(dir.join("r").join(before_map.last().unwrap())).unwrap();
        let after = segments_of(p.split("#EXT-X-DISCONTINUITY\n").nth(1).unwrap());
        let seg = std::fs::read(dir.join("r").join(&after[1].0)).unwrap();
        let joined = dir.join("after.mp4");
        std::fs::write(&joined, [init, seg].concat()).unwrap();
        probe(
            &joined,
            &[
                "-select_streams",
                "v",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
            ],
        )
    };
    assert_eq!(
        size_after.lines().next().unwrap().trim_end_matches(','),
        "320,180"
    );
    let (_, _, master) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    let master = String::from_utf8(master).unwrap();
    assert!(master.contains("RESOLUTION=320x180"), "{master}");
    assert!(srv.logs().contains("transcoding to 180p"), "{}", srv.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_pictures_leave_the_ladder_and_the_source_running() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Noisy", json!({"transcode": true})).await;
    put_ladder(&srv, &admin, id, json!({"renditions": [{"name": "source"}, {"name": "180p", "height": 180, "video_kbps": 200}]})).await;
    // ffmpeg's `noise` bitstream filter flips bytes in the H.264 pictures it sends (about
    // one in 2,000): broken slices, bad NAL units, the decoder complaining.
    let _pub = ffmpeg_publish_picture(
        &srv,
        &key,
        "testsrc2=size=320x240:rate=30",
        &["-b:v", "500k", "-bsf:v", "noise=amount=2000"],
    );
    let rendition = format!("{slug}/180p");
    let first = wait_playlist(&srv, &rendition, 2, Duration::from_secs(30)).await;
    let seq = |p: &str| {
        tag(p, "#EXT-X-MEDIA-SEQUENCE")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            + segments_of(p).len() as u64
    };
    let before = seq(&first);
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Still publishing, the ladder still making segments, both renditions listed.
    let later = wait_playlist(&srv, &rendition, 2, Duration::from_secs(5)).await;
    assert!(
        seq(&later) >= before + 3,
        "the rendition stalled:\n{first}\n{later}\n{}",
        srv.logs()
    );
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert_eq!(stats["live"], true, "{stats}");
    assert!(
        stats["transcode"]["renditions"][0]["output_fps"]
            .as_f64()
            .unwrap()
            > 10.0,
        "{stats}"
    );
    // The same figures in /metrics, for admins, in valid Prometheus text.
    let auth = format!("Bearer {admin}");
    let (status, h, body) = srv.fetch("/metrics", &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse_metrics(&String::from_utf8(body).unwrap());
    let value = |name: &str, rendition: Option<&str>| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.get("stream") == Some(&slug)
                    && l.get("rendition").map(String::as_str) == rendition
            })
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("{name} missing: {samples:?}"))
    };
    assert!(value("tidecast_transcoder_speed", None) > 0.5);
    assert!(value("tidecast_rendition_output_fps", Some("180p")) > 10.0);
    assert!(value("tidecast_rendition_bytes_total", Some("180p")) > 0.0);
    assert_eq!(value("tidecast_hls_live", None), 1.0);
    let owner = srv.login("Noisy-owner", "Noisy-owner-password").await;
    let (status, _, _) = srv
        .fetch("/metrics", &[("authorization", &format!("Bearer {owner}"))])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = srv.fetch("/metrics", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // What the rendition made still decodes: x264 encodes whatever the decoder conceals.
    let tmp = tempfile::tempdir().unwrap();
    let (ok, errors) = decode_window(&srv, &rendition, &later, tmp.path(), "error").await;
    assert!(ok, "{errors}");
    eprintln!("{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_radio_station_plays_over_hls_as_an_aac_ladder() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, password) = icecast::radio(&srv, "PhoneFM", json!({"transcode": true})).await;
    put_ladder(&srv, &admin, id, json!({})).await;
    // An MP3 source, as butt or Liquidsoap would send it.
    let _src = icecast::ffmpeg_source(&srv, &slug, "source", &password, false, 40);
    let rendition = format!("{slug}/aac96");
    let playlist = wait_playlist(&srv, &rendition, 4, Duration::from_secs(30)).await;

    // The master playlist: three audio-only variants, highest first.
    let (status, _, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let master = String::from_utf8(body).unwrap();
    hls_m3u8::MasterPlaylist::try_from(master.as_str())
        .unwrap_or_else(|e| panic!("not a valid master playlist ({e}):\n{master}"));
    let uris: Vec<&str> = master.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        uris,
        ["aac192/index.m3u8", "aac96/index.m3u8", "aac48/index.m3u8"],
        "{master}"
    );
    assert!(
        master.contains("CODECS=\"mp4a.40.2\"") && !master.contains("RESOLUTION"),
        "{master}"
    );

    // The 96 kbit/s rung: AAC that decodes cleanly, at about its bitrate.
    let tmp = tempfile::tempdir().unwrap();
    let (ok, errors) = decode_window(&srv, &rendition, &playlist, tmp.path(), "warning").await;
    assert!(ok && errors.trim().is_empty(), "{errors}");
    let first = tmp.path().join(&segments_of(&playlist)[1].0);
    let codec = probe(
        &first,
        &[
            "-show_entries",
            "stream=codec_type,codec_name",
            "-of",
            "csv=p=0",
        ],
    );
    assert_eq!(
        codec.lines().next().unwrap().trim_end_matches(','),
        "aac,audio",
        "{codec}"
    );
    let mut bytes = 0u64;
    let mut secs = 0.0;
    for (uri, dur) in segments_of(&playlist).iter().skip(1) {
        let sizes = probe(
            &tmp.path().join(uri),
            &["-show_entries", "packet=size", "-of", "csv=p=0"],
        );
        bytes += sizes
            .lines()
            .filter_map(|l| l.trim().trim_end_matches(',').parse::<u64>().ok())
            .sum::<u64>();
        secs += dur;
        assert!((1.5..=2.5).contains(dur), "{uri}: {dur} s\n{playlist}");
    }
    let kbps = bytes as f64 * 8.0 / secs / 1000.0;
    assert!(
        (kbps - 96.0).abs() / 96.0 <= 0.2,
        "{kbps:.0} kbit/s for a 96 kbit/s rung"
    );
    // Stats: the HLS listener (this test's playlist requests) and the ladder's figures.
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert!(stats["listeners"].as_u64().unwrap() >= 1, "{stats}");
    let names: Vec<&str> = stats["transcode"]["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["aac192", "aac96", "aac48"], "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_mounts_are_fed_from_the_primary_in_their_own_format() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, password) = icecast::radio(&srv, "Feeds", json!({"transcode": true})).await;
    for (path, format, kbps) in [
        ("/feeds-aac", "aac", 64),
        ("/feeds-low", "mp3", 48),
        ("/feeds-opus", "opus", 64),
    ] {
        let (status, m) = srv
            .post(
                &format!("/api/v1/services/{id}/mounts"),
                &admin,
                json!({"path": path, "format": format, "bitrate_kbps": kbps}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
    }
    // One MP3 source on the primary mount; nothing connects to the extra mounts.
    let _src = icecast::ffmpeg_source(&srv, &slug, "source", &password, false, 40);
    icecast::wait_live(&srv, &slug);
    icecast::wait_live(&srv, "feeds-aac");
    for (mount, codec, kbps) in [
        ("feeds-aac", "aac", 64),
        ("feeds-low", "mp3", 48),
        ("feeds-opus", "opus", 64),
    ] {
        // A listener gets that format; ffmpeg decodes 4 s of it without a complaint.
        let url = format!("http://{}/{mount}", srv.icecast);
        let out = Command::new("ffprobe")
            .args(["-v", "warning", "-read_intervals", "%+4", "-show_entries"])
            .args([
                "stream=codec_name,bit_rate:packet=size",
                "-of",
                "csv=p=0",
                &url,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && errors.trim().is_empty(),
            "{mount}: {errors}"
        );
        assert!(
            text.lines().any(|l| l.starts_with(codec)),
            "{mount}: {text}"
        );
        let status = icecast::status_of(&srv, mount).unwrap();
        assert_eq!(status["bitrate"].as_u64(), Some(kbps), "{status}");
        assert_eq!(status["server_name"], "transcoded from /feeds", "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_source_the_transcoder_cannot_frame_is_still_served_as_it_is() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, password) = icecast::radio(&srv, "Oggy", json!({"transcode": true})).await;
    put_ladder(&srv, &admin, id, json!({})).await;
    // Ogg Vorbis: listeners get it as ever; the station's HLS says why it does not start.
    let _src = icecast::ffmpeg_ogg(&srv, &slug, &password, "libvorbis", 20);
    icecast::wait_live(&srv, &slug);
    assert!(
        srv.wait_log(
            "HLS for this station needs an MP3 or AAC source",
            Duration::from_secs(5)
        ),
        "{}",
        srv.logs()
    );
    let url = format!("http://{}/{slug}", srv.icecast);
    let out = Command::new("ffprobe")
        .args(["-v", "warning", "-read_intervals", "%+2", "-show_entries"])
        .args(["stream=codec_name", "-of", "csv=p=0", &url])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("vorbis"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _, _) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

both_backends! {
async fn transcode_settings_are_checked_against_the_plan(backend: Backend) {
    {
        let (_store, srv, admin) = started(backend).await;
        let put = |id: i64, body: Value| {
            let srv = &srv;
            let admin = admin.clone();
            async move {
                srv.put(&format!("/api/v1/services/{id}/transcode"), &admin, body)
                .await
            }
        };

        // A plan without transcoding: refused, saying why.
        let (plain, _, _) = video(&srv, "Plain", json!({})).await;
        let (status, err) = put(plain, json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err.to_string().contains("limits.transcode"), "{err}");

        // The default ladder, trimmed from the top to a 6 Mbit/s plan.
        let (id, _, _) = video(
            &srv,
            "Trim",
            json!({"transcode": true, "max_bitrate_kbps": 6000}),
        )
        .await;
        let (status, view) = put(id, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let names: Vec<&str> = view["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["720p", "480p", "360p"], "{view}");
        assert!(view["total_kbps"].as_u64().unwrap() <= 6000);

        // An explicit ladder over the plan: a 422 with the numbers, nothing changed.
        let (status, err) = put(
            id,
            json!({"renditions": [{"name": "1080p", "height": 1080, "video_kbps": 8000}]}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err.to_string().contains("max_bitrate_kbps (6000)"), "{err}");
        let (_, now) = srv
            .get(&format!("/api/v1/services/{id}/transcode"), &admin)
            .await;
        assert_eq!(now["renditions"], view["renditions"]);

        // Bad rungs name the field.
        let (status, err) = put(
            id,
            json!({"renditions": [{"name": "x", "height": 721, "video_kbps": 500}]}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.to_string().contains("renditions[0].height"), "{err}");

        // A radio station's ladder is AAC for its HLS: 48/96/192 by default; no pictures.
        let radio = new_service(&srv, "Radio", "radio", json!({"transcode": true})).await;
        let rid = radio["id"].as_i64().unwrap();
        let (status, view) = put(rid, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(
            view["renditions"],
            json!([{"name": "aac192", "audio_kbps": 192}, {"name": "aac96", "audio_kbps": 96}, {"name": "aac48", "audio_kbps": 48}])
        );
        let (status, err) = put(rid, json!({"renditions": [{"name": "v", "height": 360, "video_kbps": 500}]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.to_string().contains("audio only"), "{err}");

        // Another customer cannot see or change it.
        srv.create_user(&admin, "someone-else", "customer", json!({}))
            .await;
        let token = srv.login("someone-else", "someone-else-password").await;
        let (status, _) = srv
            .put(&format!("/api/v1/services/{id}/transcode"), &token, json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Off again.
        let (status, off) = srv
            .delete(&format!("/api/v1/services/{id}/transcode"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(off["enabled"], false);
        assert_eq!(off["renditions"], json!([]));
    }
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_from_the_library_is_drawn_on_the_renditions() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Marked", json!({"transcode": true})).await;
    let dir = tempfile::tempdir().unwrap();
    // A solid red 300×150 logo, and a JPEG that cannot be one.
    let png = dir.path().join("logo.png");
    let jpg = dir.path().join("photo.jpg");
    for (path, size) in [(&png, "300x150"), (&jpg, "64x64")] {
        tidecast_tests::media::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("color=c=red:size={size}"),
            "-frames:v",
            "1",
            path.to_str().unwrap(),
        ]);
    }
    let (status, up) = tidecast_tests::media::upload(&srv, &admin, id, &[&png, &jpg]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let logo = up["items"][0]["id"].as_i64().unwrap();
    let photo = up["items"][1]["id"].as_i64().unwrap();
    let rung = json!([{"name": "360p", "height": 360, "video_kbps": 600}]);
    let (status, err) = srv
        .put(
            &format!("/api/v1/services/{id}/transcode"),
            &admin,
            json!({"renditions": rung, "watermark": {"media": photo}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("PNG"),
        "{err}"
    );
    put_ladder(
        &srv,
        &admin,
        id,
        json!({"renditions": rung,
        "watermark": {"media": logo, "position": "top-right", "opacity": 1.0}}),
    )
    .await;
    // In use as a watermark: the picture cannot be deleted from under the ladder.
    let (status, _) = srv
        .delete(&format!("/api/v1/services/{id}/media/{logo}"), &admin)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A plain blue picture: the logo is the only red in it.
    let _pub = ffmpeg_publish_picture(
        &srv,
        &key,
        "color=c=blue:size=640x360:rate=30",
        &["-pix_fmt", "yuv420p"],
    );
    let rendition = format!("{slug}/360p");
    let playlist = wait_playlist(&srv, &rendition, 2, Duration::from_secs(30)).await;
    let index = download(&srv, &rendition, &playlist, dir.path()).await;
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(&index)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    let rgb = out.stdout;
    assert_eq!(
        rgb.len(),
        640 * 360 * 3,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let px = |x: usize, y: usize| {
        let i = (y * 640 + x) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    // At 360 lines the 150-line logo is 50 lines tall (100 wide), 12 pixels from the edges.
    let (r, g, b) = px(640 - 12 - 50, 12 + 25);
    assert!(
        r > 180 && g < 90 && b < 90,
        "no red logo at the top right: {:?}",
        (r, g, b)
    );
    let (r, g, b) = px(100, 300);
    assert!(
        b > 180 && r < 90,
        "the picture is not blue elsewhere: {:?}",
        (r, g, b)
    );
    let (r, _, b) = px(40, 37);
    assert!(
        b > 180 && r < 90,
        "a logo at the top left too: {:?}",
        (r, b)
    );
}
