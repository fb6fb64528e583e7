//! The RTMP timestamp clock (`media::clock::Clock`), fed raw 32-bit timestamps of video and
//! audio from a publisher (untrusted network input).
//!
//! The input is read as 5-byte records: a track byte (even: video, odd: audio) and a
//! big-endian u32 timestamp. Checks that nothing panics, that the first timestamp maps to 0,
//! that a reported jump carries on 1 ms after the later of the two tracks' last times, and that
//! nothing overflows (each value stays within 60 s + 5 s per call of 0).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::media::Track;
use tidecast_engine::media::clock::Clock;

fuzz_target!(|data: &[u8]| {
    let mut clock = Clock::default();
    // Each track's last mapped time.
    let mut last: [Option<i64>; 2] = [None, None];
    for (calls, rec) in data.chunks_exact(5).enumerate() {
        let track = if rec[0] % 2 == 0 { Track::Video } else { Track::Audio };
        let raw = u32::from_be_bytes([rec[1], rec[2], rec[3], rec[4]]);
        let (ms, jumped) = clock.map(track, raw);
        let top = last.iter().flatten().max().copied();
        match top {
            None => assert_eq!((ms, jumped), (0, false), "the first timestamp maps to 0"),
            Some(top) if jumped => assert_eq!(ms, top + 1, "a jump carries on after the latest time"),
            Some(_) => {}
        }
        let bound = 60_000 + 5_000 * i64::try_from(calls).expect("few calls");
        assert!(ms.abs() <= bound, "mapped {ms} ms after {calls} steps: overflow");
        last[usize::from(track == Track::Audio)] = Some(ms);
    }
});
