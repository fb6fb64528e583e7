//! Helpers for RTMP → HLS tests: video services, an ffmpeg publisher, fetching a live
//! playlist and its segments into a folder ffmpeg can read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::icecast::Proc;
use crate::{Server, StatusCode, Value, eventually, wait};

/// Creates a video service; returns (id, slug, stream key).
pub async fn video(srv: &Server, name: &str, limits: Value) -> (i64, String, String) {
    let svc = crate::new_service(srv, name, "video", limits).await;
    (
        svc["id"].as_i64().unwrap(),
        svc["slug"].as_str().unwrap().to_owned(),
        svc["publish"]["rtmp"]["stream_key"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// What the test publisher sends.
#[derive(Debug, Clone, Copy)]
pub struct Publish {
    pub seconds: u32,
    /// Keyframe interval in seconds.
    pub gop_secs: u32,
    /// H.264 with B-frames (composition time offsets).
    pub bframes: bool,
}

impl Default for Publish {
    fn default() -> Self {
        Self {
            seconds: 10,
            gop_secs: 1,
            bframes: true,
        }
    }
}

impl Publish {
    /// `seconds` of the test picture, a keyframe every second, with B-frames.
    pub fn secs(seconds: u32) -> Self {
        Self {
            seconds,
            ..Self::default()
        }
    }

    /// A keyframe every `gop_secs` seconds.
    pub fn gop(self, gop_secs: u32) -> Self {
        Self { gop_secs, ..self }
    }

    /// H.264 without B-frames (every picture's composition time is its decode time).
    pub fn no_bframes(self) -> Self {
        Self {
            bframes: false,
            ..self
        }
    }
}

/// ffmpeg publishing a 320x240 30 fps test picture with a 440 Hz tone, in real time.
pub fn ffmpeg_publish(srv: &Server, key: &str, p: Publish) -> Proc {
    publish_picture(srv, key, p, "testsrc=size=320x240:rate=30", "400k")
}

/// ffmpeg publishing a busier moving test picture (testsrc2) of `size` (e.g. `854x480`) at
/// 30 fps and `bitrate`, with a 440 Hz tone, in real time.
pub fn ffmpeg_publish_sized(
    srv: &Server,
    key: &str,
    p: Publish,
    size: &str,
    bitrate: &str,
) -> Proc {
    publish_picture(
        srv,
        key,
        p,
        &format!("testsrc2=size={size}:rate=30"),
        bitrate,
    )
}

fn publish_picture(srv: &Server, key: &str, p: Publish, picture: &str, bitrate: &str) -> Proc {
    let gop = (p.gop_secs * 30).to_string();
    let seconds = p.seconds.to_string();
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", picture,
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", &seconds,
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0",
        "-bf", if p.bframes { "2" } else { "0" },
        "-b:v", bitrate, "-c:a", "aac", "-b:a", "64k",
    ];
    ffmpeg_publish_raw(srv, key, &args)
}

/// Polls until the stream's playlist lists at least `n` segments; returns it.
pub async fn wait_playlist(srv: &Server, slug: &str, n: usize, within: Duration) -> String {
    let what = format!("a playlist of {slug} with {n} segments");
    eventually(wait::within(within).logs(srv), what, async || {
        let (status, _, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status == StatusCode::OK && segments_of(&text).len() >= n {
            Ok(text)
        } else {
            Err(format!("{status} {text}"))
        }
    })
    .await
}

/// The segment URIs of a media playlist, with their `#EXTINF` durations.
pub fn segments_of(playlist: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut dur = None;
    for line in playlist.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.split(',').next().and_then(|d| d.parse().ok());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            out.push((line.trim().to_owned(), dur.take().unwrap_or(0.0)));
        }
    }
    out
}

/// The value of a playlist tag such as `#EXT-X-MEDIA-SEQUENCE`.
pub fn tag<'a>(playlist: &'a str, name: &str) -> Option<&'a str> {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

