//! The accept loop every media port shares.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Accepts connections on `listener` and hands each to `on_accept` until `shutdown` fires.
pub async fn until_shutdown(
    what: &str,
    listener: TcpListener,
    shutdown: &CancellationToken,
    mut on_accept: impl FnMut(TcpStream, SocketAddr),
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, remote)) => {
                    let _ = sock.set_nodelay(true);
                    on_accept(sock, remote);
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
