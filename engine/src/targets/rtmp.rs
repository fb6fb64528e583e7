//! An RTMP/RTMPS target (YouTube, Twitch, Facebook, any RTMP server): a stream's FLV tags
//! sent on as a publisher would, without re-encoding.
//!
//! The task follows a [`Tap`]: a video service's own stream as its publisher sends it, or
//! what an encoder made for this target alone (a radio station as video). It connects
//! while the tap is live, starts the remote on the sequence headers and a keyframe, and
//! rebases timestamps to start at zero on every connection. A publisher that reconnects
//! (new codecs, perhaps) makes the target reconnect too, so the remote never sees
//! pictures its decoder was not configured for.

use std::sync::Arc;

use bytes::Bytes;
use rml_rtmp::sessions::{ClientSession, ClientSessionEvent, PublishRequestType};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, WriteHalf};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::Context;
use super::{SharedStatus, State, lock};
use crate::dial::{CONNECT_TIMEOUT, Dialer, Io};
use crate::rtmp::client::{ClientError, Connected, connect_app, flush, until};
use crate::tap::Tap;

/// Where and with which key to publish.
#[derive(Clone)]
pub struct RtmpTarget {
    pub host: String,
    pub port: u16,
    /// The application path (`live2` for YouTube, `app` for Twitch).
    pub app: String,
    pub key: String,
    /// `rtmps://`: TLS, the certificate checked for `host`.
    pub tls: bool,
}

crate::debug_fields!(RtmpTarget {
    host,
    port,
    app,
    key: redacted,
    tls
});

impl RtmpTarget {
    /// The address without the key, for logs and lists.
    pub fn display(&self) -> String {
        crate::rtmp::client::server_url(self.tls, &self.host, self.port, &self.app)
    }
}

enum Ended {
    /// The tap stopped, or a new publisher took it over.
    Quiet,
    Stopped,
}

/// Starts target `id`: what `tap` carries sent to `to`, until it is stopped.
pub fn start(
    ctx: &Context,
    id: i64,
    service: crate::admission::ServiceId,
    tap: Arc<Tap>,
    to: RtmpTarget,
    dialer: Arc<dyn Dialer>,
) {
    let (cancel, status) = ctx.targets.register(id, service);
    tokio::spawn(async move {
        run(id, &tap, &to, dialer.as_ref(), &status, &cancel).await;
    });
}

/// The target's loop, for callers that run it on a task of their own (radio as video).
pub async fn run(
    id: i64,
    tap: &Tap,
    to: &RtmpTarget,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    cancel: &CancellationToken,
) {
    let mut attempts = super::Attempts::default();
    let mut on = tap.watch();
    loop {
        // Wait for a publisher on the tap.
        while !tap.is_live() {
            {
                let mut st = lock(status);
                if st.state != State::Retrying {
                    st.state = State::Waiting;
                }
                st.live_since = None;
            }
            tokio::select! {
                r = on.changed() => if r.is_err() { return },
                () = cancel.cancelled() => return,
            }
        }
        attempts.begin(status);
        match push(tap, to, dialer, status, cancel).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Quiet) => attempts.quiet(status),
            Err(why) => {
                let log = |why: &str, wait| {
                    tracing::info!(target = id, remote = %to.display(), "RTMP target: {why}; trying again in {wait:?}");
                };
                if !attempts.failed(status, why, cancel, log).await {
                    return;
                }
            }
        }
    }
}

