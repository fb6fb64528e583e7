//! What the Icecast port parses: request heads, and a source's Ogg and WebM framing.

use crate::icecast::ogg::{HeaderTracker, PageReader};
use crate::icecast::request::{MAX_HEAD, parse_head};
use crate::icecast::webm::{ClusterReader, Unit};

/// Pushes the input (after its first byte) into `reader` in pieces of that byte's value and
/// takes every ready item after each piece with `next` (its length; `None`: none ready;
/// `Err`: refused, which ends the stream). Checks that the items plus `pending` never exceed
/// the bytes pushed: a reader may drop bytes but never invents or duplicates them.
fn framing<R>(
    data: &[u8],
    mut reader: R,
    push: impl Fn(&mut R, &[u8]),
    mut next: impl FnMut(&mut R) -> Result<Option<usize>, ()>,
    pending: impl Fn(&R) -> usize,
) {
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    let (mut pushed, mut returned) = (0usize, 0usize);
    for piece in pieces {
        push(&mut reader, piece);
        pushed += piece.len();
        loop {
            match next(&mut reader) {
                Ok(Some(len)) => returned += len,
                Ok(None) => break,
                Err(()) => return,
            }
            let held = pending(&reader);
            assert!(
                returned + held <= pushed,
                "items {returned} + pending {held} > pushed {pushed}"
            );
        }
    }
}

/// WebM (EBML) framing of a source's body through `ClusterReader`. Checks [`framing`]'s
/// bound and that no unit is empty.
pub fn webm_framing(data: &[u8]) {
    framing(
        data,
        ClusterReader::default(),
        ClusterReader::push,
        |r| match r.next_unit() {
            Ok(Some(Unit::Header(b) | Unit::Cluster(b) | Unit::Other(b))) => {
                assert!(!b.is_empty(), "an empty unit");
                Ok(Some(b.len()))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(()),
        },
        ClusterReader::pending,
    );
}

/// Ogg page framing of a source's body through `PageReader`, each page shown to a
/// `HeaderTracker`. Checks [`framing`]'s bound, that every page has at least its 27-byte
/// header, and that the tracker's header pages never exceed the bytes returned.
pub fn ogg_framing(data: &[u8]) {
    let mut tracker = HeaderTracker::default();
    let mut returned = 0usize;
    framing(
        data,
        PageReader::default(),
        PageReader::push,
        |r| match r.next_page() {
            Ok(Some(page)) => {
                assert!(page.data.len() >= 27, "a page of {} bytes", page.data.len());
                returned += page.data.len();
                let _kind = tracker.observe(&page);
                let headers: usize = tracker.headers().iter().map(|h| h.len()).sum();
                assert!(
                    headers <= returned,
                    "headers {headers} > returned {returned}"
                );
                Ok(Some(page.data.len()))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(()),
        },
        PageReader::pending,
    );
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
