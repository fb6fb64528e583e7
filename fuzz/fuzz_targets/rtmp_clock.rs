//! The RTMP timestamp clock (`media::clock::Clock`), fed raw 32-bit timestamps from a
//! publisher (untrusted network input).
//!
//! The input is read as big-endian u32 timestamps (a trailing partial word is ignored)
//! and each is mapped in turn. Checks that nothing panics, that the first timestamp maps
//! to 0, that the mapped milliseconds never fall by more than 5,000 from one call to the
//! next (nor rise by more than 5,000), and that they never overflow (each value stays
//! within 5,000 ms per call of 0).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::media::clock::Clock;

/// The clock's largest step taken as jitter (`MAX_STEP_MS` in the engine).
const MAX_STEP_MS: i64 = 5_000;

fuzz_target!(|data: &[u8]| {
    let mut clock = Clock::default();
    let mut last: Option<i64> = None;
    for (calls, word) in data.chunks_exact(4).enumerate() {
        let raw = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        let (ms, jumped) = clock.map(raw);
        match last {
            None => assert_eq!((ms, jumped), (0, false), "the first timestamp maps to 0"),
            Some(prev) => {
                let delta = ms
                    .checked_sub(prev)
                    .expect("the difference of two mapped times overflows");
                assert!(
                    delta >= -MAX_STEP_MS,
                    "raw {raw}: mapped {ms} ms fell {} ms after {prev} ms",
                    -delta
                );
                assert!(
                    delta <= MAX_STEP_MS,
                    "raw {raw}: mapped {ms} ms rose {delta} ms after {prev} ms"
                );
                if jumped {
                    assert_eq!(delta, 1, "a jump carries on 1 ms after the last time");
                }
            }
        }
        let bound = MAX_STEP_MS
            .checked_mul(i64::try_from(calls).expect("few calls"))
            .expect("bound overflows");
        assert!(
            ms.abs() <= bound,
            "mapped {ms} ms after {calls} steps: overflow"
        );
        last = Some(ms);
    }
});
