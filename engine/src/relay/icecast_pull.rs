//! A radio relay: another Icecast or Shoutcast server's stream (`http[s]://host/mount`),
//! taken as the station's own source: it goes on the mount exactly as a pushed source
//! would (framing, bitrate limit, HLS, recording, fallback).

use bytes::BytesMut;
use tokio_util::sync::CancellationToken;

use super::http::{HttpUrl, open};
use super::{Context, RelayError};
use crate::admission::{Decision, PublishRequest, ServiceId};
use crate::dial::Dialer;
use crate::icecast::source::{ACCEPTED_TYPES, serve, stream_info_with};
use crate::targets::SharedStatus;

/// Connects, takes the mount, and serves until the remote's stream ends or `stop` fires.
pub async fn run(
    ctx: &Context,
    service: ServiceId,
    url: &HttpUrl,
    dialer: &dyn Dialer,
    status: &SharedStatus,
    stop: &CancellationToken,
) -> Result<(), RelayError> {
    // No ICY metadata blocks: the bytes go on as audio. Titles come from the station.
    let r = open(dialer, url, &[("Icy-MetaData", "0")]).await?;
    let content_type = r
        .head
        .header("content-type")
        .unwrap_or_else(|| "audio/mpeg".into())
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !ACCEPTED_TYPES.contains(&content_type.as_str()) {
        return Err(RelayError::NotRadio {
            url: url.display(),
            content_type,
        });
    }
    if r.head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        return Err(RelayError::Chunked);
    }
    let head = r.head.clone();
    let info = stream_info_with(&|name| head.header(name), &content_type);
    let req = PublishRequest::Relay {
        service_id: service,
        from: url.display(),
    };
    let grant = match ctx.admission.admit_publish(&req).await {
        Decision::Allow(g) => g,
        Decision::Deny(d) => return Err(RelayError::NotAllowed(d.message)),
    };
    crate::targets::connected(status);
    let mut conn = r.conn;
    let body: BytesMut = r.body;
    serve(
        &mut conn,
        r.peer,
        &grant,
        info,
        b"",
        body,
        &ctx.sources,
        stop,
    )
    .await
    .map_err(|refusal| {
        let text = String::from_utf8_lossy(&refusal).into_owned();
        let why = text
            .rsplit("\r\n\r\n")
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        RelayError::MountRefused(why)
    })?;
    if stop.is_cancelled() {
        Ok(())
    } else {
        Err(RelayError::StoppedSending(url.display()))
    }
}
