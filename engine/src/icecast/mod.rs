//! The Icecast port: sources (`PUT`/`SOURCE`), listeners (`GET`/`HEAD`), `status-json.xsl`
//! and `/admin/metadata`, on our own connection handling.
//!
//! hyper treats a request without `Content-Length` as bodiless, but an Icecast source's
//! body is the endless stream itself; so this port reads request heads with the sans-IO
//! [`request`] parser and then hands the socket to the source or listener code.

pub mod icy;
pub mod listener;
pub mod metadata;
pub mod ogg;
pub mod request;
pub mod response;
pub mod source;
pub mod status;
pub mod webm;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
use crate::conn_cap::{ConnCap, ConnPermit};
use crate::demand::Demand;
use crate::events::Events;
use crate::login_guard::LoginGuard;
use crate::mount::Mounts;
use crate::registry::MountRegistry;
use crate::traffic::Traffic;
use request::{HeadError, RequestHead, parse_head};

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the Icecast port uses of the engine: admission and the password guard, the mounts
/// and what a source on one starts ([`source::Sources`]), bytes-sent counters, on-demand
/// relays' demand, and the port's own fan-out writers.
pub struct Context {
    pub(crate) admission: Arc<dyn Admission>,
    pub(crate) logins: Arc<LoginGuard>,
    pub(crate) traffic: Arc<Traffic>,
    pub(crate) demand: Arc<Demand>,
    pub(crate) sources: source::Sources,
    pub(crate) writers: listener::fanout::Writers,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("icecast::Context").finish_non_exhaustive()
    }
}

impl Context {
    fn mounts(&self) -> &Arc<Mounts> {
        &self.sources.mounts
    }

    fn events(&self) -> &Arc<dyn Events> {
        &self.sources.events
    }

    fn registry(&self) -> &Arc<MountRegistry> {
        &self.sources.registry
    }
}

/// Accepts connections on the Icecast port until `shutdown` fires, then waits for every
/// connection to finish (each one sees `shutdown` too), so their last events are reported.
pub async fn serve(
    listener: TcpListener,
    ctx: Context,
    cap: Arc<ConnCap>,
    shutdown: CancellationToken,
) {
    let ctx = Arc::new(ctx);
    let connections = TaskTracker::new();
    crate::accept::until_shutdown(
        "Icecast",
        listener,
        &cap,
        &shutdown,
        |sock, remote, slot| {
            connections.spawn(handle(
                sock,
                remote,
                slot,
                Arc::clone(&ctx),
                shutdown.clone(),
                connections.clone(),
            ));
        },
    )
    .await;
    connections.close();
    connections.wait().await;
}

/// `slot` is the connection's place under the caps: held until the socket closes, which for
/// a listener is after this task hands it to its mount's writer.
async fn handle(
    mut sock: TcpStream,
    remote: SocketAddr,
    slot: ConnPermit,
    ctx: Arc<Context>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let read = tokio::select! {
        () = shutdown.cancelled() => return,
        // Boxed: the head reader's state (buffer, timer) is freed once the head is parsed
        // instead of staying in every long-lived listener task.
        r = Box::pin(tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut sock))) => r,
    };
    let (head, rest) = match read {
        Ok(Ok(Some(parsed))) => parsed,
        Ok(Ok(None)) => return, // closed before a full head: nothing to answer
        Ok(Err(HeadError::TooLarge)) => {
            tracing::info!(%remote, "Icecast port: refused a request head over 8 KB");
            let _ = sock
                .write_all(&response::error(
                    431,
                    "Request Header Fields Too Large",
                    "request head too large",
                ))
                .await;
            return;
        }
        Ok(Err(HeadError::Malformed(why))) => {
            tracing::info!(%remote, "Icecast port: malformed request: {why}");
            let _ = sock
                .write_all(&response::error(400, "Bad Request", "malformed request"))
                .await;
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "Icecast port: no request head within {HEAD_TIMEOUT:?}");
            return;
        }
    };
    // Each branch is boxed so a connection's task is only as large as what it does: the
    // thousands of listener tasks do not carry the source's state.
    match (head.method.as_str(), head.path.as_str()) {
        ("PUT" | "SOURCE", _) => {
            Box::pin(source::run(sock, remote, head, rest, &ctx, shutdown)).await
        }
        ("GET" | "HEAD", "/status-json.xsl") => {
            Box::pin(status::run(sock, &head, ctx.mounts())).await
        }
        ("GET", "/admin/metadata") | ("GET", "/admin/metadata.xsl") => {
            Box::pin(metadata::run(sock, remote, &head, &ctx)).await
        }
        ("GET" | "HEAD", _) => {
            drop(rest);
            Box::pin(listener::run(
                sock, remote, slot, head, ctx, shutdown, tasks,
            ))
            .await
        }
        _ => {
            let _ = sock
                .write_all(&response::error(
                    405,
                    "Method Not Allowed",
                    "method not allowed",
                ))
                .await;
        }
    }
}

/// Reads until a whole request head is buffered. Returns the head and any body bytes that
/// arrived with it; `None` if the client closed first.
async fn read_head(sock: &mut TcpStream) -> Result<Option<(RequestHead, BytesMut)>, HeadError> {
    // Most request heads are a few hundred bytes; a small first buffer keeps the ramp of
    // thousands of listeners from leaving freed 2 KB holes in the heap.
    let mut buf = BytesMut::with_capacity(512);
    loop {
        match sock.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        if let Some((head, n)) = parse_head(&buf)? {
            let _ = buf.split_to(n);
            return Ok(Some((head, buf)));
        }
    }
}

/// The mount a path names: `/jazz` → `jazz`.
pub fn mount_name(path: &str) -> &str {
    path.trim_start_matches('/')
}
