//! The MP3/ADTS framer of the radio ladder.
//! `tidecast_engine::fuzzing::media::mpa_framer` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::media;

fuzz_target!(|data: &[u8]| media::mpa_framer(data));
