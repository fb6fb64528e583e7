//! Relays: a service's source pulled from a URL instead of pushed to us. A video service
//! pulls RTMP (another server), RTSP (an IP camera, over TCP or UDP) or HLS (MPEG-TS); a
//! radio station pulls another Icecast or Shoutcast server's stream.
//!
//! What is pulled goes exactly where a pushed source goes: video as FLV tags through the
//! same publisher as an RTMP push ([`crate::ingest`]: HLS, ladder, DVR, restream tap,
//! sessions), radio onto the mount as an Icecast source ([`crate::icecast::source::serve`]).
//! Admission asks the control plane like any publisher (`PublishRequest::Relay`).
//!
//! A relay runs always, or on demand: it waits until a player or listener asks
//! ([`crate::demand`]) and stops once nobody has watched or asked for a while. A failed or ended
//! pull is retried with back-off. Every connection goes to an address the [`Dialer`]
//! allows, checked after DNS on every connect (RTSP goes to FFmpeg through a proxy on
//! loopback to the checked address, [`rtsp_proxy`], so FFmpeg makes no lookup and follows
//! no redirect of its own).

mod error;
pub(crate) mod hls_pull;
pub mod http;
mod icecast_pull;
pub mod rtmp_pull;
mod rtsp_proxy;
pub(crate) mod ts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Decision, PublishRequest, ServiceId};
use crate::dial::Dialer;
use crate::icecast::source::Sources;
use crate::ingest::Ingest;
use crate::media::flv::Tag;
use crate::targets::{SharedStatus, State, lock};
pub use error::{RelayError, UrlError};
use http::HttpUrl;
use rtmp_pull::RtmpSource;

/// A relay with no media for this long has lost its source.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// An on-demand relay stops after this long without viewers, listeners or requests.
pub const ON_DEMAND_IDLE: Duration = Duration::from_secs(30);

/// What relays use of the engine: admission (a relay asks like any publisher), the running
/// relays and the demand for on-demand ones, the way into a video stream every source kind
/// shares, and the way onto a radio mount a pushed source takes.
#[derive(Clone)]
pub struct Context {
    pub(crate) admission: Arc<dyn Admission>,
    pub(crate) relays: Arc<crate::targets::Targets>,
    pub(crate) demand: Arc<crate::demand::Demand>,
    pub(crate) ingest: Ingest,
    pub(crate) sources: Sources,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("relay::Context").finish_non_exhaustive()
    }
}

/// What a puller hands over.
#[derive(Debug)]
pub enum Pulled {
    /// Connected to this address (the session's remote).
    Connected(SocketAddr),
    Tag(Tag),
}

/// Where a relay pulls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Rtmp(RtmpSource),
    /// `rtsp://[user:pass@]host[:port]/path`, over TCP (interleaved) or UDP.
    Rtsp {
        url: String,
        host: String,
        port: u16,
        tcp: bool,
    },
    /// An MPEG-TS HLS playlist.
    Hls(HttpUrl),
    /// An Icecast or Shoutcast stream (radio).
    Icecast(HttpUrl),
}

/// The parts of a URL: scheme, `user:pass` (if any), host, port, path and query.
type UrlParts<'a> = (&'a str, Option<&'a str>, String, Option<u16>, &'a str);

pub(crate) fn split_url(url: &str) -> Result<UrlParts<'_>, UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::NotUrl)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // What FFmpeg (and others) would read differently is refused, so the host checked is
    // the host connected to: `?`, `#` or `\` before the path, more than one `@`.
    if authority.contains(['?', '#', '\\']) || authority.matches('@').count() > 1 {
        return Err(UrlError::Ambiguous);
    }
    let (auth, hostport) = match authority.split_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(UrlError::UnclosedBracket)?;
        // `[::1]evil.example` names no port; another reader may take another host from it.
        if !after.is_empty() && !after.starts_with(':') {
            return Err(UrlError::Ambiguous);
        }
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    // Brackets only around an address, colons only inside them: `!::1]:80` or `a:b:80`
    // would be read as another host by the next reader (found by fuzz/relay_url).
    let bracketed = hostport.starts_with('[');
    if host.contains(['[', ']']) || (!bracketed && host.contains(':')) {
        return Err(UrlError::BadHost(host));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| UrlError::BadPort(p.to_owned()))
        })
        .transpose()?;
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(UrlError::Spaces);
    }
    Ok((scheme, auth, host, port, path))
}

