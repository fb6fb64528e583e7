//! The demo channel's encoder: publishes the demo clip over RTMP to our own RTMP port in a
//! loop, paced by the wall clock, with timestamps carried on from one pass to the next (a
//! continuous live stream, not a restart every ten seconds). Reconnects with back-off if
//! the engine drops it (a restart of the channel, a rotated stream key).
//!
//! rml_rtmp (the crate the engine's RTMP server uses) provides the client session; the FLV
//! file framing read here is a dozen lines, not worth a crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;

/// One FLV tag: audio (8) or video (9), its time in ms, its body.
struct Tag {
    video: bool,
    ms: u32,
    body: Bytes,
}

impl Tag {
    /// An AVC or AAC sequence header: sent once, at the start of a connection.
    fn is_header(&self) -> bool {
        self.body.len() > 1 && self.body[1] == 0
    }
}

/// The audio and video tags of an FLV file, in order.
fn read_flv(bytes: &[u8]) -> anyhow::Result<Vec<Tag>> {
    if bytes.len() < 13 || &bytes[..3] != b"FLV" {
        bail!("not an FLV file");
    }
    let header_len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let mut at = header_len + 4;
    let mut tags = Vec::new();
    while at + 11 <= bytes.len() {
        let kind = bytes[at];
        let size = u32::from_be_bytes([0, bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let ms = u32::from_be_bytes([bytes[at + 7], bytes[at + 4], bytes[at + 5], bytes[at + 6]]);
        let start = at + 11;
        let end = start + size;
        if end > bytes.len() {
            break;
        }
        if kind == 8 || kind == 9 {
            tags.push(Tag {
                video: kind == 9,
                ms,
                body: Bytes::copy_from_slice(&bytes[start..end]),
            });
        }
        at = end + 4;
    }
    if tags.is_empty() {
        bail!("the FLV file has no audio or video");
    }
    Ok(tags)
}

pub async fn run(state: AppState, rtmp: SocketAddr, clip: PathBuf, shutdown: CancellationToken) {
    let tags = match tokio::fs::read(&clip)
        .await
        .map_err(anyhow::Error::from)
        .and_then(|b| read_flv(&b))
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("demo: cannot read the clip {}: {e:#}", clip.display());
            return;
        }
    };
    let target = if rtmp.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], rtmp.port()))
    } else {
        rtmp
    };
    let mut wait = Duration::from_secs(2);
    loop {
        let outcome = tokio::select! {
            r = publish(&state, target, &tags) => r,
            () = shutdown.cancelled() => return,
        };
        match outcome {
            Ok(()) => wait = Duration::from_secs(2),
            Err(e) => tracing::info!("demo: the channel's clip stopped ({e:#}); again in {wait:?}"),
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
        wait = (wait * 2).min(Duration::from_secs(60));
    }
}

async fn send(
    stream: &mut TcpStream,
    results: Vec<ClientSessionResult>,
) -> anyhow::Result<Vec<ClientSessionEvent>> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => stream.write_all(&p.bytes).await?,
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    Ok(events)
}

/// One connection: handshake, connect, publish, then the clip over and over.
async fn publish(state: &AppState, target: SocketAddr, tags: &[Tag]) -> anyhow::Result<()> {
    let s = super::service(&state.db, super::TV).await?;
    if s.is_suspended() {
        bail!("{} is suspended", super::TV);
    }
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(target))
        .await
        .context("connecting timed out")??;
    stream.set_nodelay(true)?;
    let mut hs = Handshake::new(PeerType::Client);
    stream
        .write_all(
            &hs.generate_outbound_p0_and_p1()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
    let mut buf = vec![0u8; 8192];
    let leftover = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .context("the handshake timed out")??;
        if n == 0 {
            bail!("the server closed the connection during the handshake");
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                stream.write_all(&response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                stream.write_all(&response_bytes).await?;
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) =
        ClientSession::new(ClientSessionConfig::new()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    send(&mut stream, initial).await?;
    let mut events = send(
        &mut stream,
        session
            .handle_input(&leftover)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
    )
    .await?;
    let r = session
        .request_connection("live".to_owned())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    events.extend(send(&mut stream, vec![r]).await?);
    // Wait for "connected", ask to publish, wait for "publishing".
    let mut asked = false;
    loop {
        for e in events.drain(..) {
            match e {
                ClientSessionEvent::ConnectionRequestAccepted if !asked => {
                    asked = true;
                    let r = session
                        .request_publishing(s.stream_key.clone(), PublishRequestType::Live)
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    stream
                        .write_all(&match r {
                            ClientSessionResult::OutboundResponse(p) => p.bytes,
                            _ => Vec::new(),
                        })
                        .await?;
                }
                ClientSessionEvent::ConnectionRequestRejected { description } => {
                    bail!("connect refused: {description}")
                }
                ClientSessionEvent::PublishRequestAccepted => {
                    return stream_clip(stream, session, tags).await;
                }
                _ => {}
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .context("the server did not answer")??;
        if n == 0 {
            bail!("the server refused to let the demo publish (closed the connection)");
        }
        events = send(
            &mut stream,
            session
                .handle_input(&buf[..n])
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
    }
}

async fn stream_clip(
    stream: TcpStream,
    mut session: ClientSession,
    tags: &[Tag],
) -> anyhow::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    // What the server sends from now on (acknowledgements) is read and dropped; a closed
    // connection ends the publish.
    let mut drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let length = tags.last().map_or(1, |t| t.ms) + 34;
    let started = tokio::time::Instant::now();
    tracing::info!(
        "demo: the channel is live, looping a {} s clip",
        length / 1000
    );
    for pass in 0u32.. {
        for tag in tags {
            if pass > 0 && tag.is_header() {
                continue;
            }
            let ms = pass.wrapping_mul(length).wrapping_add(tag.ms);
            let due = started + Duration::from_millis(u64::from(ms));
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                _ = &mut drain => bail!("the server closed the connection"),
            }
            let ts = RtmpTimestamp::new(ms);
            let r = if tag.video {
                session.publish_video_data(tag.body.clone(), ts, false)
            } else {
                session.publish_audio_data(tag.body.clone(), ts, false)
            }
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if let ClientSessionResult::OutboundResponse(p) = r {
                writer.write_all(&p.bytes).await?;
            }
        }
    }
    Ok(())
}
