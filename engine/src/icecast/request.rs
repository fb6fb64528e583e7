//! Sans-IO parsing of request heads on the Icecast port.
//!
//! One parser serves every client of the port: sources (`PUT`/`SOURCE`), listeners
//! (`GET`/`HEAD`), status pages and the admin metadata call. It only looks at bytes: the
//! connection code feeds what it has read and gets back "need more", a head, or an error.
//! httparse does the HTTP/1 grammar; this module adds the limits and the Icecast specifics
//! (the `SOURCE` method, Basic credentials, the `ICE/1.0` version some old clients send).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The largest request head accepted; anything longer is refused (Icecast's limit is similar).
pub const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;

/// A parsed request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The path without the query, percent-decoded.
    pub path: String,
    /// The raw query string (after `?`), if any.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// Why a head could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("request head is larger than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(String),
}

impl RequestHead {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Authorization: Basic …` as (user, password).
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?.trim();
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }

    /// A query parameter, percent-decoded (`+` is a space, as forms send it).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&k.replace('+', " ")) == name)
                .then(|| percent_decode(&v.replace('+', " ")))
        })
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete, read more.
/// `Ok(Some((head, n)))`: the head took `n` bytes; what follows is the body.
pub fn parse_head(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    // A read that ends inside `ICE/1.0` is a head still coming, not a bad version (found
    // by fuzz/icecast_head: httparse refuses `ICE/1.` at once): judged as the same read of
    // `HTTP/1.0`, so what comes before is still checked.
    if let Some(http) = ice_version_cut_short(buf) {
        return parse_head(&http).map(|_| None);
    }
    // Old Icecast clients (and some butt versions) send `SOURCE /mount ICE/1.0`; httparse
    // only knows HTTP/1.x, so read that version as HTTP/1.0.
    let patched;
    let input = match find_ice_version(buf) {
        Some(at) => {
            let mut v = buf.to_vec();
            v[at..at + 7].copy_from_slice(b"HTTP/1.");
            v.insert(at + 7, b'0');
            patched = v;
            &patched[..]
        }
        None => buf,
    };
    let shift = input.len() - buf.len();
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(input) {
        Ok(httparse::Status::Complete(n)) => {
            let n = n - shift;
            if n > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            let method = req.method.unwrap_or_default().to_owned();
            let target = req.path.unwrap_or_default();
            let (raw_path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q.to_owned())),
                None => (target, None),
            };
            if !raw_path.starts_with('/') {
                return Err(HeadError::Malformed(format!(
                    "request target {target:?} is not a path"
                )));
            }
            let headers = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).trim().to_owned(),
                    )
                })
                .collect();
            Ok(Some((
                RequestHead {
                    method,
                    path: percent_decode(raw_path),
                    query,
                    headers,
                },
                n,
            )))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(e) => Err(HeadError::Malformed(e.to_string())),
    }
}

/// Where `ICE/1.0` sits in the request line, if it is there.
fn find_ice_version(buf: &[u8]) -> Option<usize> {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = &buf[..line_end];
    line.windows(7).position(|w| w == b"ICE/1.0")
}

/// If `buf` is an unfinished request line that ends in a space and part of `ICE/1.0`, the
/// same line with that part spelled as much of `HTTP/1.0`.
fn ice_version_cut_short(buf: &[u8]) -> Option<Vec<u8>> {
    const ICE: &[u8] = b"ICE/1.0";
    const HTTP: [&[u8]; 6] = [b"H", b"HT", b"HTT", b"HTTP/", b"HTTP/1", b"HTTP/1."];
    if buf.contains(&b'\n') {
        return None;
    }
    let k = (1..ICE.len())
        .find(|&k| buf.len() > k && buf[buf.len() - k - 1] == b' ' && buf.ends_with(&ICE[..k]))?;
    let mut http = buf[..buf.len() - k].to_vec();
    http.extend_from_slice(HTTP[k - 1]);
    Some(http)
}

/// `%2F` → `/`. Invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_with_basic_auth() {
        let raw = b"PUT /jazz HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\
                    Content-Type: audio/mpeg\r\nIce-Name: Jazz FM\r\n\r\n\xff\xfbDATA";
        let (head, n) = parse_head(raw).expect("valid").expect("complete");
        assert_eq!(head.method, "PUT");
        assert_eq!(head.path, "/jazz");
        assert_eq!(head.basic_auth(), Some(("source".into(), "hackme".into())));
        assert_eq!(head.header("ice-name"), Some("Jazz FM"));
        assert_eq!(&raw[n..], b"\xff\xfbDATA");
    }

    #[test]
    fn source_ice_version() {
        let raw = b"SOURCE /live ICE/1.0\r\nAuthorization: Basic c291cmNlOng=\r\n\r\nrest";
        let (head, n) = parse_head(raw).expect("valid").expect("complete");
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("SOURCE", "/live")
        );
        assert_eq!(&raw[n..], b"rest");
        // Read as the port reads it: a read that ends inside the version is not an error.
        for cut in 13..raw.len() {
            match parse_head(&raw[..cut]) {
                Ok(None) => {}
                Ok(Some((_, n))) => assert!(n <= cut, "a head past the read"),
                Err(e) => panic!("{:?} refused: {e}", String::from_utf8_lossy(&raw[..cut])),
            }
        }
    }

    #[test]
    fn incomplete_garbage_and_oversized() {
        assert_eq!(parse_head(b"GET /jazz HTTP/1.1\r\nHost:"), Ok(None));
        assert!(matches!(
            parse_head(b"\x16\x03\x01garbage\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
        assert!(matches!(
            parse_head(b"GET jazz HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
        let mut big = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(parse_head(&big), Err(HeadError::TooLarge));
    }

    #[test]
    fn query_and_decoding() {
        let raw = b"GET /admin/metadata?mount=%2Fjazz&mode=updinfo&song=Miles+Davis+-+So%20What HTTP/1.0\r\n\r\n";
        let (head, _) = parse_head(raw).expect("valid").expect("complete");
        assert_eq!(head.path, "/admin/metadata");
        assert_eq!(head.query_param("mount").as_deref(), Some("/jazz"));
        assert_eq!(
            head.query_param("song").as_deref(),
            Some("Miles Davis - So What")
        );
        assert_eq!(head.query_param("missing"), None);
        assert_eq!(percent_decode("100%"), "100%");
    }
}
