//! RTSP relays go through a one-connection proxy on loopback.
//!
//! FFmpeg's RTSP client (which reads the camera, [`crate::transcode::Transcoder::pull`])
//! follows a `3xx` redirect to whatever address the camera names, and looks that name up
//! itself: given the camera's address directly, a customer's camera could send the server
//! anywhere. Through this proxy FFmpeg can reach only the address the Dialer allowed, and a
//! redirect is refused here. When the relay stops, the proxy's sockets close, which ends
//! FFmpeg's blocking reads at once (it has no other way to be interrupted).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::RelayError;
use crate::dial::{CONNECT_TIMEOUT, DialError};

/// Camera bytes scanned for a redirect: the RTSP answers before media (DESCRIBE, SETUP, PLAY)
/// fit in far less.
const SCANNED: usize = 64 * 1024;

/// A listening proxy to `remote`; [`Proxy::run`] serves its one connection.
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    remote: SocketAddr,
}

impl Proxy {
    pub async fn bind(remote: SocketAddr) -> Result<Self, RelayError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(RelayError::ProxyPort)?;
        Ok(Self { listener, remote })
    }

    /// The loopback address FFmpeg connects to.
    pub fn local(&self) -> Result<SocketAddr, RelayError> {
        self.listener.local_addr().map_err(RelayError::ProxyPort)
    }

    /// Accepts FFmpeg's connection, connects to the camera, and moves bytes both ways until
    /// either side closes. `Err` says why it stopped early (a redirect, no connection).
    pub async fn run(self) -> Result<(), RelayError> {
        let (mut local, peer) = tokio::time::timeout(CONNECT_TIMEOUT * 3, self.listener.accept())
            .await
            .map_err(|_| RelayError::ReaderAbsent)?
            .map_err(RelayError::ReaderConnect)?;
        drop(self.listener); // one connection: no second one, wherever FFmpeg was sent
        if !peer.ip().is_loopback() {
            return Err(RelayError::Outsider);
        }
        let mut camera = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.remote))
            .await
            .map_err(|_| DialError::NoAnswer { addr: self.remote })?
            .map_err(|source| DialError::Connect {
                addr: self.remote,
                source,
            })?;
        let _ = camera.set_nodelay(true);
        let (mut lr, mut lw) = local.split();
        let (mut cr, mut cw) = camera.split();
        let up = tokio::io::copy(&mut lr, &mut cw);
        let down = async {
            let mut buf = vec![0u8; 16 * 1024];
            let mut seen = 0usize;
            let mut tail: Vec<u8> = Vec::new();
            loop {
                let n = cr.read(&mut buf).await.map_err(RelayError::CameraLost)?;
                if n == 0 {
                    return Ok::<_, RelayError>(());
                }
                if seen < SCANNED {
                    // The last bytes of the previous read, so a status line split between
                    // two reads is still seen.
                    tail.extend_from_slice(&buf[..n]);
                    if redirects(&tail) {
                        return Err(RelayError::Redirected);
                    }
                    let keep = tail.len().saturating_sub(16);
                    tail.drain(..keep);
                    seen += n;
                }
                lw.write_all(&buf[..n])
                    .await
                    .map_err(RelayError::ReaderStopped)?;
            }
        };
        tokio::select! {
            r = up => r.map(drop).map_err(RelayError::ReaderStopped),
            r = down => r,
        }
    }
}

/// Whether `data` holds an RTSP `3xx` status line.
fn redirects(data: &[u8]) -> bool {
    data.windows(10)
        .any(|w| w.starts_with(b"RTSP/1.") && w[8] == b' ' && w[9] == b'3')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_answers_are_spotted() {
        assert!(redirects(
            b"RTSP/1.0 302 Moved\r\nLocation: rtsp://10.0.0.1/\r\n\r\n"
        ));
        assert!(!redirects(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n"));
        assert!(!redirects(b"$\x00\x01\x02RTSP"));
    }

    #[tokio::test]
    async fn bytes_go_through_and_a_redirect_stops_it() {
        let camera = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let at = camera.local_addr().expect("addr");
        let proxy = Proxy::bind(at).await.expect("proxy");
        let local = proxy.local().expect("local");
        let served = tokio::spawn(proxy.run());
        let mut client = TcpStream::connect(local).await.expect("connect");
        let (mut cam, _) = camera.accept().await.expect("accept");
        client
            .write_all(b"DESCRIBE rtsp://x/ RTSP/1.0\r\n\r\n")
            .await
            .expect("write");
        let mut got = vec![0u8; 8];
        cam.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"DESCRIBE");
        cam.write_all(b"RTSP/1.0 200 OK\r\n\r\n")
            .await
            .expect("write");
        let mut ok = vec![0u8; 15];
        client.read_exact(&mut ok).await.expect("read");
        cam.write_all(b"RTSP/1.0 301 Moved\r\nLocation: rtsp://10.0.0.1/\r\n\r\n")
            .await
            .expect("write");
        let r = served.await.expect("join");
        assert!(matches!(r, Err(RelayError::Redirected)), "{r:?}");
    }
}
