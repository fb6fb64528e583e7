//! The HTTP port's connections: the engine's accept loop (so the connection caps count
//! HTTP with the media ports) and hyper's HTTP/1 server with a deadline on request heads.
//!
//! axum's own `serve` has no such deadline: a client that opened a connection and never
//! finished its head (or kept an idle keep-alive connection) held it forever. hyper's
//! header-read timeout starts whenever the server waits for a request head, so it bounds
//! both a slow head and an idle keep-alive connection. Request bodies are bounded where they
//! are read (`super::limits`); uploads stream for as long as they take.
//!
//! On shutdown the port stops accepting, asks every connection to finish the request in
//! flight and close, and [`serve`] returns once all have closed (the caller bounds the wait).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tidecast_engine::conn_cap::ConnCap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// How long a client has to send a request head, and how long a keep-alive connection may
/// sit idle between requests. Longer than an HLS player's gap between requests (a segment
/// duration, 2–6 s), so players keep their connections.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `app` on `listener` until `shutdown` fires and every connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cap: Arc<ConnCap>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    tidecast_engine::accept::until_shutdown(
        "HTTP",
        listener,
        &cap,
        &shutdown,
        |sock, remote, slot| {
            let app = app.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                connection(sock, remote, app, shutdown).await;
                drop(slot);
            });
        },
    )
    .await;
    connections.close();
    connections.wait().await;
}

async fn connection(
    sock: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(sock), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts and clients that went away are routine; nothing to tell an operator.
        tracing::debug!(%remote, "HTTP connection ended: {e}");
    }
}
