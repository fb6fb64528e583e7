//! An Icecast or Shoutcast target: a station's mount sent as a source to another server
//! (Icecast 2.4's `PUT /mount`, or Shoutcast's source protocol, [`super::shoutcast`]),
//! exactly as the mount's listeners hear it
//! (no re-encode: MP3 stays MP3, Ogg keeps its headers), with each new title sent to the
//! remote's `/admin/metadata` for formats whose titles are not in the stream.
//!
//! The task follows the mount like an uncounted listener while something is on air (a live
//! source, a DJ or AutoDJ), and stays connected across hand-overs between them; when the
//! mount goes quiet it disconnects and waits. A refused or dropped connection is retried
//! with back-off, and said in the target's status.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::Context;
use super::{SharedStatus, State, TargetError, lock};
use crate::dial::{CONNECT_TIMEOUT, Dialer, WRITE_TIMEOUT};
use crate::mount::{Mount, Mounts};

/// Where and as whom to send.
#[derive(Clone)]
pub struct IcecastTarget {
    pub host: String,
    pub port: u16,
    /// `/name` on the remote.
    pub mount: String,
    pub user: String,
    pub password: String,
}

crate::debug_fields!(IcecastTarget {
    host,
    port,
    mount,
    user,
    password: redacted
});

/// Where a mount goes: the protocol's login and title update.
#[derive(Debug, Clone)]
pub(crate) enum Remote {
    Icecast(IcecastTarget),
    Shoutcast(super::shoutcast::ShoutcastTarget),
}

impl Remote {
    fn host(&self) -> &str {
        match self {
            Self::Icecast(t) => &t.host,
            Self::Shoutcast(t) => &t.host,
        }
    }

    /// The port the source connects to (Shoutcast v1: the listener port + 1).
    fn source_port(&self) -> u16 {
        match self {
            Self::Icecast(t) => t.port,
            Self::Shoutcast(t) => t.port.saturating_add(1),
        }
    }

    fn display(&self) -> String {
        match self {
            Self::Icecast(t) => format!("{}:{}{}", t.host, t.port, t.mount),
            Self::Shoutcast(t) => t.display(),
        }
    }
}

/// How a connection ended.
enum Ended {
    /// Nothing is on air any more.
    Quiet,
    Stopped,
}

/// Starts target `id`: `service`'s mount `mount` sent to `to`, until it is stopped.
pub fn start(
    ctx: &Context,
    id: i64,
    service: crate::admission::ServiceId,
    mount: String,
    to: IcecastTarget,
    dialer: Arc<dyn Dialer>,
) {
    start_remote(ctx, id, service, mount, Remote::Icecast(to), dialer);
}

/// Starts target `id`: `service`'s mount `mount` sent to `to`, until it is stopped.
pub(crate) fn start_remote(
    ctx: &Context,
    id: i64,
    service: crate::admission::ServiceId,
    mount: String,
    to: Remote,
    dialer: Arc<dyn Dialer>,
) {
    let (cancel, status) = ctx.targets.register(id, service);
    let mounts = Arc::clone(&ctx.mounts);
    tokio::spawn(async move {
        run(&mounts, id, &mount, &to, dialer.as_ref(), &status, &cancel).await;
    });
}

async fn run(
    mounts: &Mounts,
    id: i64,
    mount_name: &str,
    to: &Remote,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    cancel: &CancellationToken,
) {
    let mut attempts = super::Attempts::default();
    loop {
        let Some(mount) = wait_for_air(mounts, mount_name, status, cancel).await else {
            return;
        };
        attempts.begin(status);
        match push(&mount, to, dialer, status, cancel).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Quiet) => attempts.quiet(status),
            Err(why) => {
                let log = |why: &str, wait| {
                    tracing::info!(target = id, mount = %mount_name, remote = %to.display(), "restream target: {why}; trying again in {wait:?}");
                };
                if !attempts.failed(status, why, cancel, log).await {
                    return;
                }
            }
        }
    }
}

/// The mount once something is on air on it (`None`: stopped).
async fn wait_for_air(
    mounts: &Mounts,
    name: &str,
    status: &SharedStatus,
    cancel: &CancellationToken,
) -> Option<Arc<Mount>> {
    loop {
        if let Some(m) = mounts.get(name)
            && m.status().on_air.is_some()
        {
            return Some(m);
        }
        {
            let mut st = lock(status);
            if st.state != State::Retrying {
                st.state = State::Waiting;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = cancel.cancelled() => return None,
        }
    }
}

fn basic(to: &IcecastTarget) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", to.user, to.password))
}

