//! Ogg page framing of an Icecast source's body (untrusted network input).
//!
//! The input (after its first byte, which sets the read size, at least 1) is pushed into a
//! `PageReader` piece by piece; after each piece every ready page is taken with
//! `next_page()` until `Ok(None)` or an error, and each page is shown to a
//! `HeaderTracker`. Checks that nothing panics, that the bytes of all returned pages plus
//! `pending()` never exceed the bytes pushed, and that the tracker's header pages are
//! among the pages returned (their total never exceeds the bytes returned).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::icecast::ogg::{HeaderTracker, PageReader};

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut reader = PageReader::default();
    let mut tracker = HeaderTracker::default();
    let mut pushed = 0usize;
    let mut returned = 0usize;
    for piece in stream.chunks(step) {
        reader.push(piece);
        pushed += piece.len();
        loop {
            match reader.next_page() {
                Ok(Some(page)) => {
                    // The fixed 27-byte header at least.
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
            assert!(
                returned + reader.pending() <= pushed,
                "pages {returned} + pending {} > pushed {pushed}",
                reader.pending()
            );
        }
        assert!(
            returned + reader.pending() <= pushed,
            "pages {returned} + pending {} > pushed {pushed}",
            reader.pending()
        );
    }
});
