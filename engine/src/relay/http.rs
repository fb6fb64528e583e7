//! A small HTTP/1.1 GET client for relays (HLS playlists and segments, Icecast streams).
//!
//! Written here rather than taken from reqwest because every connection must go to an
//! address the [`Dialer`] allowed (checked after DNS, on every connect and redirect), the
//! engine has no TLS of its own (the dialer wraps it), and Shoutcast servers answer
//! `ICY 200 OK`, which no HTTP client accepts. It needs GET, Basic credentials, redirects,
//! `Content-Length`, chunked bodies and reading a stream as it comes: nothing more.

use std::net::SocketAddr;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::UrlError;
use crate::dial::{CONNECT_TIMEOUT, DialError, Dialer, Io};

/// A response head may not be longer than this.
const MAX_HEAD: usize = 16 * 1024;
/// Redirects followed (each to an address the dialer allows).
const MAX_REDIRECTS: usize = 3;

/// Why a GET failed. Its `Display` is a relay's last error (never the URL's credentials
/// or query: `url` fields hold [`HttpUrl::display`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("{url} did not answer within {within:?}")]
    NoAnswer {
        url: String,
        within: std::time::Duration,
    },
    #[error("a redirect without a Location")]
    NoLocation,
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the connection was lost: {0}")]
    Lost(#[source] std::io::Error),
    #[error("the answer's head is over 16 KB")]
    HeadTooLarge,
    #[error("{0} closed the connection without an answer")]
    NoResponse(String),
    #[error("the answer is not HTTP")]
    NotHttp,
    #[error("{url} is over {} MB", max >> 20)]
    TooLarge { url: String, max: usize },
    #[error("{url} was not read within {within:?}")]
    TooSlow {
        url: String,
        within: std::time::Duration,
    },
    #[error("a malformed chunked body")]
    BadChunks,
}

/// An `http://` or `https://` URL, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// `user:password`, if the URL carries credentials.
    pub(crate) auth: Option<String>,
}