impl Source {
    /// A relay URL as a customer gives it; `rtsp_tcp` chooses RTSP's transport.
    pub fn parse(url: &str, rtsp_tcp: bool) -> Result<Self, UrlError> {
        if url.len() > 2000 {
            return Err(UrlError::TooLong);
        }
        let (scheme, auth, host, port, path) = split_url(url)?;
        match scheme {
            "rtmp" | "rtmps" => {
                if auth.is_some() {
                    return Err(UrlError::RtmpCredentials);
                }
                let path = path.split('?').next().unwrap_or("").trim_matches('/');
                let (app, name) = path
                    .rsplit_once('/')
                    .filter(|(a, n)| !a.is_empty() && !n.is_empty())
                    .ok_or(UrlError::RtmpPath)?;
                let tls = scheme == "rtmps";
                Ok(Self::Rtmp(RtmpSource {
                    host,
                    port: port.unwrap_or(if tls { 443 } else { 1935 }),
                    app: app.to_owned(),
                    name: name.to_owned(),
                    tls,
                }))
            }
            "rtsp" => Ok(Self::Rtsp {
                url: url.to_owned(),
                host,
                port: port.unwrap_or(554),
                tcp: rtsp_tcp,
            }),
            "http" | "https" => {
                let u = HttpUrl::parse(url)?;
                if path.split('?').next().unwrap_or("").ends_with(".m3u8") {
                    Ok(Self::Hls(u))
                } else {
                    Ok(Self::Icecast(u))
                }
            }
            other => Err(UrlError::Scheme(other.to_owned())),
        }
    }

    /// The host and port connected to (what the outbound policy checks).
    pub fn host_port(&self) -> (&str, u16) {
        match self {
            Self::Rtmp(s) => (&s.host, s.port),
            Self::Rtsp { host, port, .. } => (host, *port),
            Self::Hls(u) | Self::Icecast(u) => (&u.host, u.port),
        }
    }

    /// Whether it carries radio (an audio stream for a mount) rather than video.
    pub fn is_radio(&self) -> bool {
        matches!(self, Self::Icecast(_))
    }

    /// The address without credentials or stream names, for logs and lists.
    pub fn display(&self) -> String {
        match self {
            Self::Rtmp(s) => s.display(),
            Self::Rtsp { host, port, .. } => format!("rtsp://{host}:{port}/…"),
            Self::Hls(u) | Self::Icecast(u) => u.display(),
        }
    }
}

/// When a relay pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Always,
    /// Only while someone watches or listens.
    OnDemand,
}

/// A service's relay.
#[derive(Debug, Clone)]
pub struct RelayJob {
    pub service: ServiceId,
    /// The service's stream (video) or primary mount (radio).
    pub stream: String,
    pub source: Source,
    pub mode: Mode,
}

/// How one pull ended without an error.
enum Ended {
    Stopped,
    /// On demand, and nobody watches any more.
    Idle,
}

/// Starts `job` under `id` among the running relays ([`crate::Engine::relays`]; a running
/// relay of the same id is replaced).
pub fn start(ctx: &Context, id: i64, job: RelayJob, dialer: Arc<dyn Dialer>) {
    let (cancel, status) = ctx.relays.register(id, job.service);
    // Registered before the task runs, so a replaced relay's task cannot register over it.
    let slot = (job.mode == Mode::OnDemand).then(|| ctx.demand.register(&job.stream));
    let ctx = ctx.clone();
    tokio::spawn(async move {
        run(&ctx, &job, &dialer, &status, &cancel, slot.as_ref()).await;
        if let Some(slot) = &slot {
            ctx.demand.unregister(&job.stream, slot);
        }
    });
}

