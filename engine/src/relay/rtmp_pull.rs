//! An RTMP relay: plays `rtmp[s]://host/app/name` as a viewer would and hands on its FLV
//! tags as they come.

use rml_rtmp::sessions::ClientSessionEvent;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{IDLE_TIMEOUT, Pulled, RelayError};
use crate::dial::Dialer;
use crate::media::flv::Tag;
use crate::rtmp::client::{ClientError, Connected, connect_app, flush, until};

/// Where to play from.
#[derive(Clone, PartialEq, Eq)]
pub struct RtmpSource {
    pub host: String,
    pub port: u16,
    pub app: String,
    pub name: String,
    pub tls: bool,
}

impl std::fmt::Debug for RtmpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl RtmpSource {
    /// The URL without the stream name (it may be a key).
    pub fn display(&self) -> String {
        crate::rtmp::client::server_url(self.tls, &self.host, self.port, &self.app)
    }
}

pub async fn run(
    dialer: &dyn Dialer,
    src: &RtmpSource,
    tx: mpsc::Sender<Pulled>,
) -> Result<(), RelayError> {
    let setup = async {
        let (c, peer) = connect_app(
            dialer,
            &src.host,
            src.port,
            src.tls,
            &src.app,
            src.display(),
        )
        .await?;
        let Connected {
            mut r,
            mut w,
            mut session,
        } = c;
        let play = session
            .request_playback(src.name.clone())
            .map_err(ClientError::request("play"))?;
        flush(&mut w, vec![play]).await?;
        let early = until(&mut r, &mut w, &mut session, |e| match e {
            ClientSessionEvent::PlaybackRequestAccepted => Ok(true),
            ClientSessionEvent::UnhandleableOnStatusCode { code } => {
                Err(ClientError::PlayRefused(code.clone()))
            }
            _ => Ok(false),
        })
        .await?;
        Ok::<_, ClientError>((r, w, session, early, peer))
    };
    let (mut r, mut w, mut session, early, peer) =
        tokio::time::timeout(crate::dial::CONNECT_TIMEOUT * 2, setup)
            .await
            .map_err(|_| ClientError::TooSlow {
                what: "start playing",
                within: crate::dial::CONNECT_TIMEOUT * 2,
            })??;
    if tx.send(Pulled::Connected(peer)).await.is_err() {
        return Ok(());
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = early;
    loop {
        for e in std::mem::take(&mut pending) {
            let tag = match e {
                ClientSessionEvent::VideoDataReceived { data, timestamp } => Tag {
                    video: true,
                    ts: timestamp.value,
                    data,
                },
                ClientSessionEvent::AudioDataReceived { data, timestamp } => Tag {
                    video: false,
                    ts: timestamp.value,
                    data,
                },
                ClientSessionEvent::UnhandleableOnStatusCode { code }
                    if code.contains("Unpublish") || code.contains("Stop") =>
                {
                    return Err(ClientError::Stopped(code).into());
                }
                _ => continue,
            };
            if tx.send(Pulled::Tag(tag)).await.is_err() {
                return Ok(());
            }
        }
        let n = match tokio::time::timeout(IDLE_TIMEOUT, r.read(&mut buf)).await {
            Ok(Ok(0)) => return Err(ClientError::Closed.into()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(ClientError::Lost(e).into()),
            Err(_) => return Err(RelayError::RemoteSilent(IDLE_TIMEOUT)),
        };
        let results = crate::rtmp::client::read(&mut session, &buf[..n])?;
        pending = flush(&mut w, results).await?;
    }
}
