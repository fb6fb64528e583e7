//! The frame-boundary cutter of an Icecast source's MP3/ADTS stream.
//! `tidecast_engine::fuzzing::media::mpa_cutter` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::media;

fuzz_target!(|data: &[u8]| media::mpa_cutter(data));
