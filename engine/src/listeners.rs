//! The engine's media sockets: RTMP ingest and the Icecast port.
//!
//! Binding is split from serving so the binary can bind every port first (and fail fast,
//! with the address in the error, if one is taken) and only then report itself healthy.
//! The protocol servers plug into [`BoundListeners::serve`]: the Icecast port serves
//! sources and listeners; until RTMP ingest is installed its port accepts and closes
//! connections, logging each one, so publishers fail fast instead of hanging.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Engine;

/// Where the engine listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    pub rtmp: SocketAddr,
    pub icecast: SocketAddr,
}

/// An error binding one of the engine's ports.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {addr}: {source}")]
pub struct BindError {
    pub what: &'static str,
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// The engine's sockets, bound and not yet serving.
#[derive(Debug)]
pub struct BoundListeners {
    rtmp: TcpListener,
    icecast: TcpListener,
}

impl BoundListeners {
    /// Binds the RTMP and Icecast ports.
    pub async fn bind(cfg: ListenerConfig) -> Result<Self, BindError> {
        let rtmp = TcpListener::bind(cfg.rtmp)
            .await
            .map_err(|source| BindError {
                what: "RTMP",
                addr: cfg.rtmp,
                source,
            })?;
        let icecast = TcpListener::bind(cfg.icecast)
            .await
            .map_err(|source| BindError {
                what: "Icecast",
                addr: cfg.icecast,
                source,
            })?;
        Ok(Self { rtmp, icecast })
    }

    /// The RTMP address actually bound (differs from the config with port 0).
    pub fn rtmp_addr(&self) -> io::Result<SocketAddr> {
        self.rtmp.local_addr()
    }

    /// The Icecast address actually bound.
    pub fn icecast_addr(&self) -> io::Result<SocketAddr> {
        self.icecast.local_addr()
    }

    /// Accepts on every port until `shutdown` fires.
    pub async fn serve(self, engine: Engine, shutdown: CancellationToken) {
        tokio::join!(
            accept_loop("RTMP", self.rtmp, shutdown.clone()),
            crate::icecast::serve(self.icecast, engine, shutdown),
        );
    }
}

async fn accept_loop(what: &'static str, listener: TcpListener, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, remote)) => {
                    tracing::info!(%remote, "{what} connection closed: {what} is not served by this version yet");
                    drop(sock);
                }
                // Running out of file descriptors must not end the accept loop: wait and retry.
                Err(e) => {
                    tracing::warn!("{what} accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
    }
}
