//! Helpers for RTMP → HLS tests: video services, an ffmpeg publisher, fetching a live
//! playlist and its segments into a folder ffmpeg can read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::icecast::Proc;
use crate::{Server, StatusCode, Value, json};

/// Creates a video service; returns (id, slug, stream key).
pub async fn video(srv: &Server, name: &str, limits: Value) -> (i64, String, String) {
    let admin = srv.admin_token().await;
    let owner = srv
        .create_user(&admin, &format!("{name}-owner"), "customer", json!({}))
        .await;
    let (status, svc) = srv
        .post(
            "/api/v1/services",
            &admin,
            json!({"owner": owner, "name": name, "kind": "video", "limits": limits}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
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

/// ffmpeg publishing a 320x240 30 fps test picture with a 440 Hz tone, in real time.
pub fn ffmpeg_publish(srv: &Server, key: &str, p: Publish) -> Proc {
    let url = format!("rtmp://{}/live/{key}", srv.rtmp);
    let gop = (p.gop_secs * 30).to_string();
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", &p.seconds.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"])
        .args(["-bf", if p.bframes { "2" } else { "0" }])
        .args(["-b:v", "400k", "-c:a", "aac", "-b:a", "64k"])
        .args(["-f", "flv", url.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .expect("ffmpeg")
}

/// Polls until the stream's playlist lists at least `n` segments; returns it.
pub async fn wait_playlist(srv: &Server, slug: &str, n: usize, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (status, _, body) = srv.fetch(&format!("/hls/{slug}/index.m3u8"), &[]).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status == StatusCode::OK && segments_of(&text).len() >= n {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no playlist with {n} segments within {within:?}: {status} {text}\n{}",
            srv.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    for (uri, _) in segments_of(playlist) {
        let (status, h, body) = srv.fetch(&format!("/hls/{slug}/{uri}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "segment {uri}");
        assert_eq!(h["content-type"], "video/mp2t");
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
