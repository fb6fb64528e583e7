//! A relayed server's chunked body.
//! `tidecast_engine::fuzzing::relay::chunked` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::relay;

fuzz_target!(|data: &[u8]| relay::chunked(data));