async fn run(
    ctx: &Context,
    job: &RelayJob,
    dialer: &Arc<dyn Dialer>,
    status: &SharedStatus,
    cancel: &CancellationToken,
    demand: Option<&Arc<crate::demand::Slot>>,
) {
    let mut attempts = crate::targets::Attempts::default();
    loop {
        if let Some(slot) = demand {
            let asked = slot.notified();
            tokio::pin!(asked);
            asked.as_mut().enable();
            let recent = slot
                .last_asked()
                .is_some_and(|t| t.elapsed() < ON_DEMAND_IDLE);
            if !recent {
                {
                    let mut st = lock(status);
                    st.state = State::Waiting;
                    st.live_since = None;
                }
                tokio::select! {
                    () = &mut asked => {}
                    () = cancel.cancelled() => return,
                }
            }
        }
        attempts.begin(status);
        let pulled = if job.source.is_radio() {
            radio(ctx, job, dialer.as_ref(), status, cancel, demand).await
        } else {
            video(ctx, job, dialer, status, cancel, demand).await
        };
        match pulled {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Idle) => {
                attempts.quiet(status);
                tracing::info!(stream = %job.stream, from = %job.source.display(), "relay stopped: nobody watches (on demand)");
            }
            Err(why) => {
                let log = |why: &str, wait| {
                    tracing::info!(stream = %job.stream, from = %job.source.display(), "relay: {why}; trying again in {wait:?}");
                };
                if !attempts.failed(status, why, cancel, log).await {
                    return;
                }
            }
        }
    }
}

/// Whether an on-demand relay has had nobody for [`ON_DEMAND_IDLE`].
fn idle(demand: Option<&Arc<crate::demand::Slot>>, audience: usize, since: &mut Instant) -> bool {
    let Some(slot) = demand else {
        return false;
    };
    if audience > 0
        || slot
            .last_asked()
            .is_some_and(|t| t.elapsed() < ON_DEMAND_IDLE)
    {
        *since = Instant::now();
        return false;
    }
    since.elapsed() >= ON_DEMAND_IDLE
}

async fn radio(
    ctx: &Context,
    job: &RelayJob,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    cancel: &CancellationToken,
    demand: Option<&Arc<crate::demand::Slot>>,
) -> Result<Ended, RelayError> {
    let Source::Icecast(url) = &job.source else {
        return Err(RelayError::WrongKind("radio"));
    };
    let stop = cancel.child_token();
    // On demand: a watcher ends the pull once the mount has had no listener for a while.
    let watcher = demand.is_some().then(|| {
        let stop = stop.clone();
        let mounts = Arc::clone(&ctx.sources.mounts);
        let hls = Arc::clone(&ctx.ingest.hls);
        let mount = job.stream.clone();
        let slot = demand.cloned();
        tokio::spawn(async move {
            let mut since = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Icecast listeners and the station's HLS players both count.
                let listeners = mounts.get(&mount).map_or(0, |m| m.listeners())
                    + hls.get(&mount).map_or(0, |s| s.viewers.count());
                if idle(slot.as_ref(), listeners, &mut since) {
                    stop.cancel();
                    return;
                }
                if stop.is_cancelled() {
                    return;
                }
            }
        })
    });
    let r = icecast_pull::run(ctx, job.service, url, dialer, status, &stop).await;
    if let Some(w) = watcher {
        w.abort();
    }
    match r {
        Ok(()) if cancel.is_cancelled() => Ok(Ended::Stopped),
        Ok(()) => Ok(Ended::Idle),
        Err(e) => Err(e),
    }
}

