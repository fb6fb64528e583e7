//! Request heads on the Icecast port (sources, listeners, admin).
//! `tidecast_engine::fuzzing::icecast::icecast_head` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::icecast;

fuzz_target!(|data: &[u8]| icecast::icecast_head(data));
