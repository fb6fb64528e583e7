//! The client side of RTMP over rml_rtmp, shared by restream targets (which publish) and
//! relays (which play): the handshake, and moving the session's packets and events.

use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeError, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionError, ClientSessionEvent, ClientSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::dial::{DialError, Dialer, Io, WRITE_TIMEOUT};

/// Why an RTMP client connection failed or ended. Its `Display` is what a target's or
/// relay's status shows as its last error (never a stream key).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error("the connection failed during the handshake: {0}")]
    HandshakeIo(#[source] std::io::Error),
    #[error("the remote closed the connection during the handshake")]
    HandshakeClosed,
    #[error("the remote's handshake is not RTMP: {0}")]
    Handshake(#[source] HandshakeError),
    #[error("the connection was lost: {0}")]
    Lost(#[source] std::io::Error),
    #[error("the remote took nothing for {WRITE_TIMEOUT:?}; reconnecting")]
    Stalled,
    #[error("the remote closed the connection")]
    Closed,
    #[error("the remote spoke RTMP we cannot read: {0}")]
    Unreadable(#[source] ClientSessionError),
    #[error("the remote spoke RTMP we cannot read: {0}")]
    Malformed(#[from] super::Malformed),
    /// The session could not make a request or packet (`what`: the session, connect,
    /// publish, play, a media packet).
    #[error("RTMP {what}: {source}")]
    Request {
        what: &'static str,
        #[source]
        source: ClientSessionError,
    },
    #[error("the remote refused the application {app:?}: {description}")]
    AppRefused { app: String, description: String },
    #[error("the remote refused to publish: {0} (check the stream key)")]
    PublishRefused(String),
    #[error("the remote refused to play the stream: {0}")]
    PlayRefused(String),
    /// The remote ended the stream (its status code).
    #[error("the remote stopped the stream: {0}")]
    Stopped(String),
    /// The remote did not get as far as `what` in time.
    #[error("the remote did not {what} within {} s", within.as_secs())]
    TooSlow {
        what: &'static str,
        within: Duration,
    },
}

impl ClientError {
    /// The session could not make `what`.
    pub fn request(what: &'static str) -> impl FnOnce(ClientSessionError) -> Self {
        move |source| Self::Request { what, source }
    }
}

/// The remote's bytes through the session (see [`super::feed`] for why it is guarded).
pub fn read(
    session: &mut ClientSession,
    bytes: &[u8],
) -> Result<Vec<ClientSessionResult>, ClientError> {
    super::feed(|| session.handle_input(bytes))?.map_err(ClientError::Unreadable)
}

/// The client side of the RTMP handshake; returns the bytes that came after it.
pub async fn handshake(io: &mut Box<dyn Io>) -> Result<Vec<u8>, ClientError> {
    let mut hs = Handshake::new(PeerType::Client);
    let p0p1 = hs
        .generate_outbound_p0_and_p1()
        .map_err(ClientError::Handshake)?;
    io.write_all(&p0p1)
        .await
        .map_err(ClientError::HandshakeIo)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = io.read(&mut buf).await.map_err(ClientError::HandshakeIo)?;
        if n == 0 {
            return Err(ClientError::HandshakeClosed);
        }
        match hs.process_bytes(&buf[..n]) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                io.write_all(&response_bytes)
                    .await
                    .map_err(ClientError::HandshakeIo)?;
            }
            Ok(HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            }) => {
                io.write_all(&response_bytes)
                    .await
                    .map_err(ClientError::HandshakeIo)?;
                return Ok(remaining_bytes);
            }
            Err(e) => return Err(ClientError::Handshake(e)),
        }
    }
}

/// Sends the packets among `results`; returns the events.
pub async fn flush(
    w: &mut WriteHalf<Box<dyn Io>>,
    results: Vec<ClientSessionResult>,
) -> Result<Vec<ClientSessionEvent>, ClientError> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => write(w, &p.bytes).await?,
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    Ok(events)
}

pub async fn write(w: &mut WriteHalf<Box<dyn Io>>, data: &[u8]) -> Result<(), ClientError> {
    match tokio::time::timeout(WRITE_TIMEOUT, w.write_all(data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ClientError::Lost(e)),
        Err(_) => Err(ClientError::Stalled),
    }
}

/// Reads until the session raises an event `done` accepts (`Ok(true)`) or refuses;
/// returns the events that came after it in the same read.
pub async fn until(
    r: &mut ReadHalf<Box<dyn Io>>,
    w: &mut WriteHalf<Box<dyn Io>>,
    session: &mut ClientSession,
    mut done: impl FnMut(&ClientSessionEvent) -> Result<bool, ClientError>,
) -> Result<Vec<ClientSessionEvent>, ClientError> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = r.read(&mut buf).await.map_err(ClientError::Lost)?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        let results = read(session, &buf[..n])?;
        let mut events = flush(w, results).await?.into_iter();
        while let Some(event) = events.next() {
            if done(&event)? {
                // What came in the same read (a player's first media) is the caller's.
                return Ok(events.collect());
            }
        }
    }
}

/// An RTMP server's address as logs and lists show it, `rtmp[s]://host:port/app`: never the
/// stream name after it (a pull's may be a key, a push's is one).
pub fn server_url(tls: bool, host: &str, port: u16, app: &str) -> String {
    let s = if tls { "s" } else { "" };
    format!("rtmp{s}://{host}:{port}/{app}")
}

/// A client session connected to an application: both halves of the connection and the
/// session, ready to publish or play.
pub struct Connected {
    pub r: ReadHalf<Box<dyn Io>>,
    pub w: WriteHalf<Box<dyn Io>>,
    pub session: ClientSession,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected").finish_non_exhaustive()
    }
}

/// TCP (and TLS for `rtmps`) to `host:port` at an address the dialer allows, the
/// handshake, and `connect` to `app`; `tc_url` is the address as shown (no key).
pub async fn connect_app(
    dialer: &dyn Dialer,
    host: &str,
    port: u16,
    tls: bool,
    app: &str,
    tc_url: String,
) -> Result<(Connected, std::net::SocketAddr), ClientError> {
    let tcp = crate::dial::connect(dialer, host, port).await?;
    let peer = crate::dial::peer(&tcp)?;
    let mut io: Box<dyn Io> = if tls {
        dialer.tls(host, tcp).await?
    } else {
        Box::new(tcp)
    };
    let rest = handshake(&mut io).await?;
    let (mut r, mut w) = tokio::io::split(io);
    let mut config = ClientSessionConfig::new();
    config.tc_url = Some(tc_url);
    let (mut session, first) =
        ClientSession::new(config).map_err(ClientError::request("session"))?;
    flush(&mut w, first).await?;
    let results = read(&mut session, &rest)?;
    flush(&mut w, results).await?;
    let connect = session
        .request_connection(app.to_owned())
        .map_err(ClientError::request("connect"))?;
    flush(&mut w, vec![connect]).await?;
    until(&mut r, &mut w, &mut session, |e| match e {
        ClientSessionEvent::ConnectionRequestAccepted => Ok(true),
        ClientSessionEvent::ConnectionRequestRejected { description } => {
            Err(ClientError::AppRefused {
                app: app.to_owned(),
                description: description.clone(),
            })
        }
        _ => Ok(false),
    })
    .await?;
    Ok((Connected { r, w, session }, peer))
}
