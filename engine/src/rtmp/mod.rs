//! The RTMP port: publishers (OBS, ffmpeg) push H.264/AAC to `rtmp://HOST/live/<key>`;
//! their streams are packaged as HLS in the engine ([`crate::hls`]).
//!
//! rml_rtmp does the protocol (handshake, chunk streams, AMF0 commands) without I/O;
//! [`conn`] owns the socket and feeds it, [`publisher`] turns media messages into segments.

pub mod conn;
pub mod publisher;

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Engine;

/// Accepts RTMP connections until `shutdown` fires, then waits for each to end.
pub async fn serve(listener: TcpListener, engine: Engine, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, remote)) => {
                    let _ = sock.set_nodelay(true);
                    connections.spawn(conn::run(sock, remote, engine.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors must not end the accept loop: wait and retry.
                    tracing::warn!("RTMP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    connections.close();
    connections.wait().await;
}
