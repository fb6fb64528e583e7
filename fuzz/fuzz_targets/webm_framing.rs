//! WebM (EBML) framing of an Icecast source's body (untrusted network input).
//!
//! The input (after its first byte, which sets the read size, at least 1) is pushed into a
//! `ClusterReader` piece by piece as a socket would deliver it; after each piece every
//! ready unit is taken with `next_unit()` until `Ok(None)` or an error. Checks that nothing
//! panics and that the bytes of all returned units plus `pending()` never exceed the
//! bytes pushed: the reader may drop bytes but never invents or duplicates them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::icecast::webm::{ClusterReader, Unit};

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut reader = ClusterReader::default();
    let mut pushed = 0usize;
    let mut returned = 0usize;
    for piece in stream.chunks(step) {
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
            assert!(
                returned + reader.pending() <= pushed,
                "units {returned} + pending {} > pushed {pushed}",
                reader.pending()
            );
        }
        assert!(
            returned + reader.pending() <= pushed,
            "units {returned} + pending {} > pushed {pushed}",
            reader.pending()
        );
    }
});
