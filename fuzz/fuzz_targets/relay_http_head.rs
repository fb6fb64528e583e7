//! A relayed server's response head and redirect Location.
//! `tidecast_engine::fuzzing::relay::http_head` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::relay;

fuzz_target!(|data: &[u8]| relay::http_head(data));
