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
    // Keep only what is needed from the request: this task may live for hours, and there
    // may be ten thousand of them.
    let name_owned = mount_name(&head.path).to_owned();
    let name = name_owned.as_str();
    let agent = head.header("user-agent").map(str::to_owned);
    let wants_meta = head.header("icy-metadata").is_some_and(|v| v.trim() == "1");
    let is_head = head.method == "HEAD";
    drop(head);
    let not_found = || response::error(404, "Not Found", "no such mount, or it is not live");
    let Some(live) = Box::pin(find_mount(&engine, name, remote, agent.as_deref())).await else {
        let _ = sock.write_all(&not_found()).await;
        return;
    };
    let Some(info) = audible(&engine, &live).and_then(|m| m.info()) else {
        let _ = sock.write_all(&not_found()).await;
        engine.mounts().remove_if_idle(&live);
        return;
    };
    // Ogg carries its titles in-band (comment headers); like Icecast, no ICY blocks in it.
    let metaint =
        (wants_meta && !super::source::is_ogg(&info.content_type)).then_some(icy::DEFAULT_METAINT);
    if is_head {
        let _ = sock.write_all(&stream_headers(&info, metaint)).await;
        engine.mounts().remove_if_idle(&live);
        return;
    }
    let sub = match live.subscribe() {
        Ok(s) => s,
        Err(JoinError::NoSource) => {
            let _ = sock.write_all(&not_found()).await;
            engine.mounts().remove_if_idle(&live);
            return;
        }
        Err(JoinError::Full(max)) => {
            tracing::info!(%remote, mount = %name, "listener refused: the mount is full ({max} listeners)");
            let msg = format!("this station is full ({max} listeners); try again later");
            let _ = sock
                .write_all(&response::error(503, "Service Unavailable", &msg))
                .await;
            engine.mounts().remove_if_idle(&live);
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
        // The source may have changed while this listener was joining; look once at the
        // start, so a source that left in that moment still starts the grace timer.
        on_air.mark_changed();
        let mut hearing_air = hearing.on_air_watch();
        // Armed only while nothing is audible: no timer per chunk on the hot path.
        let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let chunk = match pending.pop_front() {
                Some(c) => c,
                None => tokio::select! {
                    () = self.session.cancelled() => { sent.why = "dropped by the control plane"; return sent; }
                    () = self.shutdown.cancelled() => { sent.why = "server shutting down"; return sent; }
                    // The source changed on the mount asked for, or on the one being heard:
                    // move to whatever is audible now (fallback-override), or start waiting.
                    Ok(()) = on_air.changed() => {
                        self.reconsider(&mut hearing, &mut rx, &mut hearing_air, &mut last_title_seq, &mut grace);
                        continue;
                    }
                    Ok(()) = hearing_air.changed() => {
                        self.reconsider(&mut hearing, &mut rx, &mut hearing_air, &mut last_title_seq, &mut grace);
                        continue;
                    }
                    () = async { match grace.as_mut() { Some(g) => g.await, None => std::future::pending().await } } => {
                        sent.why = "no source came back";
                        return sent;
                    }
                    r = rx.recv() => match r {
                        Ok(c) => c,
                        Err(RecvError::Lagged(n)) => {
                            // Too slow for the ring: skip to what is current, never hold others up.
                            sent.skipped += n;
                            continue;
                        }
                        Err(RecvError::Closed) => { sent.why = "the mount closed"; return sent; }
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

impl Listener<'_> {
    /// After a source change: hear what is audible now, or wait (for at most the grace
    /// period) when nothing is.
    fn reconsider(
        &self,
        hearing: &mut Arc<Mount>,
        rx: &mut broadcast::Receiver<Bytes>,
        hearing_air: &mut tokio::sync::watch::Receiver<u64>,
        last_title_seq: &mut Option<u64>,
        grace: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    ) {
        match audible(self.engine, self.primary) {
            Some(next) => {
                *grace = None;
                if !Arc::ptr_eq(&next, hearing) {
                    tracing::debug!(from = hearing.name(), to = next.name(), "listener moves");
                    *rx = next.follow();
                    *hearing_air = next.on_air_watch();
                    *hearing = next;
                    *last_title_seq = None;
                }
            }
            None => {
                if grace.is_none() {
                    *grace = Some(Box::pin(tokio::time::sleep(NO_SOURCE_GRACE)));
                }
            }
        }
    }
}

async fn write(sock: &mut TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    // Fast path: the socket buffer has room, as it does for a listener that keeps up. No
    // timer, no wakeup: this runs for every chunk of every listener.
    loop {
        match sock.try_write(data) {
            Ok(n) if n == data.len() => return Ok(()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    // Slow path, boxed so its timer does not sit in every listener's task.
    match Box::pin(tokio::time::timeout(WRITE_TIMEOUT, sock.write_all(data))).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "listener stopped reading",
        )),
    }
}
