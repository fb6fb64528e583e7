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

/// Input rml_rtmp panicked on instead of refusing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a malformed RTMP message (an AMF0 command of fewer than three values)")]
pub struct Malformed;

/// Feeds bytes to an rml_rtmp session. rml_rtmp 0.8 panics on an AMF0 command of fewer
/// than three values (`drain(..3)` in `messages/types/amf0_command.rs`, found by
/// fuzz/rtmp_session, 25 bytes after the handshake); every feed goes through here, so such
/// input ends its connection as an error, through the code that takes a publisher off air
/// or reports a relay's failure, instead of unwinding out of the connection's task. The
/// session is never used again after `Err`.
pub(crate) fn feed<T>(feed: impl FnOnce() -> T) -> Result<T, Malformed> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(feed)).map_err(|_| Malformed)
}

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