/// Downloads a playlist's segments next to a copy of it; returns the playlist's path.
pub async fn download(srv: &Server, slug: &str, playlist: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let maps = playlist.lines().filter_map(|l| {
        l.strip_prefix("#EXT-X-MAP:URI=\"")
            .and_then(|r| r.strip_suffix('"'))
            .map(str::to_owned)
    });
    let uris: Vec<String> = maps
        .chain(segments_of(playlist).into_iter().map(|(u, _)| u))
        .collect();
    for uri in uris {
        let (status, h, body) = srv.fetch(&format!("/hls/{slug}/{uri}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "segment {uri}");
        let want = if uri.ends_with(".ts") {
            "video/mp2t"
        } else {
            "video/mp4"
        };
        assert_eq!(h["content-type"], want, "{uri}");
        std::fs::write(dir.join(&uri), body).unwrap();
    }
    let path = dir.join("index.m3u8");
    std::fs::write(&path, playlist).unwrap();
    path
}

/// ffprobe's answer for `entries` of `file`, as trimmed text.
pub fn probe(file: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A raw RTMP connection after a plain handshake (C0/C1, S0/S1/S2, C2), for sending
/// malformed input by hand.
pub fn raw_rtmp(srv: &Server) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&srv.rtmp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut c1 = vec![0u8; 1536];
    for (i, b) in c1.iter_mut().enumerate().skip(8) {
        *b = (i * 7 % 251) as u8;
    }
    s.write_all(&[3]).unwrap();
    s.write_all(&c1).unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 1536 * 2];
    s.read_exact(&mut s0s1s2).unwrap();
    // C2 echoes S1.
    s.write_all(&s0s1s2[1..1537]).unwrap();
    s
}

/// One RTMP message as type-0 chunks on chunk stream `csid` (128-byte chunks).
pub fn rtmp_message(csid: u8, type_id: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![csid & 0x3F, 0, 0, 0];
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    for (i, chunk) in payload.chunks(128).enumerate() {
        if i > 0 {
            out.push(0xC0 | (csid & 0x3F)); // type 3: continuation
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// AMF0 values for hand-made commands.
pub fn amf_string(s: &str) -> Vec<u8> {
    let mut v = vec![0x02];
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

pub fn amf_number(n: f64) -> Vec<u8> {
    let mut v = vec![0x00];
    v.extend_from_slice(&n.to_be_bytes());
    v
}

/// Whether the server closes `s` (a read returns 0 or the connection resets) within 3 s.
pub fn closed_by_server(s: &mut std::net::TcpStream) -> bool {
    closed_within(s, Duration::from_secs(3))
}

/// Whether the server closes `s` within `within`.
pub fn closed_within(s: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(within)).unwrap();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

/// Plays `url` with hls.js in Debian's headless Chromium (tests/browser/play_hls.mjs) with
/// the script's `args`; returns its report, after checking it played.
pub fn play_in_chromium(url: &str, args: &[&str]) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/hls.js").exists() && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Debian's chromium and `npm ci --prefix tests/browser` (scripts/test.sh installs both)"
    );
    let out = Command::new("node")
        .arg(dir.join("play_hls.mjs"))
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("{e}: {line} {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "hls.js did not play {url}: {v}");
    v
}

/// ffmpeg publishing with exactly `args` between the real-time flag and the RTMP output
/// (inputs, codecs, options): for sources the other helpers do not make.
pub fn ffmpeg_publish_raw(srv: &Server, key: &str, args: &[&str]) -> Proc {
    let url = format!("rtmp://{}/live/{key}", srv.rtmp);
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(args)
        .args(["-f", "flv", url.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .expect("ffmpeg")
}

/// ffmpeg publishing 30 s of a lavfi `picture` without sound (libx264 veryfast, a keyframe
/// a second), with `extra` encoder options.
pub fn ffmpeg_publish_picture(srv: &Server, key: &str, picture: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "-f", "lavfi", "-i", picture, "-t", "30", "-an", "-c:v", "libx264", "-preset", "veryfast",
        "-g", "30",
    ];
    args.extend_from_slice(extra);
    ffmpeg_publish_raw(srv, key, &args)
}

/// Joins two FLV files into one whose second half has its own (new) sequence headers, as an
/// encoder that restarts with a new resolution sends: the second file's tags follow the
/// first's, timestamps carried on, its metadata tag dropped.
pub fn join_flv(a: &std::path::Path, b: &std::path::Path, out: &std::path::Path) {
    /// An FLV tag: its type, timestamp and body.
    type Tag = (u8, u32, Vec<u8>);
    fn tags(path: &std::path::Path) -> (Vec<u8>, Vec<Tag>) {
        let d = std::fs::read(path).unwrap();
        let mut off = 13;
        let mut tags = Vec::new();
        while off + 11 <= d.len() {
            let size = usize::from(d[off + 1]) << 16
                | usize::from(d[off + 2]) << 8
                | usize::from(d[off + 3]);
            let ts = u32::from(d[off + 4]) << 16
                | u32::from(d[off + 5]) << 8
                | u32::from(d[off + 6])
                | u32::from(d[off + 7]) << 24;
            tags.push((d[off], ts, d[off + 11..off + 11 + size].to_vec()));
            off += 11 + size + 4;
        }
        (d[..13].to_vec(), tags)
    }
    let (head, first) = tags(a);
    let (_, second) = tags(b);
    let shift = first.iter().map(|t| t.1).max().unwrap() + 33;
    let mut o = head;
    let mut put = |kind: u8, ts: u32, body: &[u8]| {
        o.push(kind);
        o.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        o.extend_from_slice(&(ts & 0xFF_FFFF).to_be_bytes()[1..]);
        o.push((ts >> 24) as u8);
        o.extend_from_slice(&[0, 0, 0]);
        o.extend_from_slice(body);
        o.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
    };
    for (kind, ts, body) in &first {
        put(*kind, *ts, body);
    }
    for (kind, ts, body) in second.iter().filter(|t| t.0 != 18) {
        put(*kind, ts + shift, body);
    }
    std::fs::write(out, o).unwrap();
}

/// An FLV file of `secs` seconds at `first` size followed by `secs` at `second` (an encoder
/// that restarts at a new resolution), made with ffmpeg from `picture` (a lavfi source
/// name such as `testsrc`), one keyframe a second, AAC audio; returns its path.
pub fn two_size_flv(dir: &Path, picture: &str, first: &str, second: &str, secs: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, size) in [("a.flv", first), ("b.flv", second)] {
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi"])
            .args(["-i", &format!("{picture}=size={size}:rate=30")])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
            .args(["-t", &secs.to_string()])
            .args([
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            .args(["-g", "30", "-bf", "0", "-c:a", "aac", "-b:a", "64k"])
            .arg(dir.join(name))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let joined = dir.join("ab.flv");
    join_flv(&dir.join("a.flv"), &dir.join("b.flv"), &joined);
    joined
}

/// ffmpeg sending `file` as it is (`-c copy`), in real time.
pub fn ffmpeg_publish_file(srv: &Server, key: &str, file: &Path) -> Proc {
    let path = file.to_string_lossy();
    ffmpeg_publish_raw(srv, key, &["-i", &path, "-c", "copy"])
}

/// Downloads `playlist`'s window of `stream` into `dir`, ends the copy with
/// `#EXT-X-ENDLIST` (so ffmpeg reads it through and stops) and decodes it whole with the
/// ffmpeg CLI at log `level`; returns whether ffmpeg succeeded and what it printed.
pub async fn decode_window(
    srv: &Server,
    stream: &str,
    playlist: &str,
    dir: &Path,
    level: &str,
) -> (bool, String) {
    let path = download(srv, stream, playlist, dir).await;
    std::fs::write(&path, format!("{playlist}#EXT-X-ENDLIST\n")).unwrap();
    ffmpeg_decode(&path, level)
}

/// Decodes `path` whole with the ffmpeg CLI at log `level`; returns whether ffmpeg succeeded
/// and what it printed.
pub fn ffmpeg_decode(path: &Path, level: &str) -> (bool, String) {
    let out = Command::new("ffmpeg")
        .args(["-v", level, "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ends the downloaded playlist at `path` with `#EXT-X-ENDLIST` (so ffmpeg reads it through
/// and stops) and checks that ffmpeg decodes it whole without a single warning.
pub fn assert_window_decodes_cleanly(path: &Path) {
    let mut vod = std::fs::read_to_string(path).unwrap();
    vod.push_str("#EXT-X-ENDLIST\n");
    std::fs::write(path, vod).unwrap();
    let (ok, printed) = ffmpeg_decode(path, "warning");
    assert!(ok && printed.is_empty(), "{printed}");
}

/// Polls `stream`'s playlist until it lists a discontinuity with at least `after` segments
/// behind it; returns that playlist.
pub async fn wait_discontinuity(
    srv: &Server,
    stream: &str,
    after: usize,
    within: Duration,
) -> String {
    let what = format!("a discontinuity in {stream} with {after} segments after it");
    let wait = wait::within(within).every(Duration::from_millis(300));
    eventually(wait, what, async || {
        let p = wait_playlist(srv, stream, 1, within).await;
        let behind = p
            .split("#EXT-X-DISCONTINUITY\n")
            .nth(1)
            .map(segments_of)
            .unwrap_or_default();
        if behind.len() >= after { Ok(p) } else { Err(p) }
    })
    .await
}
