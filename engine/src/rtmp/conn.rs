//! One RTMP connection: handshake, session, admission of the publish request, then the
//! stream until the publisher leaves, goes silent, or is dropped by the control plane.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Context;
use crate::admission::{Decision, DenyReason, PublishRequest};
use crate::ingest::publisher::{Expect, Publisher};
use crate::registry::SessionGuard;

/// The handshake and the publish request must be done within this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// A publisher that sends nothing for this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a client may send before its publish request is accepted.
const MAX_BYTES_BEFORE_PUBLISH: usize = 64 * 1024;
/// Stream keys are generated short; anything longer is refused before any lookup.
const MAX_KEY_LEN: usize = 256;

/// Why a connection ended, in a user's words.
type Ended = String;

pub async fn run(
    mut sock: TcpStream,
    remote: SocketAddr,
    ctx: Context,
    shutdown: CancellationToken,
) {
    let mut conn = Conn {
        remote,
        ctx,
        publishing: None,
        app: String::new(),
    };
    let why = tokio::select! {
        () = shutdown.cancelled() => "server shutting down".to_owned(),
        why = conn.serve(&mut sock) => why,
    };
    let was_publishing = conn.publishing.is_some();
    if let Some(p) = conn.publishing.take() {
        let slug = p.publisher.stream_slug().to_owned();
        let secs = p.publisher.started.elapsed().as_secs();
        let mb = p.publisher.bytes_in as f64 / 1e6;
        conn.ctx.ingest.off_air(p.publisher);
        tracing::info!(%remote, stream = %slug, "publisher disconnected after {secs} s ({mb:.1} MB): {why}");
    } else if !was_publishing {
        tracing::debug!(%remote, "RTMP connection closed: {why}");
    }
    let _ = sock.shutdown().await;
}

struct Publishing {
    publisher: Publisher,
    session: SessionGuard,
}

struct Conn {
    remote: SocketAddr,
    ctx: Context,
    publishing: Option<Publishing>,
    app: String,
}

impl Conn {
    async fn serve(&mut self, sock: &mut TcpStream) -> Ended {
        let mut buf = vec![0u8; 64 * 1024];
        let remaining = match tokio::time::timeout(SETUP_TIMEOUT, handshake(sock, &mut buf)).await {
            Ok(Ok(rest)) => rest,
            Ok(Err(why)) => {
                tracing::info!(remote = %self.remote, "RTMP handshake failed: {why}");
                return why;
            }
            Err(_) => return "no handshake within 10 s".into(),
        };
        let mut config = ServerSessionConfig::new();
        config.chunk_size = 4096;
        let (mut session, initial) = match ServerSession::new(config) {
            Ok(s) => s,
            Err(e) => return format!("RTMP session could not start: {e}"),
        };
        let mut work = initial;
        match read(&mut session, &remaining) {
            Ok(r) => work.extend(r),
            Err(e) => return self.protocol_error(e),
        }
        let setup_deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
        let mut before_publish = remaining.len();
        loop {
            if let Err(why) = self.process(sock, &mut session, &mut work).await {
                return why;
            }
            // Until it publishes, a client has SETUP_TIMEOUT in all, however it trickles in
            // (rml_rtmp applies a chunk size of 0 without telling; such a client ends here).
            let publishing = self.publishing.is_some();
            let cancelled = async {
                match &self.publishing {
                    Some(p) => p.session.cancelled().await,
                    None => tokio::time::sleep_until(setup_deadline).await,
                }
            };
            let n = tokio::select! {
                () = cancelled => return if publishing {
                    "dropped by the control plane".into()
                } else {
                    tracing::info!(remote = %self.remote, "RTMP connection closed: no publish request within 10 s");
                    "no publish request within 10 s".into()
                },
                r = tokio::time::timeout(IDLE_TIMEOUT, sock.read(&mut buf)) => match r {
                    Ok(Ok(0)) => return "the publisher closed the connection".into(),
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => return format!("read error: {e}"),
                    Err(_) => return format!("no data for {} s", IDLE_TIMEOUT.as_secs()),
                },
            };
            if !publishing {
                // connect + createStream + publish take a few hundred bytes; a client that
                // sends far more first is not a publisher (and rml_rtmp would buffer it).
                before_publish += n;
                if before_publish > MAX_BYTES_BEFORE_PUBLISH {
                    return self.protocol_error("over 64 KB sent before publishing");
                }
            }
            match read(&mut session, &buf[..n]) {
                Ok(r) => work.extend(r),
                Err(e) => return self.protocol_error(e),
            }
        }
    }

