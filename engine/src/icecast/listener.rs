//! An Icecast listener: `GET /<mount>` streams the mount's audio (burst first, then live),
//! with ICY metadata blocks when asked for; `HEAD` answers the headers and does not count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::icy::{self, Interleaver, Piece};
use super::request::RequestHead;
use super::{mount_name, response};
use crate::Engine;
use crate::events::ListenerSession;
use crate::mount::{JoinError, Mount, StreamInfo};
use crate::registry::SessionRole;

/// A listener whose socket accepts nothing for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Listeners wait this long for a source to come back before they are let go.
const NO_SOURCE_GRACE: Duration = Duration::from_secs(10);

fn stream_headers(info: &StreamInfo, metaint: Option<usize>) -> Vec<u8> {
    let mut extra: Vec<(&str, String)> = Vec::new();
    if let Some(b) = info.bitrate_kbps {
        extra.push(("icy-br", b.to_string()));
    }
    for (k, v) in [
        ("icy-name", &info.name),
        ("icy-description", &info.description),
        ("icy-genre", &info.genre),
        ("icy-url", &info.url),
    ] {
        if let Some(v) = v {
            extra.push((k, v.clone()));
        }
    }
    extra.push(("icy-pub", if info.public { "1" } else { "0" }.to_owned()));
    if let Some(ai) = &info.audio_info {
        extra.push(("ice-audio-info", ai.clone()));
    }
    if let Some(m) = metaint {
        extra.push(("icy-metaint", m.to_string()));
    }
    response::head(200, "OK", &info.content_type, &extra)
}

pub async fn run(
    mut sock: TcpStream,
    remote: SocketAddr,
    head: RequestHead,
    engine: Engine,
    shutdown: CancellationToken,
) {
    let name = mount_name(&head.path);
    let Some(live) = engine.mounts().get(name) else {
        let _ = sock
            .write_all(&response::error(
                404,
                "Not Found",
                "no such mount, or it is not live",
            ))
            .await;
        return;
    };
    let wants_meta = head.header("icy-metadata").is_some_and(|v| v.trim() == "1");
    let metaint = wants_meta.then_some(icy::DEFAULT_METAINT);
    if head.method == "HEAD" {
        let answer = match live.info() {
            Some(info) => stream_headers(&info, metaint),
            None => response::error(404, "Not Found", "the mount has no source"),
        };
        let _ = sock.write_all(&answer).await;
        return;
    }
    let sub = match live.subscribe() {
        Ok(s) => s,
        Err(JoinError::NoSource) => {
            let _ = sock
                .write_all(&response::error(
                    404,
                    "Not Found",
                    "the mount has no source",
                ))
                .await;
            return;
        }
        Err(JoinError::Full(max)) => {
            tracing::info!(%remote, mount = %name, "listener refused: the mount is full ({max} listeners)");
            let msg = format!("this station is full ({max} listeners); try again later");
            let _ = sock
                .write_all(&response::error(503, "Service Unavailable", &msg))
                .await;
            return;
        }
    };
    let session = engine.registry().open_session(
        live.service_id(),
        name,
        SessionRole::Listener,
        remote,
        "listener",
    );
    let agent = head.header("user-agent").map(str::to_owned);
    tracing::debug!(%remote, mount = %name, agent = agent.as_deref().unwrap_or("-"), "listener connected");
    let started_at = std::time::SystemTime::now();
    let started = std::time::Instant::now();
    let sent = stream(&mut sock, &live, sub, metaint, &session, &shutdown).await;
    live.unsubscribe();
    engine.mounts().remove_if_idle(&live);
    engine.events().listener_ended(ListenerSession {
        service_id: live.service_id(),
        mount: name.to_owned(),
        ip: remote.ip(),
        user_agent: agent,
        started_at,
        duration: started.elapsed(),
        bytes: sent.bytes,
    });
    tracing::debug!(%remote, mount = %name, bytes = sent.bytes, skipped = sent.skipped, "listener left: {}", sent.why);
}

/// How a listener's stream ended.
struct Sent {
    bytes: u64,
    skipped: u64,
    why: &'static str,
}

async fn stream(
    sock: &mut TcpStream,
    live: &Arc<Mount>,
    sub: crate::mount::Subscription,
    metaint: Option<usize>,
    session: &crate::registry::SessionGuard,
    shutdown: &CancellationToken,
) -> Sent {
    let mut sent = Sent {
        bytes: 0,
        skipped: 0,
        why: "",
    };
    if write(sock, &stream_headers(&sub.info, metaint))
        .await
        .is_err()
    {
        sent.why = "closed before the stream started";
        return sent;
    }
    let mut il = metaint.map(Interleaver::new);
    let mut last_title_seq: Option<u64> = None;
    let mut pieces = Vec::new();
    let mut rx = sub.rx;
    let mut pending: std::collections::VecDeque<Bytes> = sub.burst.into();
    loop {
        let chunk = match pending.pop_front() {
            Some(c) => c,
            None => tokio::select! {
                () = session.cancelled() => { sent.why = "dropped by the control plane"; return sent; }
                () = shutdown.cancelled() => { sent.why = "server shutting down"; return sent; }
                r = tokio::time::timeout(NO_SOURCE_GRACE, rx.recv()) => match r {
                    Ok(Ok(c)) => c,
                    Ok(Err(RecvError::Lagged(n))) => {
                        // Too slow for the ring: skip to what is current, never hold others up.
                        sent.skipped += n;
                        continue;
                    }
                    Ok(Err(RecvError::Closed)) => { sent.why = "the mount closed"; return sent; }
                    Err(_) if !live.has_source() => { sent.why = "no source came back"; return sent; }
                    Err(_) => continue,
                },
            },
        };
        let len = chunk.len() as u64;
        let ok = match il.as_mut() {
            None => write(sock, &chunk).await.is_ok(),
            Some(il) => {
                pieces.clear();
                il.split(chunk, &mut pieces);
                let mut ok = true;
                for p in pieces.drain(..) {
                    let r = match p {
                        Piece::Audio(a) => write(sock, &a).await,
                        Piece::MetadataDue => {
                            let (title, seq) = live.title();
                            let block = if last_title_seq == Some(seq) {
                                icy::empty_block()
                            } else {
                                icy::block(&title)
                            };
                            last_title_seq = Some(seq);
                            write(sock, &block).await
                        }
                    };
                    if r.is_err() {
                        ok = false;
                        break;
                    }
                }
                ok
            }
        };
        if !ok {
            sent.why = "the listener went away or stopped reading";
            return sent;
        }
        sent.bytes += len;
    }
}

async fn write(sock: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, sock.write_all(data)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "listener stopped reading",
        )),
    }
}
