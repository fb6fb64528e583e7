//! HLS playlists as an HLS relay reads them.
//! `tidecast_engine::fuzzing::relay::hls_playlist` says what it feeds and checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidecast_engine::fuzzing::relay;

fuzz_target!(|data: &[u8]| relay::hls_playlist(data));