/// One connection: the source handshake, then the mount's audio until it goes quiet.
async fn push(
    mount: &Mount,
    to: &Remote,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    cancel: &CancellationToken,
) -> Result<Ended, TargetError> {
    let mut sock = crate::dial::connect(dialer, to.host(), to.source_port()).await?;
    // Titles go to the address that was checked and answered, not to a fresh lookup.
    let remote = crate::dial::peer(&sock)?;
    let info = mount.info().unwrap_or_default();
    let login = async {
        match to {
            Remote::Icecast(t) => icecast_login(&mut sock, t, &info).await,
            Remote::Shoutcast(t) => super::shoutcast::login(&mut sock, t, &info).await,
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, login).await {
        Ok(r) => r?,
        Err(_) => return Err(TargetError::NoAnswer),
    }
    tracing::info!(remote = %to.display(), "restream target connected");
    super::connected(status);
    let (headers, mut rx) = mount.follow();
    let mut changes = mount.on_air_watch();
    let in_stream_titles = info.content_type.contains("ogg") || info.content_type.contains("webm");
    let mut title_version = None;
    for h in headers {
        write(&mut sock, &h).await?;
    }
    loop {
        // Titles go to the remote as they change (MP3 and AAC carry none in the stream).
        if !in_stream_titles {
            let (title, version) = mount.title();
            if title_version != Some(version) && !title.is_empty() {
                title_version = Some(version);
                tokio::spawn(send_title(to.clone(), remote, title.to_string()));
            }
        }
        let chunk: Bytes = tokio::select! {
            () = cancel.cancelled() => return Ok(Ended::Stopped),
            changed = changes.changed() => {
                if changed.is_err() || mount.status().on_air.is_none() {
                    return Ok(Ended::Quiet);
                }
                continue;
            }
            got = rx.recv() => match got {
                Ok(c) => c,
                // Behind (a slow remote): skip ahead, as a listener would.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Ok(Ended::Quiet),
            },
        };
        write(&mut sock, &chunk).await?;
        lock(status).bytes += chunk.len() as u64;
    }
}

async fn write(sock: &mut TcpStream, data: &[u8]) -> Result<(), TargetError> {
    match tokio::time::timeout(WRITE_TIMEOUT, sock.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TargetError::Lost(e)),
        Err(_) => Err(TargetError::Stalled),
    }
}

/// Percent-encodes a query value.
pub(crate) fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The new title to the remote, as the source: Icecast's
/// `/admin/metadata?mount=…&mode=updinfo&song=…`, Shoutcast's `/admin.cgi?mode=updinfo`.
async fn send_title(to: Remote, remote: SocketAddr, title: String) {
    let req = match &to {
        Remote::Icecast(t) => format!(
            "GET /admin/metadata?mount={}&mode=updinfo&song={} HTTP/1.0\r\nHost: {}:{}\r\nAuthorization: Basic {}\r\nUser-Agent: Tidecast/{}\r\n\r\n",
            t.mount,
            query_value(&title),
            t.host,
            t.port,
            basic(t),
            env!("CARGO_PKG_VERSION")
        ),
        Remote::Shoutcast(t) => super::shoutcast::title_request(t, &title),
    };
    // Shoutcast takes titles on its listener port, one below the source port.
    let remote = match &to {
        Remote::Icecast(_) => remote,
        Remote::Shoutcast(t) => SocketAddr::new(remote.ip(), t.port),
    };
    let attempt = async {
        let mut s = TcpStream::connect(remote).await?;
        s.write_all(req.as_bytes()).await?;
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).await?;
        Ok::<_, std::io::Error>(())
    };
    if let Ok(Err(e)) = tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        tracing::debug!(remote = %to.host(), "restream target: title not sent: {e}");
    }
}

/// Icecast's source login: `PUT /mount` with Basic credentials, then a `200` before any
/// audio.
async fn icecast_login(
    sock: &mut TcpStream,
    to: &IcecastTarget,
    info: &crate::mount::StreamInfo,
) -> Result<(), TargetError> {
    {
        let name = info.name.clone().unwrap_or_default();
        let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
        let mut head = format!(
            "PUT {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Basic {}\r\nUser-Agent: Tidecast/{}\r\n\
             Content-Type: {}\r\nIce-Public: 0\r\n",
            to.mount,
            to.host,
            to.port,
            basic(to),
            env!("CARGO_PKG_VERSION"),
            clean(&info.content_type),
        );
        if !name.is_empty() {
            head.push_str(&format!("Ice-Name: {}\r\n", clean(&name)));
        }
        head.push_str("\r\n");
        let answer = async {
            sock.write_all(head.as_bytes()).await?;
            // The answer is one short header block; Icecast sends it before any body.
            let mut buf = vec![0u8; 2048];
            let mut got = 0;
            loop {
                let n = sock.read(&mut buf[got..]).await?;
                if n == 0 {
                    break;
                }
                got += n;
                if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") || got == buf.len() {
                    break;
                }
            }
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..got]).into_owned())
        };
        let answer = match tokio::time::timeout(CONNECT_TIMEOUT, answer).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return Err(TargetError::HandshakeIo(e)),
            Err(_) => return Err(TargetError::NoAnswer),
        };
        let first = answer.lines().next().unwrap_or("").trim().to_owned();
        if first.split_whitespace().nth(1) != Some("200") {
            return Err(if first.is_empty() {
                TargetError::ClosedWithoutAnswer
            } else {
                TargetError::SourceRefused(first)
            });
        }
        Ok(())
    }
}
