//! An Icecast source connection: `PUT /<mount>` (Icecast 2.4+) or `SOURCE /<mount>` (older
//! clients) with HTTP Basic credentials, then the stream itself until the source leaves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::ogg::{HeaderTracker, PageKind, PageReader};
use super::request::RequestHead;
use super::webm::{ClusterReader, Unit};
use super::{Context, mount_name, response};
use crate::admission::{Decision, DenyReason, PublishRequest};
use crate::events::{Events, MountEvent};
use crate::live_sets::LiveSets;
use crate::media::mpa::{Cutter, Kind};
use crate::mount::{AttachError, Mounts, StreamInfo};
use crate::registry::{MountRegistry, SessionRole};

/// Content types a source may send (Icecast's list of what players can take). Raw FLAC
/// is not here (nor in Icecast): players take FLAC in Ogg, which is.
pub(crate) const ACCEPTED_TYPES: &[&str] = &[
    "audio/mpeg",
    "audio/mp3",
    "audio/aac",
    "audio/aacp",
    "audio/ogg",
    "application/ogg",
    "audio/opus",
    "audio/webm",
    "video/webm",
];

/// A source that sends nothing for this long is dropped (Icecast's `source-timeout`).
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);
/// Chunks are published when this much is buffered (half a second at 128 kbps: every chunk
/// costs each listener a wakeup and a write, so fewer, larger chunks is what lets one core
/// serve thousands)...
const CHUNK_BYTES: usize = 8192;
/// ...or when the oldest buffered byte is this old, so low bitrates stay timely.
const CHUNK_AGE: Duration = Duration::from_millis(500);
/// The window over which a source's bitrate is measured against its plan.
const BITRATE_WINDOW: Duration = Duration::from_secs(10);

/// What a source on a mount uses of the engine, whether it was pushed (`PUT`) or a radio
/// relay pulled it: the mounts, the session registry, events, and what runs beside a
/// station's source (its HLS ladder, the dead-air watch, live-set recording).
#[derive(Clone)]
pub struct Sources {
    pub(crate) mounts: Arc<Mounts>,
    pub(crate) registry: Arc<MountRegistry>,
    pub(crate) events: Arc<dyn Events>,
    pub(crate) station_hls: crate::radio_hls::Context,
    pub(crate) live_sets: Option<LiveSets>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

pub async fn run(
    mut sock: TcpStream,
    remote: SocketAddr,
    head: RequestHead,
    buf: BytesMut,
    ctx: &Context,
    shutdown: CancellationToken,
) {
    let mount = mount_name(&head.path).to_owned();
    let content_type = head
        .header("content-type")
        .unwrap_or("audio/mpeg")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !ACCEPTED_TYPES.contains(&content_type.as_str()) {
        tracing::warn!(%remote, %mount, "source refused: unsupported content type {content_type:?}");
        let _ = sock
            .write_all(&response::error(
                415,
                "Unsupported Media Type",
                "unsupported content type: send MP3 (audio/mpeg), AAC (audio/aac), Ogg Vorbis/Opus/FLAC (audio/ogg) or WebM (audio/webm)",
            ))
            .await;
        return;
    }
    if head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        tracing::warn!(%remote, %mount, "source refused: chunked transfer encoding is not supported");
        let _ = sock
            .write_all(&response::error(
                501,
                "Not Implemented",
                "chunked sources are not supported",
            ))
            .await;
        return;
    }
    let Some((username, password)) = head.basic_auth() else {
        tracing::warn!(%remote, %mount, "source refused: no credentials");
        let _ = sock.write_all(&response::basic_challenge()).await;
        return;
    };
    if let Some(wait) = ctx.logins.refused_for(remote.ip()) {
        tracing::warn!(%remote, %mount, "source refused: too many wrong passwords from this address");
        let msg = format!(
            "too many failed logins from your address; try again in {} s",
            wait.as_secs().max(1)
        );
        let _ = sock
            .write_all(&response::error(429, "Too Many Requests", &msg))
            .await;
        return;
    }
    let req = PublishRequest::Icecast {
        mount: mount.clone(),
        username: username.clone(),
        password,
        remote,
    };
    let grant = match ctx.admission.admit_publish(&req).await {
        Decision::Allow(g) => g,
        Decision::Deny(d) => {
            if d.reason == DenyReason::BadCredentials {
                ctx.logins.failed(remote.ip());
            }
            let (status, reason) = match d.reason {
                DenyReason::NotFound => (404, "Not Found"),
                DenyReason::BadCredentials => (401, "Unauthorized"),
                DenyReason::Suspended | DenyReason::LimitReached | DenyReason::OutsideSchedule => {
                    (403, "Forbidden")
                }
                DenyReason::Unavailable => (503, "Service Unavailable"),
            };
            tracing::warn!(%remote, %mount, user = %username, "source refused: {}", d.message);
            let _ = sock
                .write_all(&response::error(status, reason, &d.message))
                .await;
            return;
        }
    };
    let info = stream_info(&head, &content_type);
    // Icecast answers `Expect: 100-continue` (ffmpeg sends it) with the interim response;
    // other clients get the final 200 and start sending.
    let expects_continue = head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let answer: &[u8] = if expects_continue {
        b"HTTP/1.1 100 Continue\r\n\r\n"
    } else {
        b"HTTP/1.0 200 OK\r\n\r\n"
    };
    if let Err(why) = serve(
        &mut sock,
        remote,
        &grant,
        info,
        answer,
        buf,
        &ctx.sources,
        &shutdown,
    )
    .await
    {
        let _ = sock.write_all(&why).await;
    }
}

