//! MPEG-TS segments as an HLS relay turns them into FLV tags.
//! `tidecast_engine::fuzzing::relay::ts_demux` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::relay;

fuzz_target!(|data: &[u8]| relay::ts_demux(data));
