//! rml_rtmp's server session (chunk stream, commands) after the handshake.
//! `tidecast_engine::fuzzing::rtmp::rtmp_session` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::rtmp;

fuzz_target!(|data: &[u8]| rtmp::rtmp_session(data));