/// Starts the puller for `source`; what it pulls arrives on the returned channel, its
/// error (if it failed) from the handle.
fn pull(
    ctx: &Context,
    source: &Source,
    dialer: &Arc<dyn Dialer>,
) -> (
    mpsc::Receiver<Pulled>,
    tokio::task::JoinHandle<Result<(), RelayError>>,
) {
    let (tx, rx) = mpsc::channel(512);
    let dialer = Arc::clone(dialer);
    let handle = match source.clone() {
        Source::Rtmp(s) => {
            tokio::spawn(async move { rtmp_pull::run(dialer.as_ref(), &s, tx).await })
        }
        Source::Hls(u) => tokio::spawn(async move { hls_pull::run(dialer.as_ref(), &u, tx).await }),
        Source::Rtsp {
            url,
            host,
            port,
            tcp,
        } => {
            let transcoder = ctx.ingest.transcoder.clone();
            tokio::spawn(async move {
                let transcoder = transcoder.ok_or(RelayError::NoFfmpeg)?;
                let addr = dialer
                    .resolve(&host, port)
                    .await?
                    .first()
                    .copied()
                    .ok_or(crate::dial::DialError::NoAddress)?;
                // FFmpeg reaches the checked address only through the proxy (no lookup, no
                // redirect of its own).
                let proxy = rtsp_proxy::Proxy::bind(addr).await?;
                let url = with_host(&url, &proxy.local()?.to_string())?;
                if tx.send(Pulled::Connected(addr)).await.is_err() {
                    return Ok(());
                }
                let options = vec![
                    (
                        "rtsp_transport".to_owned(),
                        if tcp { "tcp" } else { "udp" }.to_owned(),
                    ),
                    // Socket I/O timeout, in microseconds.
                    ("timeout".to_owned(), IDLE_TIMEOUT.as_micros().to_string()),
                ];
                let reader = tokio::task::spawn_blocking(move || {
                    transcoder.pull(&url, &options, &mut |tag| {
                        tx.blocking_send(Pulled::Tag(tag)).is_ok()
                    })
                });
                // Whichever ends first: the reader, or the proxy (a redirect, the camera
                // gone). Dropping the proxy closes FFmpeg's socket, which ends its thread.
                tokio::select! {
                    r = reader => Ok(r.map_err(RelayError::ReaderTask)??),
                    r = proxy.run() => match r {
                        Err(e) => Err(e),
                        Ok(()) => Err(RelayError::CameraClosed),
                    },
                }
            })
        }
        Source::Icecast(_) => tokio::spawn(async { Err(RelayError::WrongKind("video")) }),
    };
    (rx, handle)
}

/// `url` with its host and port replaced by `at` (credentials and path kept).
fn with_host(url: &str, at: &str) -> Result<String, UrlError> {
    let (scheme, auth, _, _, path) = split_url(url)?;
    Ok(match auth {
        Some(a) => format!("{scheme}://{a}@{at}{path}"),
        None => format!("{scheme}://{at}{path}"),
    })
}