/// A granted source goes on its mount and is read until it ends: `answer` is written once
/// it is on (a relay, which pulls, has none). `Err` is the refusal to send back.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    sock: &mut S,
    remote: SocketAddr,
    grant: &crate::admission::Grant,
    info: StreamInfo,
    answer: &[u8],
    mut buf: BytesMut,
    ctx: &Sources,
    shutdown: &CancellationToken,
) -> Result<(), Vec<u8>> {
    let mount = grant.mount.clone();
    let content_type = info.content_type.clone();
    let max_kbps = grant.limits.max_bitrate_kbps;
    if let Some(declared) = info.bitrate_kbps.filter(|b| *b > max_kbps && max_kbps > 0) {
        tracing::warn!(%remote, %mount, "source refused: declares {declared} kbps, the plan allows {max_kbps} kbps");
        let msg =
            format!("bitrate {declared} kbps is over this service's limit of {max_kbps} kbps");
        return Err(response::error(403, "Forbidden", &msg));
    }

    let id = crate::ids::SourceId::new();
    let live = loop {
        let live = ctx
            .mounts
            .get_or_create(&grant.mount, grant.service_id, grant.limits);
        live.set_fallback(grant.fallback.clone());
        match live.attach_source(id, grant.priority, &grant.label, info.clone(), grant.limits) {
            Ok(()) => break live,
            // Forgotten by its last user a moment ago: the next lookup makes a fresh one.
            Err(AttachError::Closed) => continue,
            Err(AttachError::Busy(busy)) => {
                tracing::warn!(%remote, %mount, "source refused: {busy}");
                ctx.mounts.remove_if_idle(&live);
                return Err(response::error(403, "Forbidden", &busy.to_string()));
            }
        }
    };
    // The station's HLS (an audio-only ladder), if it has one and it is not running yet.
    crate::radio_hls::ensure(&ctx.station_hls, &live, grant, &info.content_type);
    crate::dead_air::watch(
        ctx.station_hls.transcoder.as_ref(),
        &live,
        id,
        &grant.label,
        &info.content_type,
    );
    if grant.record_set {
        crate::live_sets::record(
            ctx.live_sets.as_ref(),
            &live,
            id,
            &grant.label,
            &info.content_type,
        );
    }
    let session = ctx.registry.open_session(
        grant.service_id,
        &grant.mount,
        SessionRole::Source,
        remote,
        &grant.label,
    );
    if !answer.is_empty() && sock.write_all(answer).await.is_err() {
        live.detach_source(id);
        ctx.mounts.remove_if_idle(&live);
        return Ok(());
    }
    tracing::info!(%remote, mount = %grant.mount, who = %grant.label, priority = grant.priority, "source connected");
    on_air(ctx.events.as_ref(), &live);

    let deadline = grant.lifetime.map(|d| tokio::time::Instant::now() + d);
    let framing = if is_ogg(&content_type) {
        Framing::Ogg(Default::default(), Default::default())
    } else if is_webm(&content_type) {
        Framing::Webm(Default::default())
    } else {
        Framing::Raw(Kind::for_content_type(&content_type).map(Cutter::new))
    };
    let ended = pump(
        sock, &mut buf, &live, id, framing, max_kbps, deadline, &session, shutdown,
    )
    .await;
    live.detach_source(id);
    ctx.mounts.remove_if_idle(&live);
    let next = live.status().on_air;
    on_air(ctx.events.as_ref(), &live);
    tracing::info!(
        %remote, mount = %grant.mount, who = %grant.label,
        "source disconnected: {ended}{}",
        next.map(|n| format!("; {n} is on air now")).unwrap_or_default()
    );
    Ok(())
}

