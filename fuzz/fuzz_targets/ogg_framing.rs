//! Ogg page framing of an Icecast source's body.
//! `tidecast_engine::fuzzing::icecast::ogg_framing` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::icecast;

fuzz_target!(|data: &[u8]| icecast::ogg_framing(data));
