//! FLV tag bodies as an RTMP publisher sends them.
//! `tidecast_engine::fuzzing::media::flv_tags` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::media;

fuzz_target!(|data: &[u8]| media::flv_tags(data));
