//! The RTMP port: publishers (OBS, ffmpeg) push H.264/AAC to `rtmp://HOST/live/<key>`;
//! their streams are packaged as HLS in the engine ([`crate::hls`]).
//!
//! rml_rtmp does the protocol (handshake, chunk streams, AMF0 commands) without I/O;
//! [`conn`] owns the socket and feeds it, [`publisher`] turns media messages into segments.

pub mod claim;
pub mod client;
pub mod conn;
pub mod publisher;
pub mod tap;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Engine;

/// Accepts RTMP connections until `shutdown` fires, then waits for each to end.
pub async fn serve(listener: TcpListener, engine: Engine, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    connections.spawn(sweep_viewers(engine.clone(), shutdown.clone()));
    crate::accept::until_shutdown("RTMP", listener, &shutdown, |sock, remote| {
        connections.spawn(conn::run(sock, remote, engine.clone(), shutdown.clone()));
    })
    .await;
    connections.close();
    connections.wait().await;
}

/// Ends HLS viewer sessions that went quiet (two target durations without a request) and
/// reports them; at shutdown, ends and reports all of them.
async fn sweep_viewers(engine: Engine, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            () = shutdown.cancelled() => true,
            _ = tick.tick() => false,
        };
        for stream in engine.hls().all() {
            let idle = if stopping {
                Duration::ZERO
            } else {
                Duration::from_secs(2 * u64::from(stream.target_secs()))
            };
            engine.end_viewers(&stream, idle);
        }
        if stopping {
            return;
        }
    }
}
