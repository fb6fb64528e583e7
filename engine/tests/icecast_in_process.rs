//! An Icecast source and its listeners against the engine in this process: the source's
//! MP3 frames reach a listener whole and in order (the burst first, then live), with ICY
//! metadata blocks when asked; wrong credentials are refused; the sessions and titles are
//! reported to the control plane's [`Events`](tidecast_engine::events::Events).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::media::{mp3_frame, mp3_index};
use common::{LABEL, MOUNT, Running, SERVICE, SOURCE_PASSWORD, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Sends a request head and returns the connection and the status line of the answer.
async fn request(addr: std::net::SocketAddr, head: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if s.read(&mut b).await.unwrap() == 0 {
            break;
        }
        line.push(b[0]);
    }
    (s, String::from_utf8_lossy(&line).trim_end().to_owned())
}

async fn source(addr: std::net::SocketAddr, password: &str) -> (TcpStream, String) {
    let head = format!(
        "PUT /{MOUNT} HTTP/1.1\r\nHost: test\r\nAuthorization: Basic {}\r\n\
         Content-Type: audio/mpeg\r\nIce-Name: Test FM\r\n\r\n",
        basic("source", password)
    );
    request(addr, &head).await
}

/// MP3 frames `from..to`, back to back.
fn frames(from: u32, to: u32) -> Vec<u8> {
    (from..to).flat_map(mp3_frame).collect()
}

/// A listener reading in the background until the engine closes its connection.
#[derive(Debug)]
struct Listener {
    received: Arc<Mutex<Vec<u8>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn join(addr: std::net::SocketAddr, agent: &str, icy: bool) -> Self {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let meta = if icy { "Icy-MetaData: 1\r\n" } else { "" };
        let head =
            format!("GET /{MOUNT} HTTP/1.1\r\nHost: test\r\nUser-Agent: {agent}\r\n{meta}\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let buf = Arc::clone(&received);
        let reader = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = s.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Self { received, reader }
    }

    /// Waits until the engine closed the connection and everything sent was read.
    async fn closed(&mut self) {
        tokio::time::timeout(WAIT, &mut self.reader)
            .await
            .expect("the engine closes the listener's connection")
            .unwrap();
    }

    fn bytes(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// The response head, and the body split into audio and ICY metadata blocks (every
    /// `icy-metaint` audio bytes when the head names one).
    fn parse(&self) -> Option<(String, Vec<u8>, Vec<String>)> {
        let data = self.bytes();
        let end = data.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let metaint: Option<usize> = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("icy-metaint:")
                .map(|v| v.trim().parse().unwrap())
        });
        let body = &data[end..];
        let Some(metaint) = metaint else {
            return Some((head, body.to_vec(), Vec::new()));
        };
        let (mut audio, mut blocks, mut at) = (Vec::new(), Vec::new(), 0);
        while at < body.len() {
            let take = metaint.min(body.len() - at);
            audio.extend_from_slice(&body[at..at + take]);
            at += take;
            let Some(&len) = body.get(at) else { break };
            let block_end = at + 1 + 16 * usize::from(len);
            if block_end > body.len() {
                break; // the rest of the block is still on its way
            }
            if len > 0 {
                let text = String::from_utf8_lossy(&body[at + 1..block_end]);
                blocks.push(text.trim_end_matches('\0').to_owned());
            }
            at = block_end;
        }
        Some((head, audio, blocks))
    }

