//! The accept loop every port shares (RTMP, Icecast, and control's HTTP port): each
//! connection takes a slot of the server's [`ConnCap`] first and is closed at once when it
//! is over a cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::conn_cap::{ConnCap, ConnPermit};

/// Accepts connections on `listener` and hands each, with its slot, to `on_accept` until
/// `shutdown` fires. Connections over a cap are dropped (closed) here.
pub async fn until_shutdown(
    what: &str,
    listener: TcpListener,
    cap: &Arc<ConnCap>,
    shutdown: &CancellationToken,
    mut on_accept: impl FnMut(TcpStream, SocketAddr, ConnPermit),
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, remote)) => {
                    let Ok(permit) = cap.admit(what, remote.ip()) else {
                        continue;
                    };
                    let _ = sock.set_nodelay(true);
                    on_accept(sock, remote, permit);
                }
                Err(e) => {
                    // Out of file descriptors must not end the accept loop: wait and retry.
                    tracing::warn!("{what} accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}
