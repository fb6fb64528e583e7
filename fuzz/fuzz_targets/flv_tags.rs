//! FLV tag bodies as an RTMP publisher sends them (untrusted network input).
//!
//! Feeds the input to `flv::parse_video`, `flv::parse_audio` and `flv::mp3_header`; a
//! video sequence header goes on to `AvcConfig::parse` (and, if it parses, the raw input
//! is run through `nal_units` and `to_annex_b` with that config), an AAC sequence header
//! to `AacConfig::parse` and `adts_header`. Checks that nothing panics.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tidecast_engine::media::aac::AacConfig;
use tidecast_engine::media::avc::AvcConfig;
use tidecast_engine::media::flv::{self, AudioTag, VideoTag};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);

    if let Ok(VideoTag::AvcSequenceHeader(rec)) = flv::parse_video(&body) {
        if let Ok(config) = AvcConfig::parse(&rec) {
            let _ = config.to_annex_b(data, true);
            let _ = config.nal_units(data);
        }
    }

    if let Ok(AudioTag::AacSequenceHeader(asc)) = flv::parse_audio(&body) {
        if let Ok(config) = AacConfig::parse(&asc) {
            let _ = config.adts_header(data.len());
        }
    }

    let _ = flv::mp3_header(data);
});
