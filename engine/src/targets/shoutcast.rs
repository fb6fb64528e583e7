//! A Shoutcast target: the source protocol of Shoutcast v1 (and Shoutcast 2 DNAS in its
//! legacy mode, which every DNAS 2 accepts): connect to the listener port + 1, send the
//! password (`password:#<sid>` for a DNAS 2 stream id), wait for `OK2`, send `icy-*`
//! headers, then the audio. Titles go to `/admin.cgi?mode=updinfo` on the listener port.
//! The mount is followed exactly as for Icecast ([`super::icecast`]).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::icecast::{Remote, query_value, start_remote};
use super::{Context, TargetError};
use crate::dial::Dialer;

#[derive(Clone)]
pub struct ShoutcastTarget {
    pub host: String,
    /// The listener port (the source connects to the next one).
    pub port: u16,
    /// Shoutcast 2: the stream id; `None` for v1 (one stream per server).
    pub stream_id: Option<u16>,
    pub password: String,
}

crate::debug_fields!(ShoutcastTarget {
    host,
    port,
    stream_id,
    password: redacted
});

impl ShoutcastTarget {
    pub fn display(&self) -> String {
        match self.stream_id {
            Some(sid) => format!("shoutcast://{}:{}/{sid}", self.host, self.port),
            None => format!("shoutcast://{}:{}", self.host, self.port),
        }
    }
}

/// Starts target `id`: `service`'s mount `mount` sent to `to`, until it is stopped.
pub fn start(
    ctx: &Context,
    id: i64,
    service: crate::admission::ServiceId,
    mount: String,
    to: ShoutcastTarget,
    dialer: Arc<dyn Dialer>,
) {
    start_remote(ctx, id, service, mount, Remote::Shoutcast(to), dialer);
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// The password line, `OK2`, then the stream's `icy-*` headers.
pub(crate) async fn login(
    sock: &mut TcpStream,
    to: &ShoutcastTarget,
    info: &crate::mount::StreamInfo,
) -> Result<(), TargetError> {
    let pass = match to.stream_id {
        Some(sid) => format!("{}:#{sid}\r\n", to.password),
        None => format!("{}\r\n", to.password),
    };
    sock.write_all(pass.as_bytes())
        .await
        .map_err(TargetError::LoginIo)?;
    // The answer is a line or two: `OK2\r\nicy-caps:11\r\n\r\n`, or `invalid password`.
    let mut buf = vec![0u8; 512];
    let mut got = 0;
    while got < buf.len() {
        let n = sock
            .read(&mut buf[got..])
            .await
            .map_err(TargetError::LoginIo)?;
        if n == 0 {
            break;
        }
        got += n;
        let text = &buf[..got];
        if text.windows(4).any(|w| w == b"\r\n\r\n")
            || (text.ends_with(b"\n") && !text.starts_with(b"OK2"))
        {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&buf[..got]).into_owned();
    let first = answer.lines().next().unwrap_or("").trim();
    if first != "OK2" {
        return Err(if first.is_empty() {
            TargetError::ClosedAfterPassword
        } else if first.to_ascii_lowercase().contains("password") {
            TargetError::PasswordRefused
        } else {
            TargetError::SourceRefused(first.to_owned())
        });
    }
    let mut head = format!(
        "content-type:{}\r\nicy-pub:0\r\n",
        clean(&info.content_type)
    );
    if let Some(name) = info.name.as_deref().filter(|n| !n.is_empty()) {
        head.push_str(&format!("icy-name:{}\r\n", clean(name)));
    }
    if let Some(kbps) = info.bitrate_kbps {
        head.push_str(&format!("icy-br:{kbps}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes())
        .await
        .map_err(TargetError::LoginIo)
}

/// `GET /admin.cgi?…&mode=updinfo&song=…` on the listener port.
pub(crate) fn title_request(to: &ShoutcastTarget, title: &str) -> String {
    let sid = to
        .stream_id
        .map(|s| format!("sid={s}&"))
        .unwrap_or_default();
    format!(
        "GET /admin.cgi?{sid}pass={}&mode=updinfo&song={} HTTP/1.0\r\nHost: {}:{}\r\nUser-Agent: Mozilla/5.0 (Tidecast/{})\r\n\r\n",
        query_value(&to.password),
        query_value(title),
        to.host,
        to.port,
        env!("CARGO_PKG_VERSION")
    )
}
