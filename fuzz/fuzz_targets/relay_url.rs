//! Relay URLs as customers give them.
//! `tidecast_engine::fuzzing::relay::url` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::relay;

fuzz_target!(|data: &[u8]| relay::url(data));