/// Connects, asks to publish, and sends until the tap goes quiet or the remote drops.
async fn push(
    tap: &Tap,
    to: &RtmpTarget,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    cancel: &CancellationToken,
) -> Result<Ended, ClientError> {
    let publisher = *tap.watch().borrow();
    let setup = async {
        let (c, _) = connect_app(dialer, &to.host, to.port, to.tls, &to.app, to.display()).await?;
        let Connected {
            mut r,
            mut w,
            mut session,
        } = c;
        let publish = session
            .request_publishing(to.key.clone(), PublishRequestType::Live)
            .map_err(ClientError::request("publish"))?;
        flush(&mut w, vec![publish]).await?;
        until(&mut r, &mut w, &mut session, |e| match e {
            ClientSessionEvent::PublishRequestAccepted => Ok(true),
            // The stream key is never in the message.
            ClientSessionEvent::UnhandleableOnStatusCode { code } => {
                Err(ClientError::PublishRefused(code.clone()))
            }
            _ => Ok(false),
        })
        .await?;
        Ok::<_, ClientError>((r, w, session))
    };
    let (mut r, mut w, mut session) = tokio::select! {
        () = cancel.cancelled() => return Ok(Ended::Stopped),
        s = tokio::time::timeout(CONNECT_TIMEOUT * 2, setup) => match s {
            Ok(s) => s?,
            Err(_) => return Err(ClientError::TooSlow { what: "accept the stream", within: CONNECT_TIMEOUT * 2 }),
        },
    };
    tracing::info!(remote = %to.display(), "RTMP target publishing");
    super::connected(status);

    let (headers, mut rx) = tap.follow();
    let has_video = headers.iter().any(|t| t.video);
    for h in headers {
        send(&mut session, &mut w, &h, 0).await?;
    }
    let mut on = tap.watch();
    // Pictures start on a keyframe (and again after falling behind); audio waits with them.
    let mut need_key = has_video;
    let mut base: Option<u32> = None;
    let mut buf = vec![0u8; 4096];
    loop {
        let tag = tokio::select! {
            () = cancel.cancelled() => return Ok(Ended::Stopped),
            r = on.changed() => {
                if r.is_err() || *on.borrow() != publisher {
                    return Ok(Ended::Quiet);
                }
                continue;
            }
            got = rx.recv() => match got {
                Ok(t) => t,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(remote = %to.display(), "RTMP target behind by {n} tags: resuming at a keyframe");
                    need_key = has_video;
                    continue;
                }
                Err(RecvError::Closed) => return Ok(Ended::Quiet),
            },
            // The remote's acknowledgements and pings are answered (rml_rtmp does it).
            n = r.read(&mut buf) => match n {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => {
                    let results = crate::rtmp::client::read(&mut session, &buf[..n])?;
                    for e in flush(&mut w, results).await? {
                        if let ClientSessionEvent::UnhandleableOnStatusCode { code } = e {
                            return Err(ClientError::Stopped(code));
                        }
                    }
                    continue;
                }
                Err(e) => return Err(ClientError::Lost(e)),
            },
        };
        if tag.is_header() {
            // A codec change mid-stream: the remote's decoder gets it as it comes.
            send(&mut session, &mut w, &tag, tag_ts(&mut base, tag.ts)).await?;
            continue;
        }
        if need_key {
            if !tag.is_keyframe() {
                continue;
            }
            need_key = false;
        }
        let ts = tag_ts(&mut base, tag.ts);
        send(&mut session, &mut w, &tag, ts).await?;
        lock(status).bytes += tag.data.len() as u64;
    }
}

/// `ts` on a timeline that starts at 0 with the first tag sent. A tag a little before the
/// first (audio behind the first keyframe) is sent at 0, not 49 days later.
fn tag_ts(base: &mut Option<u32>, ts: u32) -> u32 {
    let d = ts.wrapping_sub(*base.get_or_insert(ts)) as i32;
    d.max(0) as u32
}

async fn send(
    session: &mut ClientSession,
    w: &mut WriteHalf<Box<dyn Io>>,
    tag: &crate::media::flv::Tag,
    ts: u32,
) -> Result<(), ClientError> {
    let data: Bytes = tag.data.clone();
    let at = RtmpTimestamp::new(ts);
    let packet = if tag.video {
        session.publish_video_data(data, at, false)
    } else {
        session.publish_audio_data(data, at, false)
    }
    .map_err(ClientError::request("media packet"))?;
    flush(w, vec![packet]).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_start_at_zero_and_survive_the_wrap() {
        let mut base = None;
        assert_eq!(tag_ts(&mut base, 5000), 0);
        assert_eq!(tag_ts(&mut base, 5040), 40);
        let mut base = Some(u32::MAX - 10);
        assert_eq!(tag_ts(&mut base, 20), 31);
        let mut base = Some(5000);
        assert_eq!(tag_ts(&mut base, 4990), 0);
    }

    #[test]
    fn keys_never_reach_debug_output() {
        let t = RtmpTarget {
            host: "a.rtmp.youtube.com".into(),
            port: 1935,
            app: "live2".into(),
            key: "abcd-efgh-ijkl".into(),
            tls: false,
        };
        let shown = format!("{t:?} {}", t.display());
        assert!(!shown.contains("abcd"), "{shown}");
    }
}