    fn protocol_error(&self, e: impl std::fmt::Display) -> Ended {
        tracing::info!(remote = %self.remote, "RTMP protocol error, connection closed: {e}");
        format!("protocol error: {e}")
    }

    /// Works through the session's results (and the results those produce).
    async fn process(
        &mut self,
        sock: &mut TcpStream,
        session: &mut ServerSession,
        work: &mut Vec<ServerSessionResult>,
    ) -> Result<(), Ended> {
        while !work.is_empty() {
            for result in std::mem::take(work) {
                match result {
                    ServerSessionResult::OutboundResponse(packet) => {
                        // A client that stops reading must not hold this task (or its
                        // stream key) forever.
                        match tokio::time::timeout(IDLE_TIMEOUT, sock.write_all(&packet.bytes))
                            .await
                        {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return Err(format!("write error: {e}")),
                            Err(_) => return Err("the client stopped reading".into()),
                        }
                    }
                    ServerSessionResult::RaisedEvent(event) => {
                        self.event(sock, session, work, event).await?;
                    }
                    ServerSessionResult::UnhandleableMessageReceived(_) => {}
                }
            }
        }
        Ok(())
    }

    async fn event(
        &mut self,
        sock: &mut TcpStream,
        session: &mut ServerSession,
        work: &mut Vec<ServerSessionResult>,
        event: ServerSessionEvent,
    ) -> Result<(), Ended> {
        match event {
            // Chunk sizes: rml_rtmp refuses one over 2^31 (an error, the connection closes)
            // and applies others without an event; a client that sets 0 never completes a
            // message and ends at the setup timeout (tests/tests/rtmp.rs checks both).
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                self.app = app_name;
                work.extend(
                    session
                        .accept_request(request_id)
                        .map_err(|e| self.protocol_error(e))?,
                );
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => {
                if self.publishing.is_some() {
                    let r = session
                        .reject_request(
                            request_id,
                            "NetStream.Publish.BadName",
                            "already publishing on this connection",
                        )
                        .map_err(|e| self.protocol_error(e))?;
                    work.extend(r);
                    return Ok(());
                }
                match self.admit(&app_name, &stream_key).await {
                    Ok(p) => {
                        self.publishing = Some(p);
                        work.extend(
                            session
                                .accept_request(request_id)
                                .map_err(|e| self.protocol_error(e))?,
                        );
                    }
                    Err((code, why)) => {
                        let r = session
                            .reject_request(request_id, code, &why)
                            .map_err(|e| self.protocol_error(e))?;
                        // Say why before closing, so the encoder shows it.
                        for result in r {
                            if let ServerSessionResult::OutboundResponse(p) = result {
                                let _ = tokio::time::timeout(
                                    Duration::from_secs(2),
                                    sock.write_all(&p.bytes),
                                )
                                .await;
                            }
                        }
                        return Err(format!("publish refused: {why}"));
                    }
                }
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                if let Some(p) = self.publishing.as_mut() {
                    p.publisher.set_expected(Expect {
                        video: Some(
                            metadata.video_codec_id.is_some() || metadata.video_width.is_some(),
                        ),
                        audio: Some(
                            metadata.audio_codec_id.is_some()
                                || metadata.audio_sample_rate.is_some(),
                        ),
                        video_kbps: metadata.video_bitrate_kbps,
                    });
                }
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(data, timestamp.value, true)?;
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(data, timestamp.value, false)?;
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                return Err("the publisher stopped publishing".into());
            }
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                let r = session
                    .reject_request(
                        request_id,
                        "NetStream.Play.Failed",
                        "playback is over HLS: /hls/<service>/index.m3u8",
                    )
                    .map_err(|e| self.protocol_error(e))?;
                work.extend(r);
            }
            _ => {}
        }
        Ok(())
    }

    fn media(&mut self, data: Bytes, ts: u32, video: bool) -> Result<(), Ended> {
        let Some(p) = self.publishing.as_mut() else {
            // Media before an accepted publish: ignored (rml_rtmp only raises it for a
            // publishing stream, so this is a client out of order).
            return Ok(());
        };
        let r = if video {
            p.publisher.video(data, ts)
        } else {
            p.publisher.audio(data, ts)
        };
        r.map_err(|e| {
            tracing::warn!(remote = %self.remote, stream = %p.publisher.stream_slug(), "publisher dropped: {e}");
            format!("bad media: {e}")
        })
    }

    /// Asks the control plane whether this key may publish, and claims the stream.
    async fn admit(&self, app: &str, key: &str) -> Result<Publishing, (&'static str, String)> {
        let remote = self.remote;
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            tracing::warn!(%remote, "publish refused: a stream key of {} bytes", key.len());
            return Err(("NetStream.Publish.BadName", "invalid stream key".into()));
        }
        if let Some(wait) = self.ctx.logins.refused_for(remote.ip()) {
            tracing::warn!(%remote, "publish refused: too many wrong stream keys from this address");
            return Err((
                "NetStream.Publish.Denied",
                format!(
                    "too many failed attempts; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let app = if app.is_empty() {
            self.app.as_str()
        } else {
            app
        };
        let req = PublishRequest::Rtmp {
            app: app.to_owned(),
            stream_key: key.to_owned(),
            remote,
        };
        let grant = match self.ctx.admission.admit_publish(&req).await {
            Decision::Allow(g) => g,
            Decision::Deny(d) => {
                if d.reason == DenyReason::NotFound {
                    self.ctx.logins.failed(remote.ip());
                }
                // The key itself is a secret: never logged.
                tracing::warn!(%remote, %app, "publish refused: {}", d.message);
                let code = match d.reason {
                    DenyReason::NotFound | DenyReason::BadCredentials => {
                        "NetStream.Publish.BadName"
                    }
                    _ => "NetStream.Publish.Denied",
                };
                return Err((code, d.message));
            }
        };
        let (publisher, session) = self
            .ctx
            .ingest
            .claim(&grant, remote, "RTMP publisher")
            .map_err(|e| {
                tracing::warn!(%remote, stream = %grant.mount, "publish refused: {e}");
                ("NetStream.Publish.BadName", e.to_string())
            })?;
        Ok(Publishing { publisher, session })
    }
}

/// Runs the server side of the handshake; returns the bytes that came after it.
/// A client's bytes through the session; what it could not read (or panicked on, see
/// [`super::feed`]) as a message for the log.
pub(crate) fn read(
    session: &mut ServerSession,
    bytes: &[u8],
) -> Result<Vec<ServerSessionResult>, String> {
    match super::feed(|| session.handle_input(bytes)) {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn handshake(sock: &mut TcpStream, buf: &mut [u8]) -> Result<Vec<u8>, Ended> {
    let mut hs = Handshake::new(PeerType::Server);
    loop {
        let n = sock
            .read(buf)
            .await
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        match hs.process_bytes(&buf[..n]) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                sock.write_all(&response_bytes)
                    .await
                    .map_err(|e| format!("write error: {e}"))?;
            }
            Ok(HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            }) => {
                sock.write_all(&response_bytes)
                    .await
                    .map_err(|e| format!("write error: {e}"))?;
                return Ok(remaining_bytes);
            }
            Err(e) => return Err(format!("bad handshake: {e:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 25 bytes after the handshake (found by fuzz/rtmp_session): an AMF0 command of fewer
    /// than three values, on which rml_rtmp panics. The port reads it as an error.
    #[test]
    fn a_short_amf0_command_is_an_error_not_a_panic() {
        let input = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/regressions/rtmp_session/short-amf0-command.bin"),
        )
        .expect("the regression input");
        let (mut session, _) = ServerSession::new(ServerSessionConfig::new()).expect("a session");
        // A byte at a time, as the fuzzer fed it (the harness's step byte, 0, first).
        let why = input[1..]
            .iter()
            .find_map(|b| read(&mut session, std::slice::from_ref(b)).err())
            .expect("refused");
        assert!(why.contains("malformed RTMP message"), "{why}");
    }
}
