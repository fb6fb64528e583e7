//! The RTMP port: publishers (OBS, ffmpeg) push H.264/AAC to `rtmp://HOST/live/<key>`;
//! their streams are packaged as HLS in the engine ([`crate::hls`]).
//!
//! rml_rtmp does the protocol (handshake, chunk streams, AMF0 commands) without I/O;
//! [`conn`] owns the socket and feeds it; a granted publisher takes its stream through
//! [`crate::ingest`], which every source kind shares. [`client`] is the client side
//! (restream targets publish with it, relays play).

pub mod client;
pub mod conn;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
use crate::conn_cap::ConnCap;
use crate::ingest::Ingest;
use crate::login_guard::LoginGuard;

/// What the RTMP port uses of the engine: admission of stream keys, the guard against key
/// guessing, and the way into a stream every source kind shares.
#[derive(Clone)]
pub struct Context {
    pub(crate) admission: Arc<dyn Admission>,
    pub(crate) logins: Arc<LoginGuard>,
    pub(crate) ingest: Ingest,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("rtmp::Context").finish_non_exhaustive()
    }
}

/// Accepts RTMP connections until `shutdown` fires, then waits for each to end.
pub async fn serve(
    listener: TcpListener,
    ctx: Context,
    cap: Arc<ConnCap>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    connections.spawn(sweep_viewers(ctx.ingest.clone(), shutdown.clone()));
    crate::accept::until_shutdown("RTMP", listener, &cap, &shutdown, |sock, remote, slot| {
        let conn = conn::run(sock, remote, ctx.clone(), shutdown.clone());
        connections.spawn(async move {
            conn.await;
            drop(slot);
        });
    })
    .await;
    connections.close();
    connections.wait().await;
}

/// Ends HLS viewer sessions that went quiet (two target durations without a request) and
/// reports them; at shutdown, ends and reports all of them.
async fn sweep_viewers(ingest: Ingest, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        for stream in ingest.hls.all() {
            let idle = if stopping {
                Duration::ZERO
            } else {
                Duration::from_secs(2 * u64::from(stream.target_secs()))
            };
            stream.end_viewers(idle, ingest.events.as_ref());
        }
        if stopping {
            return;
        }
    }
}
