//! What the Icecast port parses: request heads, and a source's Ogg and WebM framing.

use crate::icecast::ogg::{HeaderTracker, PageReader};
use crate::icecast::request::{MAX_HEAD, parse_head};
use crate::icecast::webm::{ClusterReader, Unit};

/// WebM (EBML) framing of a source's body, pushed in pieces; every ready unit is taken
/// after each piece. Checks that no unit is empty and that the units' bytes plus
/// `pending()` never exceed the bytes pushed: the reader may drop bytes but never invents
/// or duplicates them.
pub fn webm_framing(data: &[u8]) {
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    let mut reader = ClusterReader::default();
    let (mut pushed, mut returned) = (0usize, 0usize);
    for piece in pieces {
        reader.push(piece);
        pushed += piece.len();
        loop {
            match reader.next_unit() {
                Ok(Some(Unit::Header(b) | Unit::Cluster(b) | Unit::Other(b))) => {
                    assert!(!b.is_empty(), "an empty unit");
                    returned += b.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
            let pending = reader.pending();
            assert!(
                returned + pending <= pushed,
                "units {returned} + pending {pending} > pushed {pushed}"
            );
        }
    }
}

/// Ogg page framing of a source's body, pushed in pieces; each page is shown to a
/// `HeaderTracker`. Checks that every page has at least its 27-byte header, that pages plus
/// `pending()` never exceed the bytes pushed, and that the tracker's header pages never
/// exceed the bytes returned.
pub fn ogg_framing(data: &[u8]) {
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    let mut reader = PageReader::default();
    let mut tracker = HeaderTracker::default();
    let (mut pushed, mut returned) = (0usize, 0usize);
    for piece in pieces {
        reader.push(piece);
        pushed += piece.len();
        loop {
            match reader.next_page() {
                Ok(Some(page)) => {
                    assert!(page.data.len() >= 27, "a page of {} bytes", page.data.len());
                    returned += page.data.len();
                    let _kind = tracker.observe(&page);
                    let headers: usize = tracker.headers().iter().map(|h| h.len()).sum();
                    assert!(
                        headers <= returned,
                        "headers {headers} > returned {returned}"
                    );
                }
                Ok(None) => break,
                Err(_) => return,
            }
            let pending = reader.pending();
            assert!(
                returned + pending <= pushed,
                "pages {returned} + pending {pending} > pushed {pushed}"
            );
        }
    }
}

/// A request head on the Icecast port (a source's `PUT`/`SOURCE`, a listener's `GET`, the
/// admin call), parsed once whole and once as the port reads it: the buffer grows by pieces
/// and is parsed after each. Checks that the piecewise result is the whole one whenever the
/// whole input is a head or an incomplete one (a prefix of a good head is never an error),
/// that a head lies within its input and within the limit, and that its path is a path.
pub fn icecast_head(data: &[u8]) {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let whole = parse_head(input);
    let step = usize::from(step).max(1);
    let mut end = 0;
    let mut piecewise = Ok(None);
    while end < input.len() {
        end = (end + step).min(input.len());
        piecewise = parse_head(&input[..end]);
        if !matches!(piecewise, Ok(None)) {
            break;
        }
    }
    if whole.is_ok() {
        assert_eq!(piecewise, whole, "piecewise parsing differs from whole");
    }
    if let Ok(Some((head, n))) = whole {
        assert!(n <= input.len() && n <= MAX_HEAD, "a head of {n} bytes");
        assert!(head.path.starts_with('/'), "path {:?}", head.path);
        let _ = head.basic_auth();
        let _ = head.query_param("mount");
        let _ = head.header("content-type");
    }
}
