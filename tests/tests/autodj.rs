//! The media library and AutoDJ through the real binary: uploads (tags, cover points,
//! loudness, duplicates, quota, broken files), playlists, and playout heard by ffmpeg
//! listeners (crossfades measured in the decoded PCM, titles in ICY metadata, live takeover
//! and hand-back, a restart).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::media::*;
use tidecast_tests::*;

/// Files under the data folder's media library (uploads in progress included).
fn library_files(store: &Store) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(&store.data_dir().join("media"), &mut out);
    out.sort();
    out
}

both_backends! {
    async fn media_library(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, _, _) = radio(&srv, "Library", json!({"autodj": true, "disk_quota_mb": 2})).await;
        let owner = srv.login("Library-owner", "Library-owner-password").await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Tagged MP3 with 1.5 s of silence before and 2 s after the sound.
        let mp3 = tone_file(d, "song.mp3", 440, 4.0, (1.5, 2.0), ("Morning Song", "The Testers", "Tones"));
        let flac = tone_file(d, "hymn.flac", 660, 3.0, (0.0, 0.0), ("Hymn", "Choir", "Sacred"));
        let wav = tone_file(d, "Untitled Take 3.wav", 880, 2.0, (0.0, 0.0), ("", "", ""));
        let video = d.join("clip.mp4");
        ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i",
            "sine=frequency=500:duration=2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac",
            "-shortest", video.to_str().unwrap()]);
        let png = d.join("logo.png");
        ffmpeg(&["-f", "lavfi", "-i", "color=c=red:size=64x32", "-frames:v", "1", png.to_str().unwrap()]);

        let (status, up) = upload(&srv, &owner, id, &[&mp3, &flac, &wav, &video, &png]).await;
        assert_eq!(status, StatusCode::CREATED, "{up}\n{}", srv.logs());
        assert_eq!(up["total"], 5);
        let item = |name: &str| up["items"].as_array().unwrap().iter().find(|i| i["filename"] == name).cloned().unwrap();
        let song = item("song.mp3");
        assert_eq!((song["title"].as_str(), song["artist"].as_str(), song["album"].as_str()),
            (Some("Morning Song"), Some("The Testers"), Some("Tones")));
        assert_eq!(song["kind"], "audio");
        let dur = song["duration_s"].as_f64().unwrap();
        assert!((dur - 7.5).abs() < 0.1, "duration {dur}");
        // Cue points at the sound, measured from the decoded audio.
        let cue_in = song["cue_in_s"].as_f64().unwrap();
        let cue_out = song["cue_out_s"].as_f64().unwrap();
        assert!((cue_in - 1.5).abs() < 0.05 && (cue_out - 5.5).abs() < 0.05, "cues {cue_in}..{cue_out}");
        // A −18 dBFS sine in both channels: about −21 LUFS.
        let lufs = song["loudness_lufs"].as_f64().unwrap();
        assert!((-24.0..-18.0).contains(&lufs), "loudness {lufs}");
        assert_eq!(item("hymn.flac")["artist"], "Choir");
        assert_eq!(item("Untitled Take 3.wav")["title"], "Untitled Take 3", "untagged: named after the file");
        assert_eq!(item("clip.mp4")["kind"], "video");
        assert_eq!(item("logo.png")["kind"], "image");
        // The video's on-demand copy is made in the background: let it finish, so the
        // database holds still for the comparisons below.
        let clip = item("clip.mp4")["id"].as_i64().unwrap();
        eventually(within(secs(60)), "the clip's VOD to finish", async || {
            let vod = tidecast_tests::media::item(&srv, &owner, id, clip).await["vod"]["status"].clone();
            if vod == "ready" || vod == "failed" { Ok(()) } else { Err(vod) }
        }).await;

        // The same bytes again: not stored twice.
        let files_before = library_files(&store);
        let (status, again) = upload(&srv, &owner, id, &[&mp3]).await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert_eq!((again["items"][0]["id"].clone(), again["items"][0]["duplicate"].clone()), (song["id"].clone(), json!(true)));
        assert_eq!(library_files(&store), files_before);

        // A broken file among good ones: refused by name, and the request changes nothing.
        let broken = d.join("broken.mp3");
        let mut junk = b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec();
        junk.extend((0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        std::fs::write(&broken, &junk).unwrap();
        let fresh = tone_file(d, "fresh.mp3", 300, 1.0, (0.0, 0.0), ("Fresh", "New", ""));
        let before = store.snapshot().await;
        let (status, err) = upload(&srv, &owner, id, &[&fresh, &broken]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("broken.mp3"), "{err}");
        assert_eq!(store.snapshot().await, before, "a refused upload changed the database");
        assert_eq!(library_files(&store), files_before, "a refused upload left files");

        // Over the 2 MB quota: 413 before the bytes land, nothing left behind.
        let big = d.join("long.wav");
        ffmpeg(&["-f", "lavfi", "-i", "anoisesrc=duration=30:sample_rate=44100", "-ac", "2", big.to_str().unwrap()]);
        let (status, err) = upload(&srv, &owner, id, &[&big]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("long.wav"), "{err}");
        assert_eq!(library_files(&store), files_before);

        // Not multipart at all: 400, nothing changes.
        let (status, _) = srv.raw("POST", &format!("/api/v1/services/{id}/media"), Some(&owner),
            &[("content-type", "multipart/form-data; boundary=x")], b"garbage".to_vec()).await;
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY, "{status}");
        assert_eq!(store.snapshot().await, before);

        // Another customer sees none of it.
        let (other, _, _) = radio(&srv, "Other", json!({"autodj": true})).await;
        let stranger = srv.login("Other-owner", "Other-owner-password").await;
        let (status, _) = srv.get(&format!("/api/v1/services/{id}/media"), &stranger).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, theirs) = srv.get(&format!("/api/v1/services/{other}/media"), &stranger).await;
        assert_eq!(theirs["total"], 0);
        let (status, err) = srv.post(&format!("/api/v1/services/{other}/playlists"), &stranger,
            json!({"name": "Stolen", "media": [song["id"]]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

        // Folders: uploads into one, a listing of one, a playlist that follows one (and its
        // subfolders), a move, tag edits.
        let jingle = tone_file(d, "id1.mp3", 1000, 1.0, (0.0, 0.0), ("Station ID", "", ""));
        let (status, j) = upload_to(&srv, &owner, id, "jingles/ids", &[&jingle]).await;
        assert_eq!(status, StatusCode::CREATED, "{j}");
        assert_eq!(j["items"][0]["folder"], "jingles/ids");
        let (_, inside) = srv.get(&format!("/api/v1/services/{id}/media?folder=jingles/ids"), &owner).await;
        assert_eq!(inside["total"], 1, "{inside}");
        let (status, p) = srv.post(&format!("/api/v1/services/{id}/playlists"), &owner,
            json!({"name": "Jingles", "folder": "jingles", "allow_requests": true})).await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
        let (status, started) = autodj(&srv, &owner, id, "start").await;
        assert_eq!(status, StatusCode::OK, "a folder playlist has the folder's tracks: {started}");
        let (_, slugged) = srv.get(&format!("/api/v1/services/{id}"), &owner).await;
        let (_, requestable) = srv.call("GET", &format!("/api/v1/public/{}/requests", slugged["slug"].as_str().unwrap()), None, None).await;
        assert_eq!(requestable["items"][0]["title"], "Station ID", "{requestable}");
        autodj(&srv, &owner, id, "stop").await;
        let jid = j["items"][0]["id"].as_i64().unwrap();
        let (status, moved) = srv.patch(&format!("/api/v1/services/{id}/media/{jid}"), &owner, json!({"folder": "archive", "title": "Old ID", "artist": "Tidecast"})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!((moved["folder"].as_str(), moved["title"].as_str()), (Some("archive"), Some("Old ID")));
        for bad in [json!({"folder": "../up"}), json!({"title": ""}), json!({"title": "a\nb"}), json!({"size_bytes": 1})] {
            let (status, _) = srv.patch(&format!("/api/v1/services/{id}/media/{jid}"), &owner, bad).await;
            assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST, "{status}");
        }
        let (status, _) = srv.patch(&format!("/api/v1/services/{other}/media/{jid}"), &stranger, json!({"title": "Mine now"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Listing, delete (the file goes too).
        let (_, list) = srv.get(&format!("/api/v1/services/{id}/media"), &owner).await;
        assert_eq!(list["total"], 6);
        let sid = song["id"].as_i64().unwrap();
        let (status, _) = srv.delete(&format!("/api/v1/services/{id}/media/{sid}"), &owner).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(library_files(&store).len(), files_before.len(), "the song's file is gone, the jingle's came");
        let (status, _) = srv.get(&format!("/api/v1/services/{id}/media/{sid}"), &owner).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// Sets up a station with AutoDJ on: `tracks` (hz, title) of 5 s each with silence around
/// the sound, in one sequential playlist. Returns (service id, slug, source password, owner
/// token).
async fn station(
    srv: &Server,
    name: &str,
    tracks: &[(u32, &str)],
    crossfade: f64,
) -> (i64, String, String, String, tempfile::TempDir) {
    let (id, slug, pw) = radio(srv, name, json!({"autodj": true})).await;
    let owner = srv
        .login(&format!("{name}-owner"), &format!("{name}-owner-password"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = tracks
        .iter()
        .map(|(hz, title)| {
            tone_file(
                dir.path(),
                &format!("{hz}.mp3"),
                *hz,
                5.0,
                (0.7, 0.7),
                (title, "AutoDJ Test", "Tones"),
            )
        })
        .collect();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (status, up) = upload(srv, &owner, id, &paths).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let ids = item_ids(&up);
    let (status, p) = srv
        .post(
            &format!("/api/v1/services/{id}/playlists"),
            &owner,
            json!({"name": "Rotation", "order": "sequential", "media": ids}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (status, s) = srv
        .put(
            &format!("/api/v1/services/{id}/autodj"),
            &owner,
            json!({"crossfade_s": crossfade}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    (id, slug, pw, owner, dir)
}

/// Reads an ICY listener for `secs`; returns the titles it saw, in order.
fn icy_titles(icecast: &str, mount: &str, secs: u64) -> Vec<String> {
    let mut s = TcpStream::connect(icecast).unwrap();
    write!(s, "GET /{mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut data = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 16384];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
    let metaint: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("icy-metaint:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    stream_titles(&data, metaint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodj_crossfades_tracks_with_titles_in_order() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let tones = [(440, "First"), (660, "Second"), (880, "Third")];
    let (id, slug, _, owner, dir) = station(&srv, "Auto", &tones, 2.0).await;
    let (status, started) = autodj(&srv, &owner, id, "start").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    wait_live(&srv, &slug);

    // Two listeners at once: one decodes to PCM, one reads the ICY titles.
    let icy = {
        let icecast = srv.icecast.clone();
        let slug = slug.clone();
        std::thread::spawn(move || icy_titles(&icecast, &slug, 16))
    };
    let (pcm, errors) = listen(&srv.icecast, &slug, 15).await;
    assert!(
        errors.trim().is_empty(),
        "the stream did not decode cleanly: {errors}"
    );
    let titles = icy.join().unwrap();

    // Each track plays its 5 s of sound (silence at its ends cut), the next fading in over
    // the last 2 s: windows where both tones sound at once are the crossfades.
    let hz: Vec<f64> = tones.iter().map(|(h, _)| f64::from(*h)).collect();
    let map = tone_map(&pcm, &hz, 4410);
    let sounding = |w: &Vec<f64>| w.iter().filter(|l| **l > 0.02).count();
    let overlaps = map.iter().filter(|w| sounding(w) >= 2).count();
    let silent = map.iter().filter(|w| sounding(w) == 0).count();
    assert!(
        overlaps >= 8,
        "no crossfade heard ({overlaps} windows of overlap): {map:?}"
    );
    assert_eq!(silent, 0, "dead air between tracks: {map:?}");
    // The order: the tone that dominates changes 440 → 660 → 880 → 440…
    let mut order: Vec<usize> = Vec::new();
    for w in &map {
        let top = (0..3).max_by(|a, b| w[*a].total_cmp(&w[*b])).unwrap();
        if w[top] > 0.05 && order.last() != Some(&top) {
            order.push(top);
        }
    }
    for pair in order.windows(2) {
        assert_eq!(pair[1], (pair[0] + 1) % 3, "tracks out of order: {order:?}");
    }
    assert!(order.len() >= 3, "{order:?}");
    // Loudness normalised: each track plays louder than in its file by what brings its
    // measured loudness to the −16 LUFS target (within 1 dB).
    let (_, lib) = srv
        .get(&format!("/api/v1/services/{id}/media"), &owner)
        .await;
    let first = lib["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "First")
        .unwrap();
    let gain_db = -16.0 - first["loudness_lufs"].as_f64().unwrap();
    let in_file = level(
        &decode_file(&dir.path().join("440.mp3"))[44_100..88_200],
        440.0,
        44_100.0,
    );
    let on_air = map.iter().map(|w| w[0]).fold(0.0, f64::max);
    let heard_db = 20.0 * (on_air / in_file).log10();
    assert!(
        (heard_db - gain_db).abs() < 1.0,
        "played {heard_db:.1} dB over the file, expected {gain_db:.1} dB"
    );

    // Titles in play order, as "Artist - Title".
    let expected: Vec<String> = tones
        .iter()
        .map(|(_, t)| format!("AutoDJ Test - {t}"))
        .collect();
    assert!(titles.len() >= 2, "{titles:?}");
    for pair in titles.windows(2) {
        let a = expected.iter().position(|e| *e == pair[0]).unwrap();
        assert_eq!(
            pair[1],
            expected[(a + 1) % 3],
            "titles out of order: {titles:?}"
        );
    }

    // The API: now playing, next, history.
    let (_, st) = srv
        .get(&format!("/api/v1/services/{id}/autodj"), &owner)
        .await;
    assert_eq!(
        (st["running"].as_bool(), st["on_air"].as_bool()),
        (Some(true), Some(true)),
        "{st}"
    );
    assert!(
        st["now_playing"]["title"].is_string() && st["next"]["title"].is_string(),
        "{st}"
    );
    let (status, np) = srv
        .call(
            "GET",
            &format!("/api/v1/public/{slug}/nowplaying"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        np["now_playing"].to_string().contains("AutoDJ Test"),
        "{np}"
    );
    let (_, _, body) = srv
        .fetch(
            "/metrics",
            &[(
                "authorization",
                &format!("Bearer {}", srv.admin_token().await),
            )],
        )
        .await;
    let samples = parse_metrics(&String::from_utf8(body).unwrap());
    let sid = id.to_string();
    assert!(
        samples.iter().any(|(n, l, v)| n == "tidecast_autodj_on_air"
            && l.get("service") == Some(&sid)
            && *v == 1.0),
        "{samples:?}"
    );
    assert!(
        samples
            .iter()
            .any(|(n, l, v)| n == "tidecast_icecast_listeners"
                && l.get("mount") == Some(&slug)
                && *v >= 0.0),
        "{samples:?}"
    );
    let plays = store.snapshot().await["autodj_plays"]
        .as_array()
        .unwrap()
        .len();
    assert!(plays >= 3, "{plays} plays recorded");

    // Skip: the next track starts at once (its title within a second or so).
    let (_, before) = srv
        .get(&format!("/api/v1/services/{id}/autodj"), &owner)
        .await;
    let (status, _) = autodj(&srv, &owner, id, "skip").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, after) = srv
        .get(&format!("/api/v1/services/{id}/autodj"), &owner)
        .await;
    assert_ne!(
        before["now_playing"]["media_id"], after["now_playing"]["media_id"],
        "{before} → {after}"
    );

    // Stop: off the mount.
    let (status, st) = autodj(&srv, &owner, id, "stop").await;
    assert_eq!(
        (status, st["running"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{st}"
    );
    let wait = within(secs(5)).every(Duration::from_millis(100));
    eventually_blocking(wait, "the mount to go after stop", || {
        match status_of(&srv, &slug) {
            Some(status) => Err(status),
            None => Ok(()),
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_source_takes_over_and_autodj_resumes() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, pw, owner, _dir) =
        station(&srv, "Live", &[(440, "One"), (660, "Two")], 1.0).await;
    let (status, s) = autodj(&srv, &owner, id, "start").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    wait_live(&srv, &slug);

    // A listener that stays connected throughout, decoding 16 s.
    let listener = std::thread::spawn({
        let icecast = srv.icecast.clone();
        let slug = slug.clone();
        move || listen_pcm(&icecast, &slug, 16)
    });
    std::thread::sleep(Duration::from_secs(3));
    // The station's own login (priority 50) goes live with a 1 kHz tone for 5 s.
    let mut live = ffmpeg_tone(&srv, &slug, "source", &pw, false, 5, "Live Show", 1000);
    let status = format!("/api/v1/services/{id}/autodj");
    let every_50_ms = |w: Wait<'static>| w.every(Duration::from_millis(50));
    eventually(
        every_50_ms(within(secs(5))),
        "AutoDJ to yield",
        async || {
            let (_, st) = srv.get(&status, &owner).await;
            if st["on_air"] == false {
                Ok(())
            } else {
                Err(st)
            }
        },
    )
    .await;
    live.wait().unwrap();
    // Back within a second of the live source leaving.
    let resumed = every_50_ms(within(Duration::from_millis(1500)));
    eventually(resumed, "AutoDJ to resume", async || {
        let (_, st) = srv.get(&status, &owner).await;
        if st["on_air"] == true && st["now_playing"].is_object() {
            Ok(())
        } else {
            Err(st)
        }
    })
    .await;
    let (pcm, errors) = listener.join().unwrap();
    // Handovers on frame boundaries: the listener's decoder never sees a broken frame.
    assert!(
        errors.trim().is_empty(),
        "decode errors at the handovers: {errors}"
    );
    assert!(
        pcm.len() > 44_100 * 14,
        "the listener was cut off after {} s",
        pcm.len() / 44_100
    );
    let map = tone_map(&pcm, &[440.0, 660.0, 1000.0], 4410);
    let at = |i: usize| map.iter().position(|w| w[i] > 0.05);
    let live_from = at(2).expect("the live source was heard");
    let autodj_after = map[live_from..]
        .iter()
        .position(|w| w[2] < 0.01 && (w[0] > 0.05 || w[1] > 0.05))
        .expect("AutoDJ was heard again after the live show");
    assert!(
        at(0).unwrap() < live_from,
        "AutoDJ played before the live show"
    );
    assert!(autodj_after > 30, "AutoDJ came back during the live show");
    // AutoDJ faded out before the live source: its level falls over the last half second.
    let music = |w: &Vec<f64>| w[0].max(w[1]);
    let before = music(&map[live_from - 8]);
    let last = music(&map[live_from - 1]);
    assert!(
        before > 0.1 && last < before * 0.6,
        "no fade-out before the live source ({before:.3} → {last:.3}): {:?}",
        &map[live_from - 8..live_from + 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodj_comes_back_after_a_restart_and_follows_the_plan() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, _, owner, _dir) = station(&srv, "Restart", &[(440, "Only")], 0.0).await;
    // Refusals first: a station without AutoDJ in its plan, skip while stopped.
    let (plain, _, _) = radio(&srv, "Plain", json!({"autodj": false})).await;
    let plain_owner = srv.login("Plain-owner", "Plain-owner-password").await;
    let (status, err) = autodj(&srv, &plain_owner, plain, "start").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, _) = autodj(&srv, &owner, id, "skip").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, err) = srv
        .put(
            &format!("/api/v1/services/{id}/autodj"),
            &owner,
            json!({"bitrate_kbps": 999}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    let (status, _) = autodj(&srv, &owner, id, "start").await;
    assert_eq!(status, StatusCode::OK);
    wait_live(&srv, &slug);
    srv.stop();

    let srv = Server::start(&store).await;
    wait_live(&srv, &slug);
    assert!(
        srv.wait_log("AutoDJ resumed after the restart", Duration::from_secs(5)),
        "{}",
        srv.logs()
    );
    let (pcm, errors) = listen(&srv.icecast, &slug, 4).await;
    assert!(errors.trim().is_empty(), "{errors}");
    assert!(
        level(&pcm, 440.0, 44_100.0) > 0.05,
        "the station is silent after the restart"
    );

    // Suspension stops it (and it stays off until unsuspended).
    let admin = srv.admin_token().await;
    let (status, _) = srv
        .post(&format!("/api/v1/services/{id}/suspend"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, st) = srv
        .get(&format!("/api/v1/services/{id}/autodj"), &admin)
        .await;
    assert_eq!(st["running"], false, "{st}");
    let (status, _) = srv
        .post(
            &format!("/api/v1/services/{id}/unsuspend"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, st) = srv
        .get(&format!("/api/v1/services/{id}/autodj"), &admin)
        .await;
    assert_eq!(
        st["running"], true,
        "unsuspending did not bring AutoDJ back: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_request_songs_within_limits() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, _, owner, _dir) = station(
        &srv,
        "Request",
        &[
            (440, "Alpha"),
            (550, "Beta"),
            (660, "Gamma"),
            (770, "Delta"),
            (880, "Epsilon"),
        ],
        0.5,
    )
    .await;
    let public = format!("/api/v1/public/{slug}/requests");
    // Requests are taken only while AutoDJ plays, from playlists that allow them.
    let (status, _) = srv
        .call("POST", &public, None, Some(json!({"media": 1})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "AutoDJ is off");
    let start = format!("/api/v1/services/{id}/autodj/start");
    let (status, _) = srv.post(&start, &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    wait_live(&srv, &slug);
    let (status, _) = srv
        .call("POST", &public, None, Some(json!({"media": 1})))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the playlist does not allow requests yet"
    );
    let (_, lists) = srv
        .get(&format!("/api/v1/services/{id}/playlists"), &owner)
        .await;
    let pl = &lists["items"][0];
    let (status, body) = srv
        .put(
            &format!("/api/v1/services/{id}/playlists/{}", pl["id"]),
            &owner,
            json!({"name": "Rotation", "order": "sequential", "media": pl["media"],
                "allow_requests": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, list) = srv
        .call("GET", &format!("{public}?q=gam"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let gamma = list["items"][0]["id"].clone();
    let (status, req) = srv
        .call("POST", &public, None, Some(json!({"media": gamma})))
        .await;
    assert_eq!(
        (status, req["position"].as_i64()),
        (StatusCode::CREATED, Some(1)),
        "{req}"
    );
    let (status, again) = srv
        .call("POST", &public, None, Some(json!({"media": gamma})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Two skips at most: the requested track is the one after the next (already cued).
    let mut heard = false;
    for _ in 0..3 {
        let (_, st) = srv
            .get(&format!("/api/v1/services/{id}/autodj"), &owner)
            .await;
        if st["now_playing"]["media_id"] == gamma {
            heard = true;
            break;
        }
        autodj(&srv, &owner, id, "skip").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert!(heard, "the requested track never played\n{}", srv.logs());

    // Three requests per listener per quarter hour: two more of what has not played yet,
    // then the next is refused whatever it asks for.
    let items = srv.call("GET", &public, None, None).await.1["items"].clone();
    let unplayed: Vec<Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == "Delta" || i["title"] == "Epsilon")
        .map(|i| i["id"].clone())
        .collect();
    for m in &unplayed {
        let (status, r) = srv
            .call("POST", &public, None, Some(json!({"media": m})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let (status, r) = srv
        .call("POST", &public, None, Some(json!({"media": gamma})))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{r}");
    let (status, _) = srv
        .call("POST", &public, None, Some(json!({"media": 99999})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_air_inside_a_track_is_found_and_skipped() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, _) = radio(&srv, "Quiet", json!({"autodj": true})).await;
    let owner = srv.login("Quiet-owner", "Quiet-owner-password").await;
    let dir = tempfile::tempdir().unwrap();
    // 2 s of tone, 20 s of nothing, 2 s of tone: the cue points keep the gap (it is inside).
    let gap = dir.path().join("gap.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=44100:cl=mono:d=20",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-filter_complex",
        "[0][1][2]concat=n=3:v=0:a=1",
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-metadata",
        "title=Gap",
        gap.to_str().unwrap(),
    ]);
    let next = tone_file(
        dir.path(),
        "next.mp3",
        880,
        20.0,
        (0.0, 0.0),
        ("Next", "Band", ""),
    );
    let (status, up) = upload(&srv, &owner, id, &[&gap, &next]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let ids = item_ids(&up);
    let (status, _) = srv
        .post(
            &format!("/api/v1/services/{id}/playlists"),
            &owner,
            json!({"name": "All", "order": "sequential", "media": ids}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, s) = srv
        .put(
            &format!("/api/v1/services/{id}/autodj"),
            &owner,
            json!({"dead_air_s": 3, "crossfade_s": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    autodj(&srv, &owner, id, "start").await;
    wait_live(&srv, &slug);
    let (pcm, _) = listen(&srv.icecast, &slug, 10).await;
    // The 880 Hz track is heard within 10 s: the gap was cut short after 3 s of silence.
    let map = tone_map(&pcm, &[440.0, 880.0], 4410);
    assert!(
        map.iter().any(|w| w[1] > 0.05),
        "the silent gap was not skipped: {map:?}\n{}",
        srv.logs()
    );
    assert!(
        srv.wait_log("dead air", Duration::from_secs(1)),
        "{}",
        srv.logs()
    );
    let (_, stats) = srv
        .get(&format!("/api/v1/services/{id}/stats"), &owner)
        .await;
    assert!(
        stats["autodj"]["dead_air_events"].as_u64().unwrap() >= 1,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_air_from_a_live_source_shows_in_stats() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, pw) = radio(&srv, "Mute", json!({})).await;
    let admin = srv.admin_token().await;
    // 2 s of tone, then a live show that forgot to open the microphone.
    let url = format!("icecast://source:{pw}@{}/{slug}", srv.icecast);
    let _live = Proc(
        std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                // One input, so -re paces all of it.
                "aevalsrc=if(lt(t\\,2)\\,0.3*sin(2*PI*440*t)\\,0):s=44100:d=27",
                "-ac",
                "2",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "128k",
                "-content_type",
                "audio/mpeg",
                "-f",
                "mp3",
                &url,
            ])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_live(&srv, &slug);
    let wait = within(secs(30))
        .every(Duration::from_millis(500))
        .logs(&srv);
    let stats = eventually(wait, "dead air to be reported", async || {
        let (_, stats) = srv
            .get(&format!("/api/v1/services/{id}/stats"), &admin)
            .await;
        if stats["mounts"][0]["dead_air_events"].as_u64().unwrap_or(0) >= 1 {
            Ok(stats)
        } else {
            Err(stats)
        }
    })
    .await;
    assert!(
        stats["mounts"][0]["silent_for_s"].as_u64().unwrap() >= 15,
        "{stats}"
    );
    assert!(srv.wait_log("dead air: ", Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_measures_the_library_again_and_lists_missing_files() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, _, _) = radio(&srv, "Rescan", json!({})).await;
    let owner = srv.login("Rescan-owner", "Rescan-owner-password").await;
    let dir = tempfile::tempdir().unwrap();
    let a = tone_file(dir.path(), "a.mp3", 440, 2.0, (0.5, 0.5), ("A", "X", ""));
    let b = tone_file(dir.path(), "b.flac", 660, 2.0, (0.0, 0.0), ("B", "Y", ""));
    let (status, up) = upload(&srv, &owner, id, &[&a, &b]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    // One file vanishes from disk; the other's cue points are spoiled in the database.
    let files = library_files(&store);
    let flac = files.iter().find(|f| f.ends_with(".flac")).unwrap();
    std::fs::remove_file(flac).unwrap();
    let db = store.database_url.clone();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE media SET cue_in_ms = 0, loudness_mlufs = NULL WHERE filename = 'a.mp3'")
        .execute(&mut conn)
        .await
        .unwrap();
    // While the server runs.
    let out = std::process::Command::new(binary())
        .args(["rescan", "--data"])
        .arg(store.data_dir())
        .args(["--database-url", &db])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("rescanned 1 of 2 files; 1 missing, 0 unreadable"),
        "{text}"
    );
    assert!(text.contains("missing: b.flac"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rescan: 1/2 files"),
        "no progress shown"
    );
    let (_, list) = srv
        .get(&format!("/api/v1/services/{id}/media"), &owner)
        .await;
    let a = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["filename"] == "a.mp3")
        .unwrap();
    assert!((a["cue_in_s"].as_f64().unwrap() - 0.5).abs() < 0.05, "{a}");
    assert!(a["loudness_lufs"].is_number(), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodj_feeds_the_extra_mounts_and_the_station_hls() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, _) = radio(&srv, "Wide", json!({"autodj": true, "transcode": true})).await;
    let owner = srv.login("Wide-owner", "Wide-owner-password").await;
    let (status, m) = srv
        .post(
            &format!("/api/v1/services/{id}/mounts"),
            &owner,
            json!({"path": "/wide-aac", "format": "aac", "bitrate_kbps": 64}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let (status, t) = srv
        .put(
            &format!("/api/v1/services/{id}/transcode"),
            &owner,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let dir = tempfile::tempdir().unwrap();
    let track = tone_file(
        dir.path(),
        "t.mp3",
        440,
        30.0,
        (0.0, 0.0),
        ("Long", "Tone", ""),
    );
    let (status, up) = upload(&srv, &owner, id, &[&track]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    srv.post(
        &format!("/api/v1/services/{id}/playlists"),
        &owner,
        json!({"name": "All", "media": [up["items"][0]["id"]]}),
    )
    .await;
    let (status, s) = autodj(&srv, &owner, id, "start").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    wait_live(&srv, &slug);
    wait_live(&srv, "wide-aac");
    // The AAC mount carries AutoDJ's audio, transcoded from the primary.
    let (pcm, errors) = listen(&srv.icecast, "wide-aac", 4).await;
    assert!(errors.trim().is_empty(), "{errors}");
    assert!(
        level(&pcm, 440.0, 44_100.0) > 0.05,
        "the AAC mount is silent"
    );
    // And the station plays over HLS (its AAC ladder).
    let wait = within(secs(20))
        .every(Duration::from_millis(300))
        .logs(&srv);
    eventually(wait, "the station's HLS master playlist", async || {
        let (status, _, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status == StatusCode::OK && text.contains("#EXT-X-STREAM-INF") {
            Ok(())
        } else {
            Err(format!("{status} {text}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_interval_playlist_cuts_into_the_track_playing() {
    let store = Store::new(Backend::Sqlite).await;
    let srv = Server::start(&store).await;
    let (id, slug, _) = radio(&srv, "News", json!({"autodj": true})).await;
    let owner = srv.login("News-owner", "News-owner-password").await;
    let dir = tempfile::tempdir().unwrap();
    let music = tone_file(
        dir.path(),
        "long.mp3",
        440,
        60.0,
        (0.0, 0.0),
        ("Long Song", "Band", ""),
    );
    let news = tone_file(
        dir.path(),
        "news.mp3",
        1000,
        4.0,
        (0.0, 0.0),
        ("News", "Desk", ""),
    );
    let (status, up) = upload(&srv, &owner, id, &[&music, &news]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let (mid, nid) = (up["items"][0]["id"].clone(), up["items"][1]["id"].clone());
    srv.post(
        &format!("/api/v1/services/{id}/playlists"),
        &owner,
        json!({"name": "Music", "media": [mid]}),
    )
    .await;
    // Bad interval playlists are refused with the reason.
    for bad in [
        json!({"name": "x", "kind": "interval", "media": [nid]}),
        json!({"name": "x", "kind": "interval", "media": [nid], "every_n_songs": 2, "at_minute": 5}),
        json!({"name": "x", "kind": "interval", "media": [nid], "at_minute": 60}),
        json!({"name": "x", "kind": "interval", "media": [nid], "every_n_songs": 2, "interrupts": true}),
        json!({"name": "x", "kind": "rotation", "media": [nid], "every_n_minutes": 5}),
    ] {
        let (status, e) = srv
            .post(
                &format!("/api/v1/services/{id}/playlists"),
                &owner,
                bad.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {e}");
    }
    autodj(&srv, &owner, id, "start").await;
    wait_live(&srv, &slug);
    // News at this very minute of the hour, cutting in. Close to the end of a minute, the
    // next one is waited for: the minute must not pass while the news is set up.
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    if unix() % 60 > 40 {
        tokio::time::sleep(Duration::from_secs(61 - unix() % 60)).await;
    }
    let minute = (unix() / 60) % 60;
    let (status, p) = srv.post(&format!("/api/v1/services/{id}/playlists"), &owner,
        json!({"name": "News", "kind": "interval", "at_minute": minute, "interrupts": true, "media": [nid]})).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (pcm, errors) = listen(&srv.icecast, &slug, 15).await;
    assert!(errors.trim().is_empty(), "{errors}");
    let map = tone_map(&pcm, &[440.0, 1000.0], 4410);
    assert!(
        map.iter().any(|w| w[1] > 0.05),
        "the news never cut in: {map:?}\n{}",
        srv.logs()
    );
    assert!(srv.wait_log("cuts the track short", Duration::from_secs(1)));
}

both_backends! {
    async fn a_scheduled_playlist_takes_over_rotation_in_its_slot(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, slug, _) = radio(&srv, "Sched", json!({"autodj": true})).await;
        let owner = srv.login("Sched-owner", "Sched-owner-password").await;
        let dir = tempfile::tempdir().unwrap();
        let day = tone_file(dir.path(), "day.mp3", 440, 20.0, (0.0, 0.0), ("Day", "A", ""));
        let show = tone_file(dir.path(), "show.mp3", 880, 20.0, (0.0, 0.0), ("Show", "B", ""));
        let (status, up) = upload(&srv, &owner, id, &[&day, &show]).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        let ids = item_ids(&up);
        playlist(&srv, &owner, id, json!({"name": "Day", "media": [ids[0]]})).await;
        // A slot that is on now (it started an hour ago, daily) and one that is not.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let hhmm = |secs: u64| format!("{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60);
        let off = playlist(&srv, &owner, id, json!({"name": "Later", "kind": "scheduled", "media": [ids[0]],
            "schedule": {"repeat": "daily", "start": hhmm(now + 7200), "duration_minutes": 30}})).await;
        assert_eq!(off["schedule"]["repeat"], "daily", "{off}");
        playlist(&srv, &owner, id, json!({"name": "Show", "kind": "scheduled", "media": [ids[1]],
            "schedule": {"repeat": "daily", "start": hhmm(now - 3600), "duration_minutes": 180}})).await;
        for bad in [
            json!({"name": "x", "kind": "scheduled", "media": [ids[1]]}),
            json!({"name": "x", "kind": "scheduled", "media": [ids[1]], "schedule": {"repeat": "weekly", "start": "08:00", "duration_minutes": 60}}),
            json!({"name": "x", "kind": "scheduled", "media": [ids[1]], "schedule": {"repeat": "daily", "start": "25:00", "duration_minutes": 60}}),
        ] {
            let (status, e) = srv.post(&format!("/api/v1/services/{id}/playlists"), &owner, bad.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {e}");
        }
        let (status, _) = autodj(&srv, &owner, id, "start").await;
        assert_eq!(status, StatusCode::OK);
        wait_live(&srv, &slug);
        let (pcm, _) = listen(&srv.icecast, &slug, 3).await;
        assert!(level(&pcm, 880.0, 44_100.0) > 0.05, "the show in its slot should play, not the day rotation");
        assert!(level(&pcm, 440.0, 44_100.0) < 0.01);
    }
}
