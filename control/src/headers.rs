//! Response headers with fixed values, shared by every handler that answers over HTTP (the
//! API's public stats and song requests, HLS, DVR, the web UI's pages and assets), and the
//! gzip negotiation they share. Below both `api` and `http`, so neither imports the other
//! for them.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// A response header with a fixed value, set through [`set_fixed`].
pub type Fixed = (HeaderName, &'static str);

/// Any site may read the response: players and station pages are embedded on customers'
/// own sites.
pub const ANY_ORIGIN: Fixed = (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");

/// What the URL names never changes (segments, versioned assets), so it is cached forever.
pub const IMMUTABLE: Fixed = (header::CACHE_CONTROL, "public, max-age=31536000, immutable");

/// Caches may keep the response but must ask again before each use.
pub const NO_CACHE: Fixed = (header::CACHE_CONTROL, "no-cache");

/// Sets each header on `h`, replacing what was there.
pub fn set_fixed(h: &mut HeaderMap, headers: &[Fixed]) {
    for (name, value) in headers {
        h.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// Whether the request's `Accept-Encoding` takes gzip.
pub fn wants_gzip(req: &HeaderMap) -> bool {
    req.get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip)
}

/// Marks a response whose encoding follows the request's `Accept-Encoding`.
pub fn set_encoding(h: &mut HeaderMap, gzip: bool) {
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip`, `gzip;q=0.5`, not `gzip;q=0`).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let q = parts
            .find_map(|p| p.strip_prefix("q="))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}
