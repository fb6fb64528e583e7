//! Helpers for tests on the Icecast port: ffmpeg sources, raw-socket listeners, status.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Server, Value, eventually_blocking, secs, within};

/// Every `StreamTitle` an ICY listener has seen so far in `data` (the response, its head
/// included; metadata every `metaint` bytes after it), in order, a repeat of the one before
/// left out.
pub fn stream_titles(data: &[u8], metaint: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut i = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4);
    loop {
        i += metaint;
        let Some(&len) = data.get(i) else { break };
        let end = i + 1 + usize::from(len) * 16;
        if end > data.len() {
            break;
        }
        let text = String::from_utf8_lossy(&data[i + 1..end])
            .trim_end_matches('\0')
            .to_owned();
        if let Some(t) = text
            .strip_prefix("StreamTitle='")
            .and_then(|t| t.split("';").next())
            && out.last().map(String::as_str) != Some(t)
        {
            out.push(t.to_owned());
        }
        i = end;
    }
    out
}

/// A radio service and its source password.
pub async fn radio(srv: &Server, name: &str, limits: Value) -> (i64, String, String) {
    let svc = crate::new_service(srv, name, "radio", limits).await;
    let pw = svc["publish"]["icecast"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    (
        svc["id"].as_i64().unwrap(),
        svc["slug"].as_str().unwrap().to_owned(),
        pw,
    )
}

/// A child process that is killed and reaped when the test ends, even when it fails.
#[derive(Debug)]
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ffmpeg sending a sine tone as 128 kbps MP3 (or ADTS AAC) to `mount`, in real time.
pub fn ffmpeg_source(
    srv: &Server,
    mount: &str,
    user: &str,
    password: &str,
    aac: bool,
    seconds: u32,
) -> Proc {
    ffmpeg_tone(srv, mount, user, password, aac, seconds, "Test FM", 440)
}

/// Like [`ffmpeg_source`], with the stream's `ice-name` and the tone's frequency chosen (so
/// a listener can tell sources apart).
#[allow(clippy::too_many_arguments)]
pub fn ffmpeg_tone(
    srv: &Server,
    mount: &str,
    user: &str,
    password: &str,
    aac: bool,
    seconds: u32,
    name: &str,
    hz: u32,
) -> Proc {
    let url = format!("icecast://{user}:{password}@{}/{mount}", srv.icecast);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi"])
        .arg("-i")
        .arg(format!("sine=frequency={hz}:sample_rate=44100"))
        .args(["-t", &seconds.to_string()]);
    if aac {
        cmd.args([
            "-c:a",
            "aac",
            "-b:a",
            "96k",
            "-content_type",
            "audio/aac",
            "-f",
            "adts",
        ]);
    } else {
        cmd.args([
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-content_type",
            "audio/mpeg",
            "-f",
            "mp3",
        ]);
    }
    cmd.args(["-ice_name", name, "-ice_genre", "Jazz", url.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .expect("ffmpeg is installed (scripts/test.sh installs it)")
}

/// Waits until `/status-json.xsl` lists `mount` with a source.
pub fn wait_live(srv: &Server, mount: &str) {
    let wait = within(secs(10)).every(Duration::from_millis(100)).logs(srv);
    eventually_blocking(wait, format!("{mount} to go live"), || {
        let (head, body) = raw_get(
            srv,
            "/status-json.xsl",
            &[],
            64 * 1024,
            Duration::from_secs(2),
        );
        if head.contains("200 OK") && body_str(&body).contains(&format!("/{mount}\"")) {
            Ok(())
        } else {
            Err(head)
        }
    });
}

pub fn body_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A raw request on the Icecast port; returns the response head and up to `max` body bytes
/// read within `time`.
pub fn raw_get(
    srv: &Server,
    path: &str,
    headers: &[&str],
    max: usize,
    time: Duration,
) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(&srv.icecast).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", srv.icecast);
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    read_response(&mut s, max, time)
}

pub fn read_response(s: &mut TcpStream, max: usize, time: Duration) -> (String, Vec<u8>) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + time;
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    while Instant::now() < deadline && data.len() < max + 4096 {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if data.windows(4).any(|w| w == b"\r\n\r\n") && data.len() > max {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let split = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4);
    let body = data.split_off(split);
    (String::from_utf8_lossy(&data).into_owned(), body)
}

/// `mount`'s entry in `/status-json.xsl`, if it is listed there.
pub fn status_of(srv: &Server, mount: &str) -> Option<Value> {
    let (_, body) = raw_get(
        srv,
        "/status-json.xsl",
        &[],
        64 * 1024,
        Duration::from_secs(2),
    );
    let v: Value = serde_json::from_slice(&body).ok()?;
    v["icestats"]["source"]
        .as_array()?
        .iter()
        .find(|s| {
            s["listenurl"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("/{mount}"))
        })
        .cloned()
}

/// How many listeners status-json.xsl reports for `mount` (-1: not listed).
pub fn listeners_of(srv: &Server, mount: &str) -> i64 {
    status_of(srv, mount).map_or(-1, |s| s["listeners"].as_i64().unwrap_or(-1))
}

/// Base64 for Basic credentials (test-side, independent of the server's decoder).
pub fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char)
            } else {
                out.push('=')
            }
        }
    }
    out
}

/// ffmpeg sending a sine tone in Ogg (`libopus` or `libvorbis`) to `mount`, in real time.
pub fn ffmpeg_ogg(srv: &Server, mount: &str, password: &str, codec: &str, seconds: u32) -> Proc {
    ffmpeg_container(srv, mount, password, codec, "ogg", seconds)
}

/// ffmpeg sending a 440 Hz tone encoded with `codec` in `format` (`ogg` or `webm`).
pub fn ffmpeg_container(
    srv: &Server,
    mount: &str,
    password: &str,
    codec: &str,
    format: &str,
    seconds: u32,
) -> Proc {
    let content_type = format!("audio/{format}");
    let url = format!("icecast://source:{password}@{}/{mount}", srv.icecast);
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ])
        .args([
            "-t",
            &seconds.to_string(),
            "-c:a",
            codec,
            "-b:a",
            "96k",
            "-content_type",
            &content_type,
            "-f",
            format,
        ])
        .args(["-ice_name", "Ogg FM", url.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map(Proc)
        .expect("ffmpeg is installed (scripts/test.sh installs it)")
}

/// Sets the title on `mount` the way a source's software does (`/admin/metadata` with the
/// source's login), percent-encoding everything but letters and digits.
pub fn set_title(srv: &Server, mount: &str, pw: &str, title: &str) {
    let (_, reply) = metadata_update(srv, mount, "source", pw, title);
    assert!(
        body_str(&reply).contains("<return>1</return>"),
        "{}",
        body_str(&reply)
    );
}

/// `GET /admin/metadata?mount=/<mount>&mode=updinfo&song=<title>` with Basic
/// `user:password`: the response head and body.
pub fn metadata_update(
    srv: &Server,
    mount: &str,
    user: &str,
    password: &str,
    title: &str,
) -> (String, Vec<u8>) {
    let q: String = title
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    raw_get(
        srv,
        &format!("/admin/metadata?mount=/{mount}&mode=updinfo&song={q}"),
        &[&format!(
            "Authorization: Basic {}",
            b64(&format!("{user}:{password}"))
        )],
        1,
        Duration::from_secs(5),
    )
}