    /// The indexes of the whole MP3 frames received, in order; panics on bytes that are not
    /// whole frames (a listener must never get half a frame).
    fn frames(&self) -> Vec<u32> {
        let Some((_, audio, _)) = self.parse() else {
            return Vec::new();
        };
        let whole = audio.len() / 96 * 96;
        audio[..whole]
            .chunks(96)
            .map(|f| mp3_index(f).expect("a whole MP3 frame"))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_reaches_its_listeners_with_burst_and_titles() {
    let srv = Running::start().await;

    // Wrong credentials, and a mount that does not exist: refused, nothing goes on air.
    let (_, status) = source(srv.icecast, "guess").await;
    assert_eq!(status, "HTTP/1.0 401 Unauthorized");
    let (_, status) = request(
        srv.icecast,
        &format!(
            "PUT /elsewhere HTTP/1.1\r\nAuthorization: Basic {}\r\nContent-Type: audio/mpeg\r\n\r\n",
            basic("source", SOURCE_PASSWORD)
        ),
    )
    .await;
    assert_eq!(status, "HTTP/1.0 404 Not Found");
    assert!(
        srv.events.on_air(MOUNT).is_empty(),
        "{:?}",
        srv.events.all()
    );

    let (mut src, status) = source(srv.icecast, SOURCE_PASSWORD).await;
    assert_eq!(status, "HTTP/1.0 200 OK");
    // The blank line that ends the answer.
    let mut blank = [0u8; 2];
    src.read_exact(&mut blank).await.unwrap();
    src.write_all(&frames(0, 100)).await.unwrap();

    // A first listener gets all 100 frames, from the first: the source's bytes are
    // published in whole frames, and nothing is lost whether it joined before or after.
    let mut first = Listener::join(srv.icecast, "first", false).await;
    let got = eventually("the first listener has 100 frames", WAIT, || async {
        let f = first.frames();
        (f.len() >= 100).then_some(f)
    })
    .await;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    let (head, _, _) = first.parse().unwrap();
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Type: audio/mpeg\r\n"), "{head}");
    assert!(head.contains("icy-name: Test FM\r\n"), "{head}");
    assert!(!head.contains("icy-metaint"), "{head}");

    // Those frames are now in the mount's burst: a second listener gets them at once,
    // while the source sends nothing.
    let mut second = Listener::join(srv.icecast, "second", true).await;
    let burst = eventually("the burst reaches the second listener", WAIT, || async {
        let f = second.frames();
        (f.len() >= 100).then_some(f)
    })
    .await;
    assert_eq!(burst, (0..100).collect::<Vec<_>>());
    assert_eq!(srv.engine.registry().listeners_on(SERVICE, MOUNT), 2);
    assert_eq!(srv.engine.open_sessions().len(), 2);

    // A title, as an encoder sets it beside its stream.
    let (_, status) = request(
        srv.icecast,
        &format!(
            "GET /admin/metadata?mount=/{MOUNT}&mode=updinfo&song=Artist%20-%20Song HTTP/1.0\r\n\
             Authorization: Basic {}\r\n\r\n",
            basic("source", SOURCE_PASSWORD)
        ),
    )
    .await;
    assert_eq!(status, "HTTP/1.0 200 OK");
    // Live frames after it: more than one metadata interval (16000 bytes) of them.
    src.write_all(&frames(100, 500)).await.unwrap();
    let (audio_frames, blocks) = eventually("500 frames and a title block", WAIT, || async {
        let f = second.frames();
        let (_, _, blocks) = second.parse()?;
        (f.len() >= 500 && !blocks.is_empty()).then_some((f, blocks))
    })
    .await;
    assert_eq!(audio_frames, (0..500).collect::<Vec<_>>());
    assert_eq!(blocks, ["StreamTitle='Artist - Song';"]);
    let (head, _, _) = second.parse().unwrap();
    assert!(head.contains("icy-metaint: 16000\r\n"), "{head}");
    assert_eq!(
        srv.events.titles(MOUNT),
        [("Artist - Song".to_owned(), 2)],
        "{:?}",
        srv.events.all()
    );

    // The source leaves: off air. The listeners stay until the server stops; each session
    // is reported with the audio bytes it was sent.
    drop(src);
    eventually("the source is off air", WAIT, || async {
        (srv.events.on_air(MOUNT) == [Some(LABEL.to_owned()), None]).then_some(())
    })
    .await;
    let events = srv.stop().await;
    first.closed().await;
    second.closed().await;
    let sessions = events.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for s in &sessions {
        let agent = s.user_agent.as_deref().unwrap_or_default();
        let listener = match agent {
            "first" => &first,
            "second" => &second,
            other => panic!("a session of an unknown listener {other:?}"),
        };
        assert_eq!(
            (s.service_id, s.mount.as_str(), s.ip.is_loopback()),
            (SERVICE, MOUNT, true)
        );
        let (_, audio, _) = listener.parse().unwrap();
        assert_eq!(s.bytes, audio.len() as u64, "{agent}");
    }
}