/// Tells the control plane who is on air now.
fn on_air(events: &dyn Events, live: &crate::mount::Mount) {
    events.mount_event(MountEvent::OnAir {
        service_id: live.service_id(),
        mount: live.name().to_owned(),
        label: live.status().on_air,
        at: std::time::SystemTime::now(),
    });
}

/// Reads the stream and publishes it in chunks until the source ends; says why it ended.
#[allow(clippy::too_many_arguments)]
async fn pump<S: AsyncRead + Unpin>(
    sock: &mut S,
    buf: &mut BytesMut,
    live: &crate::mount::Mount,
    id: crate::ids::SourceId,
    mut framing: Framing,
    max_kbps: u32,
    deadline: Option<tokio::time::Instant>,
    session: &crate::registry::SessionGuard,
    shutdown: &CancellationToken,
) -> String {
    let mut oldest: Option<Instant> = if buf.is_empty() {
        None
    } else {
        Some(Instant::now())
    };
    let mut window_start = Instant::now();
    let mut window_bytes: u64 = buf.len() as u64;
    let slot_end = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(slot_end);
    loop {
        // Keep room for a read without reallocating for every chunk.
        if buf.capacity() - buf.len() < 2048 {
            buf.reserve(16 * 1024);
        }
        let flush_in = oldest.map_or(SOURCE_TIMEOUT, |t| CHUNK_AGE.saturating_sub(t.elapsed()));
        tokio::select! {
            () = session.cancelled() => return "dropped by the control plane".into(),
            () = shutdown.cancelled() => return "stopped by the server".into(),
            () = &mut slot_end => return "the DJ's scheduled slot ended".into(),
            read = tokio::time::timeout(flush_in.max(Duration::from_millis(1)), sock.read_buf(buf)) => match read {
                Ok(Ok(0)) => {
                    // A partial frame or Ogg page at the end is dropped: it cannot be
                    // decoded, and whoever goes on air next starts on a clean boundary.
                    if let Framing::Raw(cutter) = &framing {
                        let out = match cutter {
                            Some(c) => c.take(buf),
                            None => buf.split().freeze(),
                        };
                        if !out.is_empty() {
                            live.publish(id, out);
                        }
                    }
                    return "the source closed the connection".into();
                }
                Ok(Ok(n)) => {
                    window_bytes += n as u64;
                    oldest.get_or_insert_with(Instant::now);
                }
                Ok(Err(e)) => return format!("read error: {e}"),
                Err(_) if oldest.is_none() => return format!("no data for {} s", SOURCE_TIMEOUT.as_secs()),
                Err(_) => {} // the chunk is old enough: flush below
            },
        }
        match &mut framing {
            Framing::Raw(cutter) => {
                if buf.len() >= CHUNK_BYTES || oldest.is_some_and(|t| t.elapsed() >= CHUNK_AGE) {
                    // Chunks end on frame boundaries (MP3, ADTS): a frame cut off at the end
                    // waits for the rest of it.
                    let out = match cutter {
                        Some(c) => c.take(buf),
                        None => buf.split().freeze(),
                    };
                    if !out.is_empty() {
                        live.publish(id, out);
                    }
                    // What stays is less than a frame: it goes with the next read (no age,
                    // so a source that stalls here still times out).
                    oldest = None;
                }
            }
            // Ogg goes out page by page, so every listener starts on a page boundary.
            Framing::Ogg(reader, tracker) => {
                reader.push(&buf.split());
                oldest = None;
                loop {
                    match reader.next_page() {
                        Ok(Some(page)) => match tracker.observe(&page) {
                            // Kept page by page: a standby source that goes on air in the
                            // middle of its headers still starts with them all.
                            kind @ (PageKind::ChainStart | PageKind::Header) => {
                                if kind == PageKind::ChainStart {
                                    live.begin_chain(id);
                                }
                                live.publish_header(id, tracker.headers().to_vec(), page.data);
                            }
                            PageKind::FirstAudio | PageKind::Audio => {
                                live.publish(id, page.data);
                            }
                        },
                        Ok(None) => break,
                        Err(e) => return format!("{e} (the source said Content-Type: audio/ogg)"),
                    }
                }
            }
            // WebM goes out Cluster by Cluster, after its header.
            Framing::Webm(reader) => {
                reader.push(&buf.split());
                oldest = None;
                loop {
                    match reader.next_unit() {
                        Ok(Some(Unit::Header(header))) => {
                            live.begin_chain(id);
                            live.publish_header(id, vec![header.clone()], header);
                        }
                        Ok(Some(Unit::Cluster(data) | Unit::Other(data))) => {
                            live.publish(id, data);
                        }
                        Ok(None) => break,
                        Err(e) => return format!("{e} (the source said Content-Type: audio/webm)"),
                    }
                }
            }
        }
        if window_start.elapsed() >= BITRATE_WINDOW {
            let kbps = window_bytes * 8 / 1000 / window_start.elapsed().as_secs().max(1);
            // A quarter over the limit is tolerated: VBR peaks and container overhead.
            if max_kbps > 0 && kbps > u64::from(max_kbps) * 5 / 4 {
                return format!("measured {kbps} kbps over 10 s, over the plan's {max_kbps} kbps");
            }
            window_start = Instant::now();
            window_bytes = 0;
        }
    }
}

