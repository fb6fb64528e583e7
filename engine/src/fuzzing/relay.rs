//! What a relay reads from the server it pulls from (response heads, chunked bodies, HLS
//! playlists and MPEG-TS segments) and the URLs it is given or finds in them.

use bytes::Bytes;

use crate::media::avc::AvcConfig;
use crate::media::flv::{self, AudioTag, VideoTag};
use crate::relay::Source;
use crate::relay::hls_pull::{best_variant, media};
use crate::relay::http::{HttpUrl, dechunk, find, parse_head};
use crate::relay::ts::TsToTags;

/// The URL a relay asked, with credentials, against which a redirect's `Location` and a
/// playlist's URIs are resolved.
const BASE: &str = "https://relay:pw@origin.example:8443/live/index.m3u8?token=t";

/// Whether `display` (a URL as logs show it) carries no `user:password@`.
fn no_credentials(display: &str) -> bool {
    let rest = display.split_once("://").map_or(display, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    !authority.contains('@')
}

/// `reference` resolved against `base`: credentials go along only to the same server, and
/// the address shown never carries them.
fn check_join(base: &HttpUrl, reference: &str) {
    let Ok(next) = base.join(reference) else {
        return;
    };
    if next.host != base.host || next.port != base.port {
        assert!(
            next.auth.is_none() || reference.contains('@'),
            "credentials went to another server: {reference:?}"
        );
    }
    assert!(next.path.starts_with('/'), "path {:?}", next.path);
    assert!(no_credentials(&next.display()), "{}", next.display());
}

/// A response head as a relay reads it (everything up to the first blank line; Shoutcast's
/// `ICY 200 OK` too), and the `Location` of a redirect resolved against the URL asked.
/// Checks that the status has three digits at most and that credentials never follow a
/// redirect to another server.
pub fn http_head(data: &[u8]) {
    let Some(end) = find(data, b"\r\n\r\n") else {
        return;
    };
    let Ok(head) = parse_head(&data[..end + 4]) else {
        return;
    };
    assert!(head.status <= 999, "status {}", head.status);
    let _ = head.header("content-length");
    if let Some(location) = head.header("location") {
        check_join(
            &HttpUrl::parse(BASE).expect("the base URL parses"),
            &location,
        );
    }
}

/// A chunked body. Checks that decoding never yields more bytes than it was given, and
/// that the input (after its first byte) chunked in pieces of that byte's value, with and
/// without extensions, decodes back to itself.
pub fn chunked(data: &[u8]) {
    if let Ok(out) = dechunk(data) {
        assert!(
            out.len() <= data.len(),
            "{} bytes from {}",
            out.len(),
            data.len()
        );
    }
    let Some((&step, payload)) = data.split_first() else {
        return;
    };
    let mut encoded = Vec::new();
    for piece in payload.chunks(usize::from(step).max(1)) {
        let size = if step & 1 == 0 {
            format!("{:x}\r\n", piece.len())
        } else {
            format!("{:X};ext=1\r\n", piece.len())
        };
        encoded.extend_from_slice(size.as_bytes());
        encoded.extend_from_slice(piece);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    let decoded = dechunk(&encoded).expect("well-formed chunks decode");
    assert_eq!(&decoded[..], payload, "chunked round trip");
}

/// A relay URL as a customer gives it, and any `http(s)` URL. Checks that the address
/// shown never carries credentials and that it parses back to the same server and path.
pub fn url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(source) = Source::parse(text, false) {
        assert!(no_credentials(&source.display()), "{}", source.display());
        // The host checked is the one written: the authority is the host (bracketed or
        // not) and at most a port after it.
        let (host, _) = source.host_port();
        let rest = text.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or("");
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let bracketed = format!("[{host}]");
        assert!(
            [host, bracketed.as_str()].iter().any(|h| {
                hostport == *h || hostport.strip_prefix(h).is_some_and(|p| p.starts_with(':'))
            }),
            "{text:?} connects to {host:?}"
        );
    }
    if let Ok(u) = HttpUrl::parse(text) {
        assert!(u.path.starts_with('/'), "path {:?}", u.path);
        let shown = u.display();
        assert!(no_credentials(&shown), "{shown}");
        let again = HttpUrl::parse(&shown).expect("a shown URL parses");
        assert_eq!(
            (again.tls, &again.host, again.port),
            (u.tls, &u.host, u.port),
            "{text:?} shown as {shown:?}"
        );
    }
}

/// A playlist as an HLS relay reads it (lossy UTF-8, as fetched): the best variant of a
/// master playlist, the segments of a media playlist, each URI resolved against the URL
/// asked. Checks that a variant and every segment is one of the playlist's URI lines, that
/// the target duration is usable, and that credentials never go to another server.
pub fn hls_playlist(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let is_uri_line = |uri: &str| !uri.is_empty() && !uri.starts_with('#') && lines.contains(&uri);
    let base = HttpUrl::parse(BASE).expect("the base URL parses");
    if let Some(variant) = best_variant(&text) {
        assert!(is_uri_line(&variant), "variant {variant:?}");
        check_join(&base, &variant);
    }
    if let Ok(m) = media(&text) {
        assert!(
            m.target.is_finite() && m.target > 0.0,
            "target {}",
            m.target
        );
        assert!(m.segments.len() <= lines.len());
        for segment in &m.segments {
            assert!(is_uri_line(segment), "segment {segment:?}");
            check_join(&base, segment);
        }
    }
}

/// MPEG-TS segments as an HLS relay turns them into FLV tags; the input is demuxed twice
/// through one demuxer (two segments in a row). Checks that every tag is one our own RTMP
/// ingest reads back (a relayed stream goes through the same publisher path), that a video
/// sequence header is a record that parses, and that each pass yields at most a few tags
/// per TS packet.
pub fn ts_demux(data: &[u8]) {
    let mut demux = TsToTags::default();
    for _ in 0..2 {
        let Ok(tags) = demux.segment(data) else {
            return;
        };
        // A PES packet takes at least one 188-byte packet; its ADTS frames at least 8 bytes
        // each, each giving at most a header and a frame.
        assert!(
            tags.len() <= 2 * (data.len() / 8 + 1),
            "{} tags",
            tags.len()
        );
        for tag in tags {
            let body: Bytes = tag.data;
            if tag.video {
                match flv::parse_video(&body).expect("a relayed video tag parses") {
                    VideoTag::AvcSequenceHeader(record) => {
                        AvcConfig::parse(&record).expect("a relayed sequence header parses");
                    }
                    VideoTag::AvcPicture { data, .. } => assert!(!data.is_empty()),
                    other => panic!("a relayed video tag of another kind: {other:?}"),
                }
            } else {
                match flv::parse_audio(&body).expect("a relayed audio tag parses") {
                    AudioTag::AacSequenceHeader(_) | AudioTag::AacRaw(_) => {}
                    other => panic!("a relayed audio tag of another kind: {other:?}"),
                }
            }
        }
    }
}
