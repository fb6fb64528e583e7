//! AMF0 values (the vendored rml_amf0) as RTMP commands carry them.
//! `tidecast_engine::fuzzing::rtmp::amf0` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::rtmp;

fuzz_target!(|data: &[u8]| rtmp::amf0(data));
