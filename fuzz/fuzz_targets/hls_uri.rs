//! The file names viewers ask for under a stream's HLS path.
//! `tidecast_engine::fuzzing::hls::uri` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::hls;

fuzz_target!(|data: &[u8]| hls::uri(data));
