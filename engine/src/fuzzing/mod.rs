//! Fuzz harnesses: each function takes the bytes a fuzzer made, feeds them to one parser of
//! untrusted input (a publisher's, a source's, a listener's or a relayed server's bytes) and
//! asserts what must hold beyond "no panic": bytes out never exceed bytes in, feeding in
//! pieces gives what feeding at once gives, what is written reads back the same.
//!
//! The cargo-fuzz targets in `fuzz/` are one-line calls to [`TARGETS`], so the parsers they
//! reach may stay private to the engine; and `cargo test` replays every file under
//! `fuzz/regressions/<target>/` through the same functions on a stable toolchain, so a fixed
//! crash stays fixed. Compiled only for the engine's tests and with the `fuzzing` feature
//! (which only the fuzz crate turns on), never into the server.

pub mod hls;
pub mod icecast;
pub mod media;
pub mod relay;
pub mod rtmp;

/// A harness: it panics when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every harness by its cargo-fuzz target name.
pub const TARGETS: &[(&str, Harness)] = &[
    ("flv_tags", media::flv_tags),
    ("rtmp_clock", media::rtmp_clock),
    ("mpa_cutter", media::mpa_cutter),
    ("mpa_framer", media::mpa_framer),
    ("webm_framing", icecast::webm_framing),
    ("ogg_framing", icecast::ogg_framing),
    ("icecast_head", icecast::icecast_head),
    ("rtmp_session", rtmp::rtmp_session),
    ("amf0", rtmp::amf0),
    ("relay_http_head", relay::http_head),
    ("relay_chunked", relay::chunked),
    ("relay_url", relay::url),
    ("hls_playlist", relay::hls_playlist),
    ("ts_demux", relay::ts_demux),
    ("hls_uri", hls::uri),
];

/// The harness of target `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The input after its first byte, pushed in pieces of that byte's value (at least 1), as a
/// socket would deliver it. `None` for an empty input.
fn pieces(data: &[u8]) -> Option<std::slice::Chunks<'_, u8>> {
    let (&step, stream) = data.split_first()?;
    Some(stream.chunks(usize::from(step).max(1)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Runs every file under `fuzz/<folder>/<target>/` through its target's harness.
    fn replay(folder: &str) -> usize {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz")
            .join(folder);
        let mut replayed = 0;
        for dir in std::fs::read_dir(&root).expect("a folder of inputs by target") {
            let dir = dir.expect("a directory entry").path();
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let run = super::target(name)
                .unwrap_or_else(|| panic!("fuzz/{folder}/{name}: no such target"));
            for file in std::fs::read_dir(&dir).expect("a target's inputs") {
                let file = file.expect("a directory entry").path();
                let data = std::fs::read(&file).expect("an input");
                run(&data);
                replayed += 1;
            }
        }
        replayed
    }

    /// Every input that once crashed a target (`fuzz/regressions/<target>/*`) runs through
    /// its harness again: the fix holds and the harness's invariants hold.
    #[test]
    fn fuzz_regressions_replay() {
        let replayed = replay("regressions");
        assert!(replayed >= 4, "only {replayed} regression inputs found");
    }

    /// The seeds (real inputs) hold every harness's invariants, and the RTMP session
    /// harness's real client gets its publish accepted.
    #[test]
    fn fuzz_seeds_hold() {
        assert!(replay("seeds") >= super::TARGETS.len());
        super::rtmp::rtmp_session(&[1, 0, 0]);
    }
}
