//! Helpers for media-library and AutoDJ tests: files made with ffmpeg, multipart uploads,
//! listeners that decode a mount to PCM, and tone detection in that PCM.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Server, StatusCode, Value};

/// Runs ffmpeg with `args` (quiet; panics with its message on failure).
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tagged stereo tone at `hz`: `head` s of silence, `secs` of tone at −18 dBFS, `tail` s of
/// silence; the codec follows the extension (mp3, flac, ogg, wav, m4a).
pub fn tone_file(
    dir: &Path,
    name: &str,
    hz: u32,
    secs: f64,
    (head, tail): (f64, f64),
    tags: (&str, &str, &str),
) -> PathBuf {
    let path = dir.join(name);
    let filter = format!(
        "sine=frequency={hz}:sample_rate=44100:duration={secs},adelay={ms}|{ms},apad=pad_dur={tail}",
        ms = (head * 1000.0) as u64
    );
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("mp3");
    let codec: &[&str] = match ext {
        "mp3" => &["-c:a", "libmp3lame", "-b:a", "128k"],
        "flac" => &["-c:a", "flac"],
        "ogg" => &["-c:a", "libvorbis", "-q:a", "3"],
        "m4a" => &["-c:a", "aac", "-b:a", "128k"],
        _ => &["-c:a", "pcm_s16le"],
    };
    let (title, artist, album) = (
        format!("title={}", tags.0),
        format!("artist={}", tags.1),
        format!("album={}", tags.2),
    );
    let mut args = vec!["-f", "lavfi", "-i", &filter, "-ac", "2"];
    args.extend_from_slice(codec);
    if !tags.0.is_empty() {
        args.extend_from_slice(&[
            "-metadata",
            &title,
            "-metadata",
            &artist,
            "-metadata",
            &album,
        ]);
    }
    let p = path.to_str().unwrap();
    args.push(p);
    ffmpeg(&args);
    path
}

/// A multipart/form-data body: `(part name, file name, bytes)` for each part.
pub fn multipart(parts: &[(&str, Option<&str>, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "tidecast-test-boundary-7f3a9c";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads files to a service's library.
pub async fn upload(
    srv: &Server,
    token: &str,
    service: i64,
    files: &[&Path],
) -> (StatusCode, Value) {
    upload_to(srv, token, service, "", files).await
}

/// Uploads files into a folder of a service's library.
pub async fn upload_to(
    srv: &Server,
    token: &str,
    service: i64,
    folder: &str,
    files: &[&Path],
) -> (StatusCode, Value) {
    let parts: Vec<(&str, Option<&str>, Vec<u8>)> = files
        .iter()
        .map(|p| {
            (
                "file",
                p.file_name().and_then(|n| n.to_str()),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    let (ct, body) = multipart(&parts);
    srv.raw(
        "POST",
        &format!(
            "/api/v1/services/{service}/media?folder={}",
            folder.replace(' ', "%20")
        ),
        Some(token),
        &[("content-type", ct.as_str())],
        body,
    )
    .await
}

/// Decodes `secs` of a mount (from now) to mono 44.1 kHz PCM; returns it and what ffmpeg
/// said on stderr (decode errors).
pub fn listen_pcm(icecast: &str, mount: &str, secs: u32) -> (Vec<i16>, String) {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(format!("http://{icecast}/{mount}"))
        .args([
            "-t",
            &secs.to_string(),
            "-ac",
            "1",
            "-ar",
            "44100",
            "-f",
            "s16le",
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut raw = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut raw).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    let pcm = raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (pcm, err)
}

/// The amplitude (0..1) of the `hz` component of `pcm` (Goertzel).
pub fn level(pcm: &[i16], hz: f64, rate: f64) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in pcm {
        let s = f64::from(v) / 32768.0 + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / pcm.len() as f64
}

/// Levels of each of `tones` in consecutive windows of `window` samples.
pub fn tone_map(pcm: &[i16], tones: &[f64], window: usize) -> Vec<Vec<f64>> {
    pcm.chunks(window)
        .filter(|w| w.len() == window)
        .map(|w| tones.iter().map(|hz| level(w, *hz, 44_100.0)).collect())
        .collect()
}

/// A file decoded the way [`listen_pcm`] decodes a mount (mono, 44.1 kHz).
pub fn decode_file(path: &Path) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-ac", "1", "-ar", "44100", "-f", "s16le", "-"])
        .output()
        .unwrap();
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// [`listen_pcm`] off the async runtime (it blocks for `secs`).
pub async fn listen(icecast: &str, mount: &str, secs: u32) -> (Vec<i16>, String) {
    let (icecast, mount) = (icecast.to_owned(), mount.to_owned());
    tokio::task::spawn_blocking(move || listen_pcm(&icecast, &mount, secs))
        .await
        .unwrap()
}

/// The ids of the items an upload answered with.
pub fn item_ids(up: &Value) -> Vec<Value> {
    up["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect()
}

/// Creates a playlist on a service; panics unless it is created.
pub async fn playlist(srv: &Server, token: &str, service: i64, body: Value) -> Value {
    let (status, p) = srv
        .post(
            &format!("/api/v1/services/{service}/playlists"),
            token,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p
}

/// `POST /api/v1/services/{service}/autodj/{verb}` (start, stop, skip).
pub async fn autodj(srv: &Server, token: &str, service: i64, verb: &str) -> (StatusCode, Value) {
    srv.post(
        &format!("/api/v1/services/{service}/autodj/{verb}"),
        token,
        serde_json::json!({}),
    )
    .await
}

/// A library item as its service's API shows it.
pub async fn item(srv: &Server, token: &str, service: i64, mid: i64) -> Value {
    let (status, item) = srv
        .get(&format!("/api/v1/services/{service}/media/{mid}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "media item {mid}: {item}");
    item
}
