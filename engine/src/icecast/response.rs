//! Writing the short HTTP/1.0 responses of the Icecast port (errors, status pages, the
//! listener's stream head). HTTP/1.0 with `Connection: close`, as Icecast answers: every
//! client of this port (encoders, players, scripts) understands it.

/// `Server:` header value.
pub const SERVER: &str = concat!("Tidecast/", env!("CARGO_PKG_VERSION"));

/// A complete response with a body.
pub fn full(
    status: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> Vec<u8> {
    let mut out = head(status, reason, content_type, extra);
    // `head` ends with the blank line; put Content-Length before it.
    out.truncate(out.len() - 2);
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A plain-text error answer.
pub fn error(status: u16, reason: &str, message: &str) -> Vec<u8> {
    full(
        status,
        reason,
        "text/plain; charset=utf-8",
        format!("{message}\n").as_bytes(),
        &[],
    )
}

/// 401 with a Basic challenge, as Icecast sends it (encoders then retry with credentials).
pub fn basic_challenge() -> Vec<u8> {
    let auth = [(
        "WWW-Authenticate",
        "Basic realm=\"Icecast2 Server\"".to_owned(),
    )];
    full(
        401,
        "Unauthorized",
        "text/plain",
        b"authentication required\n",
        &auth,
    )
}

/// A response head without Content-Length (a stream that runs until the connection ends).
pub fn head(status: u16, reason: &str, content_type: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.0 {status} {reason}\r\nServer: {SERVER}\r\nContent-Type: {content_type}\r\n\
         Cache-Control: no-cache, no-store\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n"
    );
    for (k, v) in extra {
        // Header values come from sources' ice-* headers: never let them break the head.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let r =
            String::from_utf8(full(404, "Not Found", "text/plain", b"nope", &[])).expect("utf8");
        assert!(r.starts_with("HTTP/1.0 404 Not Found\r\n"));
        assert!(r.ends_with("Content-Length: 4\r\n\r\nnope"));
        let h = String::from_utf8(head(
            200,
            "OK",
            "audio/mpeg",
            &[("icy-name", "A\r\nEvil: 1".into())],
        ))
        .expect("utf8");
        assert!(h.contains("icy-name: AEvil: 1\r\n") && h.ends_with("\r\n\r\n"));
    }
}
