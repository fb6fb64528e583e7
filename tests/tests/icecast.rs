//! Live radio on the Icecast port with real clients: ffmpeg as the source, ffprobe and raw
//! sockets as listeners.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use tidecast_tests::icecast::*;
use tidecast_tests::*;

both_backends! {
    async fn mp3_source_to_listeners(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Jazz", json!({})).await;
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 30);
        wait_live(&srv, &mount);

        // HEAD answers the stream's headers and is not a listener.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("HEAD /{mount} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
        let (head, _) = read_response(&mut s, 0, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 200") && head.contains("Content-Type: audio/mpeg") && head.contains("icy-name: Test FM"), "{head}");
        assert_eq!(listeners_of(&srv, &mount), 0, "HEAD or status requests counted as listeners");

        // A listener gets a burst of what was already sent (about 2 s of audio here, more
        // than real time could deliver in the 300 ms we read), then live audio that ffmpeg
        // decodes cleanly.
        std::thread::sleep(Duration::from_secs(2));
        let (_, burst) = raw_get(&srv, &format!("/{mount}"), &[], 24 * 1024, Duration::from_millis(300));
        assert!(burst.len() >= 24 * 1024, "no burst on connect: {} bytes", burst.len());
        let (head, body) = raw_get(&srv, &format!("/{mount}"), &[], 48 * 1024, Duration::from_secs(4));
        assert!(head.contains("icy-genre: Jazz") && head.contains("Access-Control-Allow-Origin: *"), "{head}");
        let file = store.dir.path().join("listen.mp3");
        std::fs::write(&file, &body).unwrap();
        let probe = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&file).args(["-f", "null", "-"]).output().unwrap();
        assert!(probe.status.success(), "ffmpeg could not decode the stream: {}", body_str(&probe.stderr));
        let streams = Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=codec_name,sample_rate", "-of", "csv=p=0"]).arg(&file).output().unwrap();
        assert_eq!(body_str(&streams.stdout).trim(), "mp3,44100");

        // ICY metadata: a title set through /admin/metadata arrives in the block after 16000 bytes.
        let (_, reply) = raw_get(&srv, &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song=Miles+Davis+-+So+What"),
            &[&format!("Authorization: Basic {}", b64(&format!("source:{pw}")))], 1, Duration::from_secs(2));
        assert!(body_str(&reply).contains("<return>1</return>"), "{}", body_str(&reply));
        let (head, body) = raw_get(&srv, &format!("/{mount}"), &["Icy-MetaData: 1"], 20_000, Duration::from_secs(4));
        assert!(head.contains("icy-metaint: 16000"), "{head}");
        let len = usize::from(body[16_000]) * 16;
        let block = body_str(&body[16_001..16_001 + len]);
        assert!(block.starts_with("StreamTitle='Miles Davis - So What';"), "{block:?}");
        // Wrong credentials for metadata: refused.
        let (head, _) = raw_get(&srv, &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song=x"),
            &[&format!("Authorization: Basic {}", b64("source:wrong"))], 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 401"), "{head}");

        // A Tidecast admin may update any mount's title (Icecast's admin user).
        let (_, reply) = raw_get(
            &srv,
            &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song=Admin+Title"),
            &[&format!("Authorization: Basic {}", b64(&format!("admin:{ADMIN_PASSWORD}")))],
            1,
            Duration::from_secs(2),
        );
        assert!(body_str(&reply).contains("<return>1</return>"), "{}", body_str(&reply));
        let (_, reply) = raw_get(
            &srv,
            &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song=Miles+Davis+-+So+What"),
            &[&format!("Authorization: Basic {}", b64(&format!("source:{pw}")))],
            1,
            Duration::from_secs(2),
        );
        assert!(body_str(&reply).contains("<return>1</return>"));
        // status-json.xsl in Icecast's shape.
        let (_, body) = raw_get(&srv, "/status-json.xsl", &[], 64 * 1024, Duration::from_secs(2));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let s = &v["icestats"]["source"][0];
        assert_eq!(s["server_name"], "Test FM");
        assert_eq!(s["title"], "Miles Davis - So What");
        assert_eq!(s["server_type"], "audio/mpeg");
        assert!(s["listener_peak"].as_i64().unwrap() >= 1);
        assert!(s["stream_start_iso8601"].as_str().unwrap().contains('T'));
    }

    async fn aac_source(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Talk", json!({})).await;
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, true, 30);
        wait_live(&srv, &mount);
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-read_intervals", "%+2", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
            .arg(format!("http://{}/{mount}", srv.icecast))
            .output()
            .unwrap();
        assert_eq!(body_str(&out.stdout).trim(), "aac", "{}", body_str(&out.stderr));
        let (head, _) = raw_get(&srv, &format!("/{mount}"), &[], 1, Duration::from_secs(2));
        assert!(head.contains("Content-Type: audio/aac"), "{head}");
    }

    async fn refusals_and_suspension(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (id, mount, pw) = radio(&srv, "Rock", json!({"max_listeners": 1, "max_bitrate_kbps": 128})).await;
        let admin = srv.admin_token().await;

        // Wrong password: 401, logged with the remote address; nothing goes live.
        let mut bad = ffmpeg_source(&srv, &mount, "source", "wrong-password", false, 5);
        let status = bad.wait().unwrap();
        assert!(!status.success());
        let mut err = String::new();
        bad.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(err.contains("401"), "ffmpeg said: {err}");
        assert!(srv.logs().contains("source refused") && srv.logs().contains("127.0.0.1"));
        assert!(!srv.logs().contains("wrong-password"), "a tried password was logged");

        // A declared bitrate over the plan is refused.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("PUT /{mount} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\nIce-Bitrate: 320\r\n\r\n", b64(&format!("source:{pw}"))).as_bytes()).unwrap();
        let (head, body) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 403") && body_str(&body).contains("128 kbps"), "{head}{}", body_str(&body));

        let mut src = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
        wait_live(&srv, &mount);
        // A second source with the same credentials (same priority) is refused.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("SOURCE /{mount} ICE/1.0\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\n\r\n", b64(&format!("source:{pw}"))).as_bytes()).unwrap();
        let (head, body) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 403") && body_str(&body).contains("in use"), "{head}{}", body_str(&body));

        // max_listeners = 1: the second listener gets a clear error.
        let mut first = TcpStream::connect(&srv.icecast).unwrap();
        first.write_all(format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
        let (head, _) = read_response(&mut first, 1000, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        let (head, body) = raw_get(&srv, &format!("/{mount}"), &[], 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 503") && body_str(&body).contains("full"), "{head}");

        // Unknown mount: 404 for listeners and sources.
        let (head, _) = raw_get(&srv, "/nothing-here", &[], 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 404"), "{head}");

        // Suspending drops the source and the listener within a second, and refuses them after.
        let (status, _) = srv.post(&format!("/api/v1/services/{id}/suspend"), &admin, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let t = Instant::now();
        let exited = loop {
            if let Some(st) = src.try_wait().unwrap() { break Some(st); }
            if t.elapsed() > Duration::from_secs(5) { break None; }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exited.is_some(), "ffmpeg kept streaming to a suspended service");
        assert!(t.elapsed() < Duration::from_millis(1500), "source dropped after {:?}", t.elapsed());
        // The listener (parked with its mount's writer by now) is closed too: reading
        // drains what was in flight, then ends.
        first.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let closed = loop {
            match first.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(_) => break false,
            }
        };
        assert!(closed, "the listener of a suspended service kept its connection");
        let mut again = ffmpeg_source(&srv, &mount, "source", &pw, false, 5);
        assert!(!again.wait().unwrap().success());
        let mut err = String::new();
        again.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(err.contains("403"), "ffmpeg said: {err}");
    }

    async fn malformed_clients(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Edge", json!({})).await;
        // Garbage before the request line.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").unwrap();
        let (head, _) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 400"), "{head}");
        // A header block over 8 KB.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        let big = format!("GET /{mount} HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(9000));
        let _ = s.write_all(big.as_bytes());
        let (head, _) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 431"), "{head}");
        // No credentials: 401 with a Basic challenge.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("PUT /{mount} HTTP/1.1\r\nContent-Type: audio/mpeg\r\n\r\n").as_bytes()).unwrap();
        let (head, _) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 401") && head.contains("WWW-Authenticate: Basic"), "{head}");
        // A content type no player takes.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("PUT /{mount} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: video/mp4\r\n\r\n", b64(&format!("source:{pw}"))).as_bytes()).unwrap();
        let (head, _) = read_response(&mut s, 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 415"), "{head}");
        // A source that disconnects mid-frame, then one that goes silent: both end cleanly,
        // the mount goes away, and the server keeps serving.
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("PUT /{mount} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\n\r\n", b64(&format!("source:{pw}"))).as_bytes()).unwrap();
        let (head, _) = read_response(&mut s, 0, Duration::from_millis(500));
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        s.write_all(&[0xff, 0xfb, 0x90, 0x44, 0x00, 0x01]).unwrap();
        drop(s);
        let wait = within(secs(5)).every(Duration::from_millis(100));
        let mut silent = eventually_blocking(wait, "the mount to be free after its source vanished", || {
            let mut s = TcpStream::connect(&srv.icecast).unwrap();
            s.write_all(format!("PUT /{mount} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\n\r\n", b64(&format!("source:{pw}"))).as_bytes()).unwrap();
            let (head, _) = read_response(&mut s, 0, Duration::from_millis(500));
            if head.starts_with("HTTP/1.0 200") { Ok(s) } else { Err(head) }
        });
        let mut buf = [0u8; 16];
        silent.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let n = silent.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the silent source was not disconnected");
        assert!(srv.wait_log("no data for 10 s", Duration::from_secs(2)), "{}", srv.logs());
        let (status, _) = srv.call("GET", "/healthz", None, None).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn stalled_listener_does_not_slow_others(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Busy", json!({})).await;
        let _src = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
        wait_live(&srv, &mount);
        // Twenty listeners that connect and never read a byte...
        let stalled: Vec<TcpStream> = (0..20)
            .map(|_| {
                let mut s = TcpStream::connect(&srv.icecast).unwrap();
                s.write_all(format!("GET /{mount} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
                s
            })
            .collect();
        // ...and, once the burst buffer is full, one that reads: it gets the 64 KB burst and
        // then the live rate (128 kbps = 16 KB/s).
        std::thread::sleep(Duration::from_secs(5));
        // 4 s of reading: at least the burst and 2 s of live audio.
        let (_, body) = raw_get(&srv, &format!("/{mount}"), &[], 10_000_000, Duration::from_secs(4));
        assert!(body.len() > 64 * 1024 + 2 * 16 * 1024, "the reading listener got only {} bytes in 4 s", body.len());
        let n = listeners_of(&srv, &mount);
        assert!((20..=21).contains(&n), "{n} listeners: stalled ones are counted while connected");
        drop(stalled);
    }

    async fn measured_bitrate_over_plan_is_cut(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        // The plan allows 64 kbps; ffmpeg declares nothing and sends 128 kbps.
        let (_, mount, pw) = radio(&srv, "Greedy", json!({"max_bitrate_kbps": 64})).await;
        let mut src = ffmpeg_source(&srv, &mount, "source", &pw, false, 60);
        wait_live(&srv, &mount);
        eventually_blocking(within(secs(20)), "a source over its bitrate to be cut", || {
            src.try_wait().unwrap().ok_or("still sending")
        });
        assert!(srv.wait_log("over the plan's 64 kbps", Duration::from_secs(2)), "{}", srv.logs());
    }

    async fn ogg_listeners_join_mid_stream(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        for (codec, name) in [("libopus", "opus"), ("libvorbis", "vorbis")] {
            let (_, mount, pw) = radio(&srv, &format!("Ogg-{name}"), json!({})).await;
            let _src = ffmpeg_ogg(&srv, &mount, &pw, codec, 60);
            wait_live(&srv, &mount);
            // Join well after the header pages went by: the server must send them first.
            std::thread::sleep(Duration::from_secs(3));
            let (head, body) = raw_get(&srv, &format!("/{mount}"), &["Icy-MetaData: 1"], 40 * 1024, Duration::from_secs(4));
            assert!(head.contains("Content-Type: audio/ogg"), "{head}");
            assert!(!head.contains("icy-metaint"), "ICY blocks would corrupt an Ogg stream: {head}");
            assert_eq!(&body[..4], b"OggS", "the stream does not start on a page");
            let file = store.dir.path().join(format!("{name}.ogg"));
            std::fs::write(&file, &body).unwrap();
            let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&file).args(["-f", "null", "-"]).output().unwrap();
            assert!(out.status.success() && body_str(&out.stderr).trim().is_empty(), "{name}: {}", body_str(&out.stderr));
            let probe = Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"]).arg(&file).output().unwrap();
            assert_eq!(body_str(&probe.stdout).trim(), name);
        }
    }

    async fn password_guessing_is_cut_short(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "Guarded", json!({})).await;
        let put = |pass: &str| {
            let mut s = TcpStream::connect(&srv.icecast).unwrap();
            s.write_all(format!("PUT /{mount} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\n\r\n", b64(&format!("source:{pass}"))).as_bytes()).unwrap();
            let (head, body) = read_response(&mut s, 1, Duration::from_secs(3));
            format!("{head}{}", body_str(&body))
        };
        for i in 0..10 {
            let answer = put(&format!("guess-{i}"));
            assert!(answer.starts_with("HTTP/1.0 401"), "guess {i}: {answer}");
        }
        // The eleventh try from the same address is refused before any password check, even
        // with the right password, and says when to come back.
        let answer = put(&pw);
        assert!(answer.starts_with("HTTP/1.0 429") && answer.contains("try again in"), "{answer}");
        assert!(srv.wait_log("too many wrong passwords from this address", Duration::from_secs(2)), "{}", srv.logs());
        // Metadata updates from that address are refused the same way.
        let (head, _) = raw_get(&srv, &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song=x"),
            &[&format!("Authorization: Basic {}", b64(&format!("source:{pw}")))], 1, Duration::from_secs(2));
        assert!(head.starts_with("HTTP/1.0 429"), "{head}");
    }

    async fn webm_listeners_join_mid_stream(b: Backend) {
        let store = Store::new(b).await;
        let srv = Server::start(&store).await;
        let (_, mount, pw) = radio(&srv, "WebM", json!({})).await;
        let _src = ffmpeg_container(&srv, &mount, &pw, "libopus", "webm", 60);
        wait_live(&srv, &mount);
        // Two listeners, joining after the header went by: each gets the header first, then
        // whole Clusters, and decodes without a single error.
        for round in 0..2 {
            std::thread::sleep(Duration::from_secs(2));
            let (head, body) = raw_get(&srv, &format!("/{mount}"), &["Icy-MetaData: 1"], 40 * 1024, Duration::from_secs(5));
            assert!(head.contains("Content-Type: audio/webm"), "{head}");
            assert!(!head.contains("icy-metaint"), "ICY blocks would corrupt a WebM stream: {head}");
            assert_eq!(&body[..4], &[0x1A, 0x45, 0xDF, 0xA3], "the stream does not start with the EBML header");
            let file = store.dir.path().join(format!("listen{round}.webm"));
            std::fs::write(&file, &body).unwrap();
            let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&file).args(["-f", "null", "-"]).output().unwrap();
            assert!(out.status.success(), "ffmpeg failed: {}", body_str(&out.stderr));
            // The capture ends mid-Cluster, which ffmpeg may mention; nothing before it may fail.
            let stderr = body_str(&out.stderr);
            let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty() && !l.contains("File ended prematurely") && !l.contains("End of file")).collect();
            assert!(errors.is_empty(), "decode errors: {errors:?}");
            let probe = Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"]).arg(&file).output().unwrap();
            assert_eq!(body_str(&probe.stdout).trim(), "opus");
        }
        // A stream that says WebM but is not: the source is cut with a clear reason, and the
        // server goes on.
        let (_, other, pw2) = radio(&srv, "NotWebM", json!({})).await;
        let mut s = TcpStream::connect(&srv.icecast).unwrap();
        s.write_all(format!("PUT /{other} HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/webm\r\n\r\n", b64(&format!("source:{pw2}"))).as_bytes()).unwrap();
        let (head, _) = read_response(&mut s, 0, Duration::from_millis(500));
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        s.write_all(b"ID3\x04 this is an MP3 file, not EBML").unwrap();
        assert!(srv.wait_log("not a live WebM stream", Duration::from_secs(3)), "{}", srv.logs());
        let mut buf = [0u8; 16];
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "the source was not disconnected");
    }
}