async fn video(
    ctx: &Context,
    job: &RelayJob,
    dialer: &Arc<dyn Dialer>,
    status: &SharedStatus,
    cancel: &CancellationToken,
    demand: Option<&Arc<crate::demand::Slot>>,
) -> Result<Ended, RelayError> {
    let (mut rx, handle) = pull(ctx, &job.source, dialer);
    let puller_error = |handle: tokio::task::JoinHandle<Result<(), RelayError>>| async move {
        match handle.await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => RelayError::Ended,
            Err(e) => RelayError::Reader(e),
        }
    };
    // Connected, and the first media, before the stream is claimed.
    let first = async {
        let mut peer = None;
        loop {
            match rx.recv().await {
                Some(Pulled::Connected(a)) => peer = Some(a),
                Some(Pulled::Tag(t)) => return Some((peer, t)),
                None => return None,
            }
        }
    };
    let (peer, first) = tokio::select! {
        () = cancel.cancelled() => {
            handle.abort();
            return Ok(Ended::Stopped);
        }
        got = tokio::time::timeout(crate::dial::CONNECT_TIMEOUT * 3, first) => match got {
            Ok(Some(x)) => x,
            Ok(None) => return Err(puller_error(handle).await),
            Err(_) => {
                handle.abort();
                return Err(RelayError::NoFirstMedia(crate::dial::CONNECT_TIMEOUT * 3));
            }
        },
    };
    // A relay has no onMetaData to say which tracks come: the first moments are held
    // until both decoder configurations are in (or 3 s of media passed), so packaging
    // starts with every track rather than the first one seen.
    let mut prelude = vec![first];
    let has = |p: &[Tag], video: bool| p.iter().any(|t| t.video == video && t.is_header());
    let gather = async {
        while !(has(&prelude, true) && has(&prelude, false)) && prelude.len() < 1000 {
            let span = prelude
                .last()
                .map_or(0, |l| l.ts.wrapping_sub(prelude[0].ts));
            if span >= 3000 {
                break;
            }
            match rx.recv().await {
                Some(Pulled::Tag(t)) => prelude.push(t),
                Some(Pulled::Connected(_)) => {}
                None => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), gather).await;
    let expect = crate::ingest::publisher::Expect {
        video: Some(has(&prelude, true)),
        audio: Some(has(&prelude, false)),
        video_kbps: None,
    };
    let req = PublishRequest::Relay {
        service_id: job.service,
        from: job.source.display(),
    };
    let grant = match ctx.admission.admit_publish(&req).await {
        Decision::Allow(g) => g,
        Decision::Deny(d) => {
            handle.abort();
            return Err(RelayError::NotAllowed(d.message));
        }
    };
    let remote = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let who = format!("relay from {}", job.source.display());
    let (mut publisher, session) = match ctx.ingest.claim(&grant, remote, &who) {
        Ok(p) => p,
        Err(e) => {
            handle.abort();
            return Err(e.into());
        }
    };
    publisher.set_expected(expect);
    crate::targets::connected(status);
    let mut since = Instant::now();
    let mut last_media = Instant::now();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    let mut prelude = prelude.into_iter();
    let mut puller_done = false;
    let ended = loop {
        let tag = match prelude.next() {
            Some(t) => t,
            None => tokio::select! {
                () = cancel.cancelled() => break Ok(Ended::Stopped),
                () = session.cancelled() => break Err(RelayError::Dropped),
                _ = check.tick() => {
                    let viewers = ctx.ingest.hls.get(&job.stream).map_or(0, |s| s.viewers.count());
                    if idle(demand, viewers, &mut since) {
                        break Ok(Ended::Idle);
                    }
                    if last_media.elapsed() >= IDLE_TIMEOUT {
                        break Err(RelayError::NoMedia(IDLE_TIMEOUT));
                    }
                    continue;
                }
                got = rx.recv() => match got {
                    Some(Pulled::Tag(t)) => t,
                    Some(Pulled::Connected(_)) => continue,
                    None => {
                        // The puller ended: its own error says why.
                        puller_done = true;
                        break Err(RelayError::Ended);
                    }
                },
            },
        };
        last_media = Instant::now();
        let len = tag.data.len() as u64;
        let r = if tag.video {
            publisher.video(tag.data, tag.ts)
        } else {
            publisher.audio(tag.data, tag.ts)
        };
        if let Err(e) = r {
            break Err(RelayError::BadMedia(e));
        }
        lock(status).bytes += len;
    };
    ctx.ingest.off_air(publisher);
    drop(session);
    match ended {
        Err(_) if puller_done => Err(puller_error(handle).await),
        other => {
            handle.abort();
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        let Source::Rtmp(r) = Source::parse("rtmp://origin.example/live/cam1", true).expect("rtmp")
        else {
            panic!("not rtmp");
        };
        assert_eq!(
            (r.port, r.app.as_str(), r.name.as_str()),
            (1935, "live", "cam1")
        );
        assert!(matches!(
            Source::parse("rtsp://admin:pw@10.0.0.5/stream1", false),
            Ok(Source::Rtsp {
                port: 554,
                tcp: false,
                ..
            })
        ));
        assert!(matches!(
            Source::parse("https://cdn.example/a/index.m3u8?x=1", true),
            Ok(Source::Hls(_))
        ));
        assert!(
            Source::parse("http://radio.example:8000/live.mp3", true)
                .expect("icecast")
                .is_radio()
        );
        for bad in [
            "rtmp://host/live",
            "ftp://host/x",
            "rtsp://",
            "nothing",
            "rtsp://10.0.0.1:80?@allowed.example/x",
            "rtsp://a@b@allowed.example/x",
            "rtsp://10.0.0.1#@allowed.example/x",
            "rtsp://[::1]allowed.example/x",
            "http://[::1]allowed.example:80/live.m3u8",
            "http://!::1]:8080/stream.mp3",
            "http://fe80::1:8080/stream.mp3",
            "http://[[::1]:8080/stream.mp3",
        ] {
            assert!(Source::parse(bad, true).is_err(), "{bad}");
        }
        assert_eq!(
            with_host("rtsp://admin:pw@cam.local:8554/live?x=1", "10.0.0.5:8554").expect("host"),
            "rtsp://admin:pw@10.0.0.5:8554/live?x=1"
        );
        let shown = Source::parse("rtsp://admin:secret@cam/x", true)
            .expect("rtsp")
            .display();
        assert!(!shown.contains("secret"), "{shown}");
    }
}
