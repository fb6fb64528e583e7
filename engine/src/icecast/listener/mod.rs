//! An Icecast listener: `GET /<mount>` streams the mount's audio (burst first, then live),
//! with ICY metadata blocks when asked for; `HEAD` answers the headers and does not count.
//!
//! A mount with a fallback keeps its listeners when its source goes: they hear the fallback
//! mount until a source returns, then move back (Icecast's fallback-mount with
//! fallback-override). The listener stays counted on the mount it asked for.
//!
//! A listener starts on its own task ([`stream`]) for its burst; once it keeps up with its
//! mount it is handed to the mount's writer ([`fanout`]), and back when it falls behind.

mod conn;
pub(crate) mod fanout;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::icy::{self, Interleaver};
use super::request::RequestHead;
use super::{Context, mount_name, response};
use crate::admission::{Decision, PlayRequest};
use crate::conn_cap::ConnPermit;
use crate::mount::{JoinError, Mount, StreamInfo};
use crate::registry::SessionRole;
use conn::{Conn, Ctx, Icy};

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
fn audible(ctx: &Context, mount: &Mount) -> Option<Arc<Mount>> {
    if mount.has_source() {
        return ctx.mounts().get(mount.name());
    }
    let fb = ctx.mounts().get(&mount.fallback()?)?;
    fb.has_source().then_some(fb)
}

/// The mount a listener asked for. A mount without a source is prepared (without a source)
/// when admission says it has a live fallback, so its listeners can wait there.
async fn find_mount(
    ctx: &Context,
    name: &str,
    remote: SocketAddr,
    agent: Option<&str>,
) -> Option<Arc<Mount>> {
    if let Some(m) = ctx.mounts().get(name) {
        return Some(m);
    }
    let req = PlayRequest {
        mount: name.to_owned(),
        remote,
        user_agent: agent.map(str::to_owned),
    };
    let Decision::Allow(grant) = ctx.admission.admit_play(&req).await else {
        return None;
    };
    let fallback = grant.fallback?;
    ctx.mounts().get(&fallback).filter(|f| f.has_source())?;
    let m = ctx
        .mounts()
        .get_or_create(name, grant.service_id, grant.limits);
    m.set_fallback(Some(fallback));
    Some(m)
}

pub async fn run(
    mut sock: TcpStream,
    remote: SocketAddr,
    slot: ConnPermit,
    head: RequestHead,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    // Keep only what is needed from the request: this listener may live for hours, and
    // there may be ten thousand of them.
    let name_owned = mount_name(&head.path).to_owned();
    let name = name_owned.as_str();
    let agent = head.header("user-agent").map(str::to_owned);
    let wants_meta = head.header("icy-metadata").is_some_and(|v| v.trim() == "1");
    let is_head = head.method == "HEAD";
    drop(head);
    let not_found = || response::error(404, "Not Found", "no such mount, or it is not live");
    // An on-demand relay starts on the first listener, who waits a moment for it.
    if ctx.demand.touch(name) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while ctx
            .mounts()
            .get(name)
            .is_none_or(|m| m.status().on_air.is_none())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // A mount forgotten while we joined it is looked up again (once is enough in practice).
    let mut tries = 0;
    let (live, sub, info, metaint) = loop {
        tries += 1;
        let Some(live) = Box::pin(find_mount(&ctx, name, remote, agent.as_deref())).await else {
            let _ = sock.write_all(&not_found()).await;
            return;
        };
        let Some(info) = audible(&ctx, &live).and_then(|m| m.info()) else {
            let _ = sock.write_all(&not_found()).await;
            ctx.mounts().remove_if_idle(&live);
            return;
        };
        // Ogg and WebM carry their titles in-band; like Icecast, no ICY blocks in them.
        let metaint = (wants_meta && !super::source::has_inband_metadata(&info.content_type))
            .then_some(icy::DEFAULT_METAINT);
        if is_head {
            let _ = sock.write_all(&stream_headers(&info, metaint)).await;
            ctx.mounts().remove_if_idle(&live);
            return;
        }
        match live.subscribe() {
            Ok(sub) => break (live, sub, info, metaint),
            Err(JoinError::Closed) if tries < 3 => continue,
            Err(JoinError::NoSource | JoinError::Closed) => {
                let _ = sock.write_all(&not_found()).await;
                ctx.mounts().remove_if_idle(&live);
                return;
            }
            Err(JoinError::Full(max)) => {
                tracing::info!(%remote, mount = %name, "listener refused: the mount is full ({max} listeners)");
                ctx.events().mount_event(crate::events::MountEvent::Full {
                    service_id: live.service_id(),
                    mount: name.to_owned(),
                    limit: max,
                    at: std::time::SystemTime::now(),
                });
                let msg = format!("this station is full ({max} listeners); try again later");
                let _ = sock
                    .write_all(&response::error(503, "Service Unavailable", &msg))
                    .await;
                ctx.mounts().remove_if_idle(&live);
                return;
            }
        }
    };
    let session = ctx.registry().open_session(
        live.service_id(),
        name,
        SessionRole::Listener,
        remote,
        "listener",
    );
    tracing::debug!(%remote, mount = %name, agent = agent.as_deref().unwrap_or("-"), "listener connected");
    let mut conn = Conn {
        sock,
        rx: sub.rx,
        icy: metaint.map(|m| Icy {
            il: Interleaver::new(m),
            last_title_seq: None,
        }),
        bytes: 0,
        skipped: 0,
        ctx: Box::new(Ctx {
            sent: ctx.traffic.counter(live.service_id()),
            port: ctx,
            shutdown,
            tasks,
            primary: live,
            session,
            remote,
            _slot: slot,
            agent,
            started_at: SystemTime::now(),
            started: Instant::now(),
        }),
    };
    // The burst goes out like live audio: cut at metadata points, counted as sent.
    let mut framed = vec![Bytes::from(stream_headers(&info, metaint))];
    let primary = Arc::clone(&conn.ctx.primary);
    for chunk in sub.burst {
        conn.sent(chunk.len() as u64);
        conn.frame(chunk, || primary.title(), &mut framed);
    }
    stream::run(conn, framed.into()).await;
}
