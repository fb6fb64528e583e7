//! WebM framing of an Icecast source's body.
//! `tidecast_engine::fuzzing::icecast::webm_framing` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::icecast;

fuzz_target!(|data: &[u8]| icecast::webm_framing(data));