/// How a source's bytes are cut into the chunks listeners get.
enum Framing {
    /// MP3 and AAC (ADTS) cut on frame boundaries; other formats as they come.
    Raw(Option<Cutter>),
    /// Ogg: whole pages, with the header pages kept for listeners who join later.
    Ogg(PageReader, HeaderTracker),
    /// WebM: the header, kept for listeners who join later, then whole Clusters.
    Webm(ClusterReader),
}

/// Ogg carries codec headers a late listener needs (Vorbis, Opus, FLAC in Ogg).
pub fn is_ogg(content_type: &str) -> bool {
    matches!(content_type, "audio/ogg" | "application/ogg" | "audio/opus")
}

pub fn is_webm(content_type: &str) -> bool {
    matches!(content_type, "audio/webm" | "video/webm")
}

/// Containers that carry titles in-band (Ogg comments, WebM tags): like Icecast, their
/// listeners get no ICY blocks, which would corrupt the container.
pub fn has_inband_metadata(content_type: &str) -> bool {
    is_ogg(content_type) || is_webm(content_type)
}

/// The source's `ice-*` headers (and their older `icy-*` spellings).
fn stream_info(head: &RequestHead, content_type: &str) -> StreamInfo {
    stream_info_with(&|name| head.header(name).map(str::to_owned), content_type)
}

/// The stream's `ice-*`/`icy-*` headers, looked up with `header` (a source's request, or a
/// relayed server's answer).
pub(crate) fn stream_info_with(
    header: &dyn Fn(&str) -> Option<String>,
    content_type: &str,
) -> StreamInfo {
    let get = |a: &str, b: &str| header(a).or_else(|| header(b)).filter(|s| !s.is_empty());
    let bitrate = get("ice-bitrate", "icy-br")
        .and_then(|b| {
            b.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
        })
        .or_else(|| {
            // `ice-audio-info: ice-samplerate=44100;ice-bitrate=128;ice-channels=2`
            get("ice-audio-info", "icy-audio-info")?
                .split(';')
                .find_map(|kv| {
                    kv.trim()
                        .strip_prefix("ice-bitrate=")
                        .or_else(|| kv.trim().strip_prefix("bitrate="))
                })
                .and_then(|v| v.parse().ok())
        });
    StreamInfo {
        content_type: match content_type {
            "audio/mp3" => "audio/mpeg".to_owned(),
            other => other.to_owned(),
        },
        name: get("ice-name", "icy-name"),
        description: get("ice-description", "icy-description"),
        genre: get("ice-genre", "icy-genre"),
        url: get("ice-url", "icy-url"),
        public: get("ice-public", "icy-pub")
            .is_some_and(|p| p == "1" || p.eq_ignore_ascii_case("true")),
        bitrate_kbps: bitrate,
        audio_info: get("ice-audio-info", "icy-audio-info"),
    }
}
