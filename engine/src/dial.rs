//! Connections out (restream targets, relays): where they may go is not the engine's call.
//! A [`Dialer`] (the control plane, which checks customers' addresses against its outbound
//! policy after DNS, at every connect and redirect) answers the addresses a host may be
//! reached at, and wraps a connection in TLS (the engine has no TLS of its own); the engine
//! connects only to the addresses it answers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::admission::BoxFuture;

/// Connecting, and the remote's answer, each within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A write the remote does not take within this is a lost connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection out could not be made. Its `Display` is what a target's or relay's
/// status shows as its last error.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The dialer gave no address: the outbound policy refused the host, or it does not
    /// resolve (the dialer's words).
    #[error("{0}")]
    Resolve(String),
    #[error("no address to connect to")]
    NoAddress,
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("no answer from {addr} within {CONNECT_TIMEOUT:?}")]
    NoAnswer { addr: SocketAddr },
    /// TLS could not be set up, or the server's certificate was refused (the dialer's
    /// words, which say "TLS").
    #[error("{0}")]
    Tls(String),
    #[error("this server makes no TLS connections")]
    NoTls,
    /// The connection was gone before it was used.
    #[error("the connection failed at once: {0}")]
    Gone(#[source] io::Error),
}

/// A connection a target writes to: plain TCP, or TLS over it.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Resolves a target's host to the addresses it may be reached at, or says why not; and
/// (the engine has no TLS of its own) wraps a connection in TLS for `rtmps://`.
pub trait Dialer: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<SocketAddr>, DialError>>;

    /// TLS over `tcp`, the server's certificate checked for `host`.
    fn tls<'a>(
        &'a self,
        host: &'a str,
        tcp: TcpStream,
    ) -> BoxFuture<'a, Result<Box<dyn Io>, DialError>> {
        let _ = (host, tcp);
        Box::pin(async { Err(DialError::NoTls) })
    }
}

/// A TCP connection to `host:port` at an address the dialer allows, trying each in turn.
pub async fn connect(dialer: &dyn Dialer, host: &str, port: u16) -> Result<TcpStream, DialError> {
    let addrs: Vec<SocketAddr> = dialer.resolve(host, port).await?;
    let mut last = DialError::NoAddress;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(source)) => last = DialError::Connect { addr, source },
            Err(_) => last = DialError::NoAnswer { addr },
        }
    }
    Err(last)
}

/// The address `sock` is connected to (what the dialer allowed).
pub fn peer(sock: &TcpStream) -> Result<SocketAddr, DialError> {
    sock.peer_addr().map_err(DialError::Gone)
}