impl std::fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (scheme, auth, host, port, path) = super::split_url(url)?;
        let tls = match scheme {
            "http" => false,
            "https" => true,
            _ => return Err(UrlError::NotHttp),
        };
        let path = path.split('#').next().unwrap_or("");
        Ok(Self {
            tls,
            host,
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
            auth: auth.map(percent_decode),
        })
    }

    /// The address without credentials, for logs and lists.
    pub fn display(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        // The query may hold a signed token: left out.
        format!(
            "{}://{host}:{}{}",
            if self.tls { "https" } else { "http" },
            self.port,
            self.path.split('?').next().unwrap_or("/")
        )
    }

    /// `reference` (a playlist's URI or a redirect's Location) resolved against this URL.
    /// Credentials stay only on the same server.
    pub fn join(&self, reference: &str) -> Result<Self, UrlError> {
        if reference.starts_with("http://") || reference.starts_with("https://") {
            let mut next = Self::parse(reference)?;
            if next.auth.is_none() && next.host == self.host && next.port == self.port {
                next.auth.clone_from(&self.auth);
            }
            return Ok(next);
        }
        if reference.starts_with("//") {
            return self.join(&format!(
                "{}:{reference}",
                if self.tls { "https" } else { "http" }
            ));
        }
        let path = if reference.starts_with('/') {
            reference.to_owned()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        if path.chars().any(|c| c.is_control() || c == ' ') {
            return Err(UrlError::SpacesInUri);
        }
        Ok(Self {
            path,
            ..self.clone()
        })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response's status and headers.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// An open response: its head, the connection, and body bytes already read.
pub struct Response {
    pub head: Head,
    pub conn: Box<dyn Io>,
    pub body: BytesMut,
    /// The server's address (what the dialer allowed).
    pub peer: SocketAddr,
}

crate::debug_fields!(Response { head, peer, .. });

/// `GET url` (following redirects), up to the response head.
pub async fn open(
    dialer: &dyn Dialer,
    url: &HttpUrl,
    extra: &[(&str, &str)],
) -> Result<Response, HttpError> {
    let mut url = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let r = tokio::time::timeout(CONNECT_TIMEOUT * 2, open_once(dialer, &url, extra))
            .await
            .map_err(|_| HttpError::NoAnswer {
                url: url.display(),
                within: CONNECT_TIMEOUT * 2,
            })??;
        match r.head.status {
            301 | 302 | 303 | 307 | 308 => {
                let to = r.head.header("location").ok_or(HttpError::NoLocation)?;
                url = url.join(&to)?;
            }
            200..=299 => return Ok(r),
            status => {
                return Err(HttpError::Status {
                    url: url.display(),
                    status,
                });
            }
        }
    }
    Err(HttpError::TooManyRedirects)
}

async fn open_once(
    dialer: &dyn Dialer,
    url: &HttpUrl,
    extra: &[(&str, &str)],
) -> Result<Response, HttpError> {
    let tcp = crate::dial::connect(dialer, &url.host, url.port).await?;
    let peer = crate::dial::peer(&tcp)?;
    let mut conn: Box<dyn Io> = if url.tls {
        dialer.tls(&url.host, tcp).await?
    } else {
        Box::new(tcp)
    };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: Tidecast/{}\r\nAccept: */*\r\nConnection: close\r\n",
        url.path,
        url.port,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(a) = &url.auth {
        req.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(a)
        ));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes())
        .await
        .map_err(HttpError::Lost)?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = parse_head(&buf[..end + 4])?;
            buf.advance(end + 4);
            return Ok(Response {
                head,
                conn,
                body: buf,
                peer,
            });
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLarge);
        }
        let n = conn.read_buf(&mut buf).await.map_err(HttpError::Lost)?;
        if n == 0 {
            return Err(HttpError::NoResponse(url.display()));
        }
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP/1.x head, or Shoutcast's `ICY 200 OK` (read as HTTP/1.0).
pub(crate) fn parse_head(raw: &[u8]) -> Result<Head, HttpError> {
    let owned;
    let raw = if raw.starts_with(b"ICY ") {
        owned = [b"HTTP/1.0 ".as_slice(), &raw[4..]].concat();
        &owned[..]
    } else {
        raw
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut res = httparse::Response::new(&mut headers);
    match res.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HttpError::NotHttp),
    }
    Ok(Head {
        status: res.code.unwrap_or(0),
        headers: res
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_owned(),
                    String::from_utf8_lossy(h.value).trim().to_owned(),
                )
            })
            .collect(),
    })
}

/// The whole body of `GET url`, at most `max` bytes.
pub async fn fetch(dialer: &dyn Dialer, url: &HttpUrl, max: usize) -> Result<Bytes, HttpError> {
    let Response {
        head,
        mut conn,
        mut body,
        ..
    } = open(dialer, url, &[]).await?;
    let read_all = async {
        loop {
            if body.len() > max {
                return Err(HttpError::TooLarge {
                    url: url.display(),
                    max,
                });
            }
            if let Some(len) = head
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok())
                && body.len() >= len
            {
                body.truncate(len);
                return Ok(());
            }
            let n = conn.read_buf(&mut body).await.map_err(HttpError::Lost)?;
            if n == 0 {
                return Ok(());
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT * 3, read_all)
        .await
        .map_err(|_| HttpError::TooSlow {
            url: url.display(),
            within: CONNECT_TIMEOUT * 3,
        })??;
    if head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        return dechunk(&body);
    }
    Ok(body.freeze())
}

/// A chunked body (read to its end) as its data.
pub(crate) fn dechunk(mut raw: &[u8]) -> Result<Bytes, HttpError> {
    let bad = || HttpError::BadChunks;
    let mut out = BytesMut::with_capacity(raw.len());
    loop {
        let line_end = find(raw, b"\r\n").ok_or_else(bad)?;
        let size_text = std::str::from_utf8(&raw[..line_end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out.freeze());
        }
        if size.checked_add(2).is_none_or(|need| raw.len() < need) {
            return Err(bad());
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_join_and_hide_credentials() {
        let u = HttpUrl::parse("http://dj:p%40ss@radio.example:8000/live.mp3").expect("parse");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("radio.example", 8000, "/live.mp3")
        );
        assert_eq!(u.auth.as_deref(), Some("dj:p@ss"));
        assert_eq!(u.display(), "http://radio.example:8000/live.mp3");
        let h = HttpUrl::parse("https://cdn.example/a/b/index.m3u8?t=1").expect("parse");
        assert_eq!((h.port, h.path.as_str()), (443, "/a/b/index.m3u8?t=1"));
        assert_eq!(h.join("seg1.ts").expect("rel").path, "/a/b/seg1.ts");
        assert_eq!(h.join("/x/seg.ts").expect("abs").path, "/x/seg.ts");
        let other = h.join("http://elsewhere:81/s.ts").expect("other host");
        assert_eq!(
            (other.host.as_str(), other.port, other.auth),
            ("elsewhere", 81, None)
        );
        let v6 = HttpUrl::parse("http://[::1]:8080/").expect("v6");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
        let q = HttpUrl::parse("https://cdn.example/live.m3u8?token=secret").expect("token");
        assert!(!q.display().contains("secret"));
        assert!(dechunk(b"ffffffffffffffff\r\nab").is_err());
        for bad in [
            "ftp://x/",
            "http://",
            "http://host:port/",
            "http://h/a b",
            "http://a@b@c/",
            "http://h#x/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn heads_and_chunked_bodies() {
        let h = parse_head(b"ICY 200 OK\r\nicy-name:Test\r\ncontent-type:audio/mpeg\r\n\r\n")
            .expect("icy");
        assert_eq!(
            (h.status, h.header("Content-Type").as_deref()),
            (200, Some("audio/mpeg"))
        );
        assert_eq!(
            &dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n").expect("chunks")[..],
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_err());
    }
}
