//! The RTMP timestamp clock fed a publisher's raw timestamps.
//! `tidecast_engine::fuzzing::media::rtmp_clock` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::media;

fuzz_target!(|data: &[u8]| media::rtmp_clock(data));
