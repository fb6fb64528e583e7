//! An Icecast listener: `GET /<mount>` streams the mount's audio (burst first, then live),
//! with ICY metadata blocks when asked for; `HEAD` answers the headers and does not count.
//!
//! A mount with a fallback keeps its listeners when its source goes: they hear the fallback
//! mount until a source returns, then move back (Icecast's fallback-mount with
//! fallback-override). The listener stays counted on the mount it asked for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::icy::{self, Interleaver, Piece};
use super::request::RequestHead;
use super::{mount_name, response};
use crate::Engine;
use crate::admission::{Decision, PlayRequest};
use crate::events::ListenerSession;
use crate::mount::{JoinError, Mount, StreamInfo};
use crate::registry::{SessionGuard, SessionRole};

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

/// The live mount a listener of `mount` should hear now: itself, else its live fallback.
fn audible(engine: &Engine, mount: &Mount) -> Option<Arc<Mount>> {
    if mount.has_source() {
        return engine.mounts().get(mount.name());
    }
    let fb = engine.mounts().get(&mount.fallback()?)?;
    fb.has_source().then_some(fb)
}

/// The mount a listener asked for. A mount without a source is prepared (without a source)
/// when admission says it has a live fallback, so its listeners can wait there.
async fn find_mount(
    engine: &Engine,
    name: &str,
    remote: SocketAddr,
    agent: Option<&str>,
) -> Option<Arc<Mount>> {
    if let Some(m) = engine.mounts().get(name) {
        return Some(m);
    }
    let req = PlayRequest {
        mount: name.to_owned(),
        remote,
        user_agent: agent.map(str::to_owned),
    };
    let Decision::Allow(grant) = engine.admission().admit_play(&req).await else {
        return None;
    };
    let fallback = grant.fallback?;
    engine.mounts().get(&fallback).filter(|f| f.has_source())?;
    let m = engine
        .mounts()
        .get_or_create(name, grant.service_id, grant.limits);
    m.set_fallback(Some(fallback));
    Some(m)
}

pub async fn run(
    mut sock: TcpStream,
    remote: SocketAddr,
    head: RequestHead,
    engine: Engine,
    shutdown: CancellationToken,
) {
    let name = mount_name(&head.path);
    let agent = head.header("user-agent").map(str::to_owned);
    let not_found = response::error(404, "Not Found", "no such mount, or it is not live");
    let Some(live) = find_mount(&engine, name, remote, agent.as_deref()).await else {
        let _ = sock.write_all(&not_found).await;
        return;
    };
    let wants_meta = head.header("icy-metadata").is_some_and(|v| v.trim() == "1");
    let metaint = wants_meta.then_some(icy::DEFAULT_METAINT);
    let Some(info) = audible(&engine, &live).and_then(|m| m.info()) else {
        let _ = sock.write_all(&not_found).await;
        engine.mounts().remove_if_idle(&live);
        return;
    };
    if head.method == "HEAD" {
        let _ = sock.write_all(&stream_headers(&info, metaint)).await;
        engine.mounts().remove_if_idle(&live);
        return;
    }
    let sub = match live.subscribe() {
        Ok(s) => s,
        Err(JoinError::NoSource) => {
            let _ = sock.write_all(&not_found).await;
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
    tracing::debug!(%remote, mount = %name, agent = agent.as_deref().unwrap_or("-"), "listener connected");
    let started_at = std::time::SystemTime::now();
    let started = std::time::Instant::now();
    let mut listener = Listener {
        engine: &engine,
        primary: &live,
        metaint,
        session: &session,
        shutdown: &shutdown,
    };
    let sent = listener.stream(&mut sock, sub.burst, sub.rx, info).await;
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

struct Listener<'a> {
    engine: &'a Engine,
    primary: &'a Arc<Mount>,
    metaint: Option<usize>,
    session: &'a SessionGuard,
    shutdown: &'a CancellationToken,
}

impl Listener<'_> {
    async fn stream(
        &mut self,
        sock: &mut TcpStream,
        burst: Vec<Bytes>,
        rx: broadcast::Receiver<Bytes>,
        info: StreamInfo,
    ) -> Sent {
        let mut sent = Sent {
            bytes: 0,
            skipped: 0,
            why: "",
        };
        if write(sock, &stream_headers(&info, self.metaint))
            .await
            .is_err()
        {
            sent.why = "closed before the stream started";
            return sent;
        }
        let mut il = self.metaint.map(Interleaver::new);
        let mut last_title_seq: Option<u64> = None;
        let mut pieces = Vec::new();
        let mut pending: std::collections::VecDeque<Bytes> = burst.into();
        // What is being heard: the primary mount, or (while it has no source) its fallback.
        let mut hearing: Arc<Mount> = Arc::clone(self.primary);
        let mut rx = rx;
        if !self.primary.has_source()
            && let Some(fb) = audible(self.engine, self.primary)
        {
            rx = fb.follow();
            hearing = fb;
        }
        let mut on_air = self.primary.on_air_watch();
        loop {
            let chunk = match pending.pop_front() {
                Some(c) => c,
                None => tokio::select! {
                    () = self.session.cancelled() => { sent.why = "dropped by the control plane"; return sent; }
                    () = self.shutdown.cancelled() => { sent.why = "server shutting down"; return sent; }
                    // The primary gained or lost its source: move to whatever is audible now.
                    Ok(()) = on_air.changed() => {
                        if let Some(next) = audible(self.engine, self.primary)
                            && !Arc::ptr_eq(&next, &hearing) {
                                tracing::debug!(from = hearing.name(), to = next.name(), "listener moves");
                                rx = next.follow();
                                hearing = next;
                                last_title_seq = None;
                            }
                        continue;
                    }
                    r = tokio::time::timeout(NO_SOURCE_GRACE, rx.recv()) => match r {
                        Ok(Ok(c)) => c,
                        Ok(Err(RecvError::Lagged(n))) => {
                            // Too slow for the ring: skip to what is current, never hold others up.
                            sent.skipped += n;
                            continue;
                        }
                        Ok(Err(RecvError::Closed)) => { sent.why = "the mount closed"; return sent; }
                        Err(_) if !hearing.has_source() => match audible(self.engine, self.primary) {
                            Some(next) => { rx = next.follow(); hearing = next;
                                last_title_seq = None; continue; }
                            None => { sent.why = "no source came back"; return sent; }
                        },
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
                                let (title, seq) = hearing.title();
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
