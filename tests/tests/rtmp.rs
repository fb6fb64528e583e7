//! RTMP ingest to HLS through the real binary: ffmpeg publishes, ffprobe/ffmpeg check what
//! comes out of `/hls/<slug>/`.
//!
//! The media-heavy tests run on SQLite only (the database is consulted once, at publish);
//! admission runs on both backends.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use tidecast_tests::rtmp::*;
use tidecast_tests::*;

/// The first value ffprobe printed (it repeats streams per program and may end with a comma).
fn first(s: &str) -> &str {
    s.lines()
        .map(|l| l.trim().trim_end_matches(','))
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

fn read_stderr(p: &mut icecast::Proc) -> String {
    use std::io::Read;
    let mut err = String::new();
    if let Some(mut e) = p.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bframes_to_hls_that_decodes_cleanly() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (_, slug, key) = video(&srv, "Cam", json!({})).await;
    let _pub = ffmpeg_publish(&srv, &key, Publish::secs(30));
    let playlist = wait_playlist(&srv, &slug, 4, Duration::from_secs(20)).await;

    // The playlist: a live sliding window with dates on every segment.
    assert!(playlist.starts_with("#EXTM3U\n"), "{playlist}");
    assert_eq!(
        tag(&playlist, "#EXT-X-TARGETDURATION"),
        Some("2"),
        "{playlist}"
    );
    assert!(tag(&playlist, "#EXT-X-MEDIA-SEQUENCE").is_some());
    assert!(!playlist.contains("#EXT-X-ENDLIST"));
    let segs = segments_of(&playlist);
    assert_eq!(
        playlist.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        segs.len(),
        "{playlist}"
    );
    // The dates follow the media: each segment starts where the one before ended.
    let millis: Vec<f64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .map(|d| {
            let t = &d[11..23]; // HH:MM:SS.mmm
            let (h, m, s) = (&t[0..2], &t[3..5], &t[6..]);
            (h.parse::<f64>().unwrap() * 3600.0
                + m.parse::<f64>().unwrap() * 60.0
                + s.parse::<f64>().unwrap())
                * 1000.0
        })
        .collect();
    for (w, seg) in millis.windows(2).zip(&segs) {
        assert!(
            ((w[1] - w[0]) - seg.1 * 1000.0).abs() <= 2.0,
            "dates drift from durations: {playlist}"
        );
    }

    // Every segment decodes on its own from a keyframe, and lasts what the playlist says.
    let dir = store.dir.path().join("hls");
    let local = download(&srv, &slug, &playlist, &dir).await;
    for (uri, extinf) in &segs {
        let file = dir.join(uri);
        let first_key = probe(
            &file,
            &[
                "-select_streams",
                "v",
                "-show_entries",
                "frame=key_frame",
                "-read_intervals",
                "%+#1",
                "-of",
                "csv=p=0",
            ],
        );
        assert_eq!(
            first_key.trim_end_matches(','),
            "1",
            "{uri} does not start with a keyframe"
        );
        let streams = probe(
            &file,
            &["-show_entries", "stream=codec_name", "-of", "csv=p=0"],
        );
        // (ffprobe lists the streams once per program and once more on their own.)
        let mut codecs: Vec<&str> = streams.lines().filter(|l| !l.is_empty()).collect();
        codecs.dedup();
        codecs.truncate(2);
        assert_eq!(codecs, ["h264", "aac"], "{uri}: {streams}");
        let frames: usize = first(&probe(
            &file,
            &[
                "-select_streams",
                "v",
                "-count_packets",
                "-show_entries",
                "stream=nb_read_packets",
                "-of",
                "csv=p=0",
            ],
        ))
        .parse()
        .unwrap();
        let seconds = frames as f64 / 30.0;
        assert!(
            (seconds - extinf).abs() < 0.05,
            "{uri}: {frames} frames ({seconds:.3} s) but #EXTINF {extinf}"
        );
    }
    // The whole window plays through ffmpeg's HLS demuxer without a single warning.
    assert_window_decodes_cleanly(&local);
    // Video timestamps run on without a gap or a step back across segment boundaries: decode
    // times step by one frame (RTMP carries milliseconds, so 33 or 34 ms at 30 fps).
    let mut all = Vec::new();
    for (uri, _) in &segs {
        all.extend(std::fs::read(dir.join(uri)).unwrap());
    }
    let joined = dir.join("all.ts");
    std::fs::write(&joined, all).unwrap();
    let dts: Vec<i64> = probe(
        &joined,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=dts",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .map(|l| l.trim().trim_end_matches(','))
    .filter(|l| !l.is_empty())
    .map(|l| l.parse().unwrap())
    .collect();
    assert!(
        dts.len() > 100 && dts.windows(2).all(|w| (w[1] - w[0] - 3000).abs() <= 90),
        "video DTS not continuous: {dts:?}"
    );
    let pts_ne_dts = probe(
        &joined,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts,dts",
            "-of",
            "csv=p=0",
        ],
    )
    .lines()
    .filter(|l| {
        let v: Vec<&str> = l.split(',').collect();
        v.len() >= 2 && v[0] != v[1]
    })
    .count();
    assert!(
        pts_ne_dts > 0,
        "no composition offsets: the B-frames were lost"
    );

    // HTTP: types, caching, CORS, validators and ranges.
    let (status, h, _) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age=1"));
    // Gzipped for clients that ask, prepared once per playlist version.
    let (status, h, gz) = srv
        .fetch(
            &format!("/hls/{slug}/index.m3u8"),
            &[("Accept-Encoding", "gzip")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-encoding"], "gzip");
    assert_eq!(h["vary"], "Accept-Encoding");
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let seg = format!("/hls/{slug}/{}", segs[0].0);
    let (status, h, body) = srv.fetch(&seg, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = h["etag"].to_str().unwrap().to_owned();
    let (status, _, empty) = srv.fetch(&seg, &[("If-None-Match", &etag)]).await;
    assert_eq!((status, empty.len()), (StatusCode::NOT_MODIFIED, 0));
    let (status, h, part) = srv.fetch(&seg, &[("Range", "bytes=188-375")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, body[188..376]);
    assert_eq!(
        h["content-range"].to_str().unwrap(),
        format!("bytes 188-375/{}", body.len())
    );
    let (status, _, _) = srv.fetch(&format!("/hls/{slug}/0_0.ts"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = srv.fetch("/hls/nobody/index.m3u8", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_continues_numbering_after_a_discontinuity() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (_, slug, key) = video(&srv, "Relay", json!({})).await;
    let mut first = ffmpeg_publish(&srv, &key, Publish::secs(6).no_bframes());
    let before = wait_playlist(&srv, &slug, 2, Duration::from_secs(20)).await;
    let _ = first.0.wait();
    assert!(
        srv.wait_log("publisher disconnected", Duration::from_secs(5)),
        "{}",
        srv.logs()
    );
    // While the publisher is away, the playlist a player holds is still there.
    let (status, _, _) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let last_before: u64 = segments_of(&before)
        .last()
        .unwrap()
        .0
        .trim_end_matches(".ts")
        .rsplit('_')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _second = ffmpeg_publish(&srv, &key, Publish::secs(20).no_bframes());
    let wait = within(secs(20)).every(Duration::from_millis(300));
    let after = eventually(wait, "a discontinuity after the reconnect", async || {
        let p = wait_playlist(&srv, &slug, 1, secs(20)).await;
        if p.contains("#EXT-X-DISCONTINUITY\n") && p.matches("#EXTINF").count() >= 6 {
            Ok(p)
        } else {
            Err(p)
        }
    })
    .await;
    let seqs: Vec<u64> = segments_of(&after)
        .iter()
        .map(|(u, _)| {
            u.trim_end_matches(".ts")
                .rsplit('_')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "numbering has a hole or restarted: {seqs:?}"
    );
    assert!(
        seqs.iter().any(|s| *s > last_before),
        "{seqs:?} vs {last_before}"
    );
    let media_seq: u64 = tag(&after, "#EXT-X-MEDIA-SEQUENCE")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(media_seq, seqs[0]);
}

both_backends! {
    async fn refused_publishers(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, slug, key) = video(&srv, "Studio", json!({})).await;
        // A wrong key and an absurdly long one: refused, with a log line (not the key).
        for bad in ["not-the-key".to_owned(), "k".repeat(10_000)] {
            let mut p = ffmpeg_publish(&srv, &bad, Publish::secs(3).no_bframes());
            let status = p.0.wait().unwrap();
            assert!(!status.success(), "ffmpeg published with a wrong key");
            let _ = read_stderr(&mut p);
        }
        assert!(srv.wait_log("publish refused", Duration::from_secs(2)), "{}", srv.logs());
        assert!(!srv.logs().contains("not-the-key"), "a stream key was logged");
        // The right key publishes; a second publisher on it meanwhile is refused.
        let _live = ffmpeg_publish(&srv, &key, Publish::secs(20).no_bframes());
        wait_playlist(&srv, &slug, 1, Duration::from_secs(20)).await;
        let mut second = ffmpeg_publish(&srv, &key, Publish::secs(3).no_bframes());
        assert!(!second.0.wait().unwrap().success(), "a second publisher got on a live key");
        assert!(srv.wait_log("already being published", Duration::from_secs(2)), "{}", srv.logs());
        // Suspending the service drops the publisher at once.
        let admin = srv.admin_token().await;
        let (status, _) = srv.post(&format!("/api/v1/services/{id}/suspend"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(srv.wait_log("dropped by the control plane", Duration::from_secs(2)), "{}", srv.logs());
        // Its viewers are refused at once too: the playlist is gone.
        let (status, _, _) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let mut again = ffmpeg_publish(&srv, &key, Publish::secs(3).no_bframes());
        assert!(!again.0.wait().unwrap().success(), "a suspended service's key published");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_are_counted_and_the_source_is_described() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, key) = video(&srv, "Lobby", json!({"max_listeners": 3})).await;
    let _pub = ffmpeg_publish(&srv, &key, Publish::secs(40).no_bframes());
    let playlist = wait_playlist(&srv, &slug, 2, Duration::from_secs(20)).await;
    let admin = srv.admin_token().await;

    // The publisher, as measured.
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert_eq!(stats["live"], true, "{stats}");
    let src = &stats["source"];
    assert_eq!(
        (
            src["video"]["width"].as_u64(),
            src["video"]["height"].as_u64()
        ),
        (Some(320), Some(240)),
        "{stats}"
    );
    assert!(
        src["video"]["codec"].as_str().unwrap().starts_with("avc1."),
        "{stats}"
    );
    assert_eq!(src["video"]["frame_rate"].as_f64(), Some(30.0), "{stats}");
    assert_eq!(src["audio"]["codec"], "mp4a.40.2");
    assert_eq!(src["audio"]["sample_rate"], 44100);
    let kbps = src["bitrate_kbps"].as_u64().unwrap();
    assert!(
        (100..2000).contains(&kbps),
        "measured {kbps} kbps for a ~470 kbps stream"
    );

    // The test's own polling above was one viewer; two players join it, and a fourth is
    // turned away (max_listeners 3).
    let seg = format!("/hls/{slug}/{}", segments_of(&playlist)[0].0);
    for agent in ["player-a", "player-b"] {
        let (status, _, _) = srv
            .fetch(&format!("/hls/{slug}/index.m3u8"), &[("User-Agent", agent)])
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = srv.fetch(&seg, &[("User-Agent", agent)]).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, h, body) = srv
        .fetch(
            &format!("/hls/{slug}/index.m3u8"),
            &[("User-Agent", "player-c")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(String::from_utf8_lossy(&body).contains("full"));
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert_eq!(stats["listeners"], 3, "{stats}");
    assert_eq!(stats["peak_listeners"], 3, "{stats}");

    // They stop polling: after two target durations their sessions end and are stored,
    // with the bytes actually sent.
    let wait = within(secs(15)).every(Duration::from_millis(300));
    let stats = eventually(wait, "the viewer sessions to end", async || {
        let (_, stats) = srv
            .get(&format!("/api/v1/services/{id}/stats"), &admin)
            .await;
        if stats["listeners"] == 0 && stats["sessions_24h"] == 3 {
            Ok(stats)
        } else {
            Err(stats)
        }
    })
    .await;
    assert!(
        stats["bytes_sent_24h"].as_i64().unwrap() > 2 * 10_000,
        "{stats}"
    );
    // The statistics report counts the same viewers: three at once, from one address,
    // by player.
    let (_, report) = srv
        .get(&format!("/api/v1/services/{id}/stats/report"), &admin)
        .await;
    let s = &report["summary"];
    assert_eq!(
        (
            s["peak_listeners"].as_i64(),
            s["unique_listeners"].as_i64(),
            s["sessions"].as_i64()
        ),
        (Some(3), Some(1), Some(3)),
        "{report}"
    );
    assert_eq!(report["mounts"][0]["mount"], slug.as_str(), "{report}");
    let agents: Vec<&str> = report["user_agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["user_agent"].as_str())
        .collect();
    assert!(
        agents.contains(&"player-a") && agents.contains(&"player-b"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rtmp_is_closed_and_others_keep_flowing() {
    use std::io::Write;
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (_, slug, key) = video(&srv, "Steady", json!({})).await;
    let _good = ffmpeg_publish(&srv, &key, Publish::secs(40).no_bframes());
    let before = wait_playlist(&srv, &slug, 2, Duration::from_secs(20)).await;
    let seq_before: u64 = tag(&before, "#EXT-X-MEDIA-SEQUENCE")
        .unwrap()
        .parse()
        .unwrap();
    let segs_before = segments_of(&before).len() as u64;

    // A garbage handshake (TLS on the RTMP port).
    let mut s = std::net::TcpStream::connect(&srv.rtmp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    s.write_all(&[0xAB; 1600]).unwrap();
    assert!(
        closed_by_server(&mut s),
        "a garbage handshake was not closed"
    );
    // Chunk sizes of 2^31 (refused at once) and 0 (rml_rtmp takes it silently, and the
    // client never gets to publish: closed by the 10 s setup timeout, checked at the end).
    let mut zero = raw_rtmp(&srv);
    zero.write_all(&rtmp_message(2, 1, 0, &0u32.to_be_bytes()))
        .unwrap();
    zero.write_all(&rtmp_message(3, 20, 0, &amf_string("connect")))
        .unwrap();
    let zero_sent = std::time::Instant::now();
    let mut s = raw_rtmp(&srv);
    s.write_all(&rtmp_message(2, 1, 0, &(1u32 << 31).to_be_bytes()))
        .unwrap();
    s.write_all(&rtmp_message(3, 20, 0, &amf_string("connect")))
        .unwrap();
    assert!(closed_by_server(&mut s), "chunk size 2^31 was accepted");
    // A message longer than it declares: the surplus is read as chunk headers of nonsense.
    let mut s = raw_rtmp(&srv);
    let mut m = rtmp_message(3, 20, 0, &amf_string("connect"));
    m[6] = 3; // declared length 3 of a 10-byte command
    m.extend_from_slice(&[0xFF; 300]);
    s.write_all(&m).unwrap();
    assert!(
        closed_by_server(&mut s),
        "an over-long message was accepted"
    );
    // AMF with the wrong types: a command whose name is a number, then a connect whose
    // transaction id is a string.
    let mut s = raw_rtmp(&srv);
    let mut bad = amf_number(7.0);
    bad.extend(amf_string("connect"));
    s.write_all(&rtmp_message(3, 20, 0, &bad)).unwrap();
    let mut bad = amf_string("connect");
    bad.extend(amf_string("one"));
    bad.extend(amf_number(1.0));
    s.write_all(&rtmp_message(3, 20, 0, &bad)).unwrap();
    assert!(
        closed_by_server(&mut s),
        "AMF of the wrong types was accepted"
    );
    // AMF nested 15,000 levels deep, before any connect: refused (the AMF parser under
    // rml_rtmp recursed once per level and overflowed the stack: a whole-server abort).
    let mut s = raw_rtmp(&srv);
    let mut deep = [amf_string("connect"), amf_number(1.0)].concat();
    for _ in 0..15_000 {
        deep.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
    }
    let _ = s.write_all(&rtmp_message(3, 20, 0, &deep));
    assert!(closed_by_server(&mut s), "deeply nested AMF was accepted");
    // A client that stops in the middle of a chunk, and one that never gets past the
    // handshake: both go away (the second on the setup timeout) without harm.
    let mut s = raw_rtmp(&srv);
    let m = rtmp_message(3, 20, 0, &[amf_string("connect"), amf_number(1.0)].concat());
    s.write_all(&m[..m.len() / 2]).unwrap();
    drop(s);
    assert!(
        srv.wait_log("RTMP", Duration::from_secs(2)),
        "{}",
        srv.logs()
    );

    let left = Duration::from_secs(12).saturating_sub(zero_sent.elapsed());
    assert!(
        closed_within(&mut zero, left),
        "a client with chunk size 0 was kept"
    );
    // (Closed either by the setup timeout or as a protocol error, once the bytes that
    // follow are read as chunk headers: both are fine; staying open is not.)

    // The good stream kept flowing all along, and the server is healthy.
    let after = wait_playlist(&srv, &slug, 2, Duration::from_secs(10)).await;
    let seq_after: u64 = tag(&after, "#EXT-X-MEDIA-SEQUENCE")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        seq_after + segments_of(&after).len() as u64 > seq_before + segs_before,
        "the good stream stalled:\n{before}\n{after}"
    );
    let (status, _) = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_lengths_follow_settings_and_keyframes() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    // A 10 s keyframe interval: segments can only be cut every 10 s, whatever the target.
    let (_, slow_slug, slow_key) = video(&srv, "LongGop", json!({})).await;
    // A 4 s target, and a playlist that ends 1 s after the publisher leaves.
    let (id, slug, key) = video(&srv, "Tuned", json!({})).await;
    let (status, svc) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"segment_seconds": 4, "end_after_seconds": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{svc}");
    assert_eq!(
        svc["hls"],
        json!({"segment_seconds": 4, "end_after_seconds": 1, "format": "ts", "low_latency": false})
    );
    for bad in [
        json!({"hls": {"segment_seconds": 0}}),
        json!({"hls": {"end_after_seconds": 99999}}),
        json!({"hls": {"format": "mp4"}}),
    ] {
        let (status, body) = srv
            .patch(&format!("/api/v1/services/{id}"), &admin, bad)
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{status} {body}"
        );
    }
    let (radio_id, _, _) = icecast::radio(&srv, "NoHls", json!({})).await;
    let (status, _) = srv
        .patch(
            &format!("/api/v1/services/{radio_id}"),
            &admin,
            json!({"hls": {"segment_seconds": 4}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let _slow = ffmpeg_publish(&srv, &slow_key, Publish::secs(40).gop(10).no_bframes());
    let mut tuned = ffmpeg_publish(&srv, &key, Publish::secs(14).no_bframes());
    let p = wait_playlist(&srv, &slug, 2, Duration::from_secs(20)).await;
    assert_eq!(tag(&p, "#EXT-X-TARGETDURATION"), Some("4"), "{p}");
    assert!(
        segments_of(&p).iter().all(|(_, d)| (*d - 4.0).abs() < 0.1),
        "{p}"
    );
    // The tuned publisher finishes: its playlist ends about a second later.
    let _ = tuned.0.wait();
    eventually(within(secs(6)), "#EXT-X-ENDLIST", async || {
        let (_, _, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        if text.contains("#EXT-X-ENDLIST") {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
    let p = wait_playlist(&srv, &slow_slug, 2, Duration::from_secs(30)).await;
    assert_eq!(tag(&p, "#EXT-X-TARGETDURATION"), Some("10"), "{p}");
    let first = segments_of(&p)[0].1;
    assert!((first - 10.0).abs() < 0.1, "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp4_segments_decode_cleanly() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "Cmaf", json!({})).await;
    let (status, svc) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"format": "fmp4"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{svc}");
    assert_eq!(svc["hls"]["format"], "fmp4");
    let _pub = ffmpeg_publish(&srv, &key, Publish::secs(30));
    let playlist = wait_playlist(&srv, &slug, 4, Duration::from_secs(20)).await;
    assert!(playlist.contains("#EXT-X-VERSION:7\n"), "{playlist}");
    assert_eq!(playlist.matches("#EXT-X-MAP:URI=").count(), 1, "{playlist}");
    let segs = segments_of(&playlist);
    assert!(segs.iter().all(|(u, _)| u.ends_with(".m4s")), "{playlist}");

    let dir = store.dir.path().join("cmaf");
    let local = download(&srv, &slug, &playlist, &dir).await;
    assert_window_decodes_cleanly(&local);
    // Init + segments concatenated are one playable file: both tracks, continuous video
    // decode times, composition offsets kept, durations as listed.
    let init_uri = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let mut all = std::fs::read(dir.join(&init_uri)).unwrap();
    for (uri, _) in &segs {
        all.extend(std::fs::read(dir.join(uri)).unwrap());
    }
    let joined = dir.join("all.mp4");
    std::fs::write(&joined, all).unwrap();
    let streams = probe(
        &joined,
        &["-show_entries", "stream=codec_name", "-of", "csv=p=0"],
    );
    let codecs: Vec<&str> = streams
        .lines()
        .map(|l| l.trim_end_matches(','))
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(codecs, ["h264", "aac"], "{streams}");
    let packets = probe(
        &joined,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts,dts",
            "-of",
            "csv=p=0",
        ],
    );
    let rows: Vec<(i64, i64)> = packets
        .lines()
        .filter_map(|l| {
            let mut v = l
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| x.parse::<i64>().unwrap());
            Some((v.next()?, v.next()?))
        })
        .collect();
    assert!(rows.len() > 100, "{packets}");
    assert!(
        rows.windows(2)
            .all(|w| (w[1].1 - w[0].1 - 3000).abs() <= 90),
        "video DTS not continuous: {rows:?}"
    );
    assert!(
        rows.iter().any(|(pts, dts)| pts != dts),
        "no composition offsets: the B-frames were lost"
    );
    let listed: f64 = segs.iter().map(|(_, d)| d).sum();
    let frames = rows.len() as f64 / 30.0;
    assert!(
        (listed - frames).abs() < 0.1,
        "playlist says {listed:.3} s, the video is {frames:.3} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_latency_parts_and_blocking_reload() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (id, slug, key) = video(&srv, "LowLat", json!({})).await;
    // LL-HLS parts are CMAF fragments: refused on TS.
    let (status, _) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"low_latency": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, svc) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"format": "fmp4", "low_latency": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{svc}");
    assert_eq!(svc["hls"]["low_latency"], true);
    let _pub = ffmpeg_publish(&srv, &key, Publish::secs(40));
    let p = wait_playlist(&srv, &slug, 3, Duration::from_secs(20)).await;
    assert!(
        p.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000\n"),
        "{p}"
    );
    assert!(p.contains("#EXT-X-PART-INF:PART-TARGET=0.333\n"), "{p}");
    let hint = p
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .expect("a preload hint")
        .trim_end_matches('"')
        .to_owned();

    // The parts of a finished segment, concatenated, are that segment, and their durations
    // add up to its EXTINF.
    let parts_of = |p: &str, seg: &str| -> Vec<(String, f64)> {
        let msn = seg
            .trim_end_matches(".m4s")
            .rsplit('_')
            .next()
            .unwrap()
            .to_owned();
        p.lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-PART:DURATION="))
            .filter_map(|rest| {
                let (d, uri) = rest.split_once(",URI=\"")?;
                let uri = uri.split('"').next()?.to_owned();
                let part_msn = uri
                    .trim_end_matches(".m4s")
                    .rsplit('_')
                    .next()?
                    .split('.')
                    .next()?
                    .to_owned();
                (part_msn == msn).then(|| (uri, d.parse().unwrap()))
            })
            .collect()
    };
    let (seg, extinf) = segments_of(&p).last().unwrap().clone();
    let parts = parts_of(&p, &seg);
    assert!(parts.len() >= 4, "a 2 s segment in ~0.33 s parts: {p}");
    let sum: f64 = parts.iter().map(|(_, d)| d).sum();
    assert!(
        (sum - extinf).abs() < 0.01,
        "parts add up to {sum}, EXTINF {extinf}: {p}"
    );
    assert!(
        p.contains(&format!("URI=\"{}\",INDEPENDENT=YES", parts[0].0)),
        "a segment's first part starts on a keyframe: {p}"
    );
    let mut joined = Vec::new();
    for (uri, _) in &parts {
        let (status, h, body) = srv.fetch(&format!("/hls/{slug}/{uri}"), &[]).await;
        assert_eq!(
            (status, h["content-type"].to_str().unwrap()),
            (StatusCode::OK, "video/mp4"),
            "{uri}"
        );
        joined.extend(body);
    }
    let (_, _, whole) = srv.fetch(&format!("/hls/{slug}/{seg}"), &[]).await;
    assert!(joined == whole, "the parts of {seg} are not the segment");

    // A blocking reload for the hinted part answers once it exists, and lists it; the hinted
    // part itself is served as soon as it is finished.
    let rest = hint
        .trim_end_matches(".m4s")
        .rsplit('_')
        .next()
        .unwrap()
        .to_owned();
    let (msn, part) = rest.split_once('.').unwrap();
    let (status, _, body) = srv
        .fetch(
            &format!("/hls/{slug}/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(&format!("URI=\"{hint}\"")),
        "the blocking reload did not wait for {hint}: {text}"
    );
    let (status, _, body) = srv.fetch(&format!("/hls/{slug}/{hint}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
    let (status, _, _) = srv
        .fetch(
            &format!(
                "/hls/{slug}/index.m3u8?_HLS_msn={}",
                msn.parse::<u64>().unwrap() + 50
            ),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Players that ignore parts still get a window that decodes without a warning.
    let p = wait_playlist(&srv, &slug, 4, Duration::from_secs(10)).await;
    let dir = store.dir.path().join("ll");
    let local = download(&srv, &slug, &p, &dir).await;
    let vod: String = std::fs::read_to_string(&local)
        .unwrap()
        .lines()
        .filter(|l| {
            !l.starts_with("#EXT-X-PART")
                && !l.starts_with("#EXT-X-PRELOAD")
                && !l.starts_with("#EXT-X-SERVER")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&local, vod).unwrap();
    assert_window_decodes_cleanly(&local);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_plays_ts_and_low_latency_fmp4_in_chromium() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let admin = srv.admin_token().await;
    let (_, ts_slug, ts_key) = video(&srv, "BrowserTs", json!({})).await;
    let (id, ll_slug, ll_key) = video(&srv, "BrowserLl", json!({})).await;
    let (status, _) = srv
        .patch(
            &format!("/api/v1/services/{id}"),
            &admin,
            json!({"hls": {"format": "fmp4", "low_latency": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let _a = ffmpeg_publish(&srv, &ts_key, Publish::secs(60));
    let _b = ffmpeg_publish(&srv, &ll_key, Publish::secs(60));
    wait_playlist(&srv, &ts_slug, 3, Duration::from_secs(20)).await;
    wait_playlist(&srv, &ll_slug, 3, Duration::from_secs(20)).await;
    // `video.currentTime` advances by 3 s of playback in each, with no fatal hls.js error.
    let ts = play_in_chromium(
        &format!("http://{}/hls/{ts_slug}/index.m3u8", srv.http),
        &["--seconds", "3"],
    );
    assert!(ts["played"].as_f64().unwrap() >= 3.0, "{ts}");
    let ll = play_in_chromium(
        &format!("http://{}/hls/{ll_slug}/index.m3u8", srv.http),
        &["--seconds", "3", "--low-latency"],
    );
    assert!(ll["played"].as_f64().unwrap() >= 3.0, "{ll}");
    eprintln!("hls.js, TS: {ts}\nhls.js, LL-HLS: {ll}");
    // hls.js in low-latency mode holds back about three parts, not three segments.
    let latency = ll["latency"].as_f64().unwrap_or(f64::MAX);
    assert!(
        latency < 4.0,
        "LL-HLS playing {latency:.2} s behind the live edge: {ll}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_resolution_mid_stream_starts_a_discontinuity() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, key) = video(&srv, "Resize", json!({})).await;
    let dir = store.dir.path().join("resize");
    let joined = two_size_flv(&dir, "testsrc", "320x240", "640x360", 6);
    let _pub = ffmpeg_publish_file(&srv, &key, &joined);
    // After the new sequence header: a discontinuity, then segments of the new size that
    // decode on their own; the stats follow.
    let p = wait_discontinuity(&srv, &slug, 2, Duration::from_secs(20)).await;
    let before = segments_of(p.split("#EXT-X-DISCONTINUITY\n").next().unwrap());
    let after = segments_of(p.split("#EXT-X-DISCONTINUITY\n").nth(1).unwrap());
    let size_of = |uri: &str| {
        let file = dir.join(uri);
        probe(
            &file,
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
    download(&srv, &slug, &p, &dir).await;
    if let Some((uri, _)) = before.last() {
        assert_eq!(first(&size_of(uri)), "320,240", "{p}");
    }
    assert_eq!(first(&size_of(&after[1].0)), "640,360", "{p}");
    let admin = srv.admin_token().await;
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &admin)
        .await;
    assert_eq!(stats["source"]["video"]["width"], 640, "{stats}");
}
