//! The engine's media sockets: RTMP ingest and the Icecast port.
//!
//! Binding is split from serving so the binary can bind every port first (and fail fast,
//! with the address in the error, if one is taken) and only then report itself healthy.
//! The protocol servers plug into [`BoundListeners::serve`]: RTMP publishers on one port,
//! Icecast sources and listeners on the other. Both take their connections' slots from one
//! [`ConnCap`] (shared with the control plane's HTTP port when it passes its own).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Engine;
use crate::conn_cap::ConnCap;

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
    cap: Arc<ConnCap>,
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
        Ok(Self {
            rtmp,
            icecast,
            cap: ConnCap::unlimited(),
        })
    }

    /// Serves both ports under `cap` (unlimited unless set).
    pub fn with_cap(mut self, cap: Arc<ConnCap>) -> Self {
        self.cap = cap;
        self
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
            crate::rtmp::serve(
                self.rtmp,
                engine.rtmp_port(),
                Arc::clone(&self.cap),
                shutdown.clone()
            ),
            crate::icecast::serve(self.icecast, engine.icecast_port(), self.cap, shutdown),
        );
    }
}
