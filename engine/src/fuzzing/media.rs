//! What a publisher's FLV tags and a source's MP3/ADTS bytes go through.

use bytes::{Bytes, BytesMut};

use crate::media::Track;
use crate::media::aac::AacConfig;
use crate::media::avc::AvcConfig;
use crate::media::clock::Clock;
use crate::media::flv::{self, AudioTag, VideoTag};
use crate::media::mpa::{Cutter, Framer, Kind, MAX_ID3};

/// FLV tag bodies as an RTMP publisher sends them: `parse_video`, `parse_audio`,
/// `mp3_header`; a video sequence header goes on to `AvcConfig::parse` (which must refuse
/// what h264-reader cannot take: it panicked on empty parameter sets) and, if it parses,
/// `nal_units` and `to_annex_b` on the raw input; an AAC sequence header to
/// `AacConfig::parse` and `adts_header`. Checks that a picture's NAL units lie within it.
pub fn flv_tags(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    if let Ok(VideoTag::AvcSequenceHeader(rec)) = flv::parse_video(&body)
        && let Ok(config) = AvcConfig::parse(&rec)
    {
        assert!(!config.sps.is_empty() && !config.pps.is_empty());
        if let Ok(units) = config.nal_units(data) {
            let total: usize = units.iter().map(|u| u.len()).sum();
            assert!(
                total <= data.len(),
                "NAL units {total} > picture {}",
                data.len()
            );
        }
        let _ = config.to_annex_b(data, true);
    }
    if let Ok(AudioTag::AacSequenceHeader(asc)) = flv::parse_audio(&body)
        && let Ok(config) = AacConfig::parse(&asc)
    {
        let _ = config.adts_header(data.len());
    }
    let _ = flv::mp3_header(data);
}

/// The RTMP timestamp clock fed raw 32-bit timestamps of video and audio, as 5-byte records
/// (track byte: even video, odd audio; big-endian `u32`). Checks that the first maps to 0,
/// that a reported jump carries on 1 ms after the latest time of either track, and that
/// nothing overflows (each value stays within 60 s + 5 s per call of 0).
pub fn rtmp_clock(data: &[u8]) {
    let mut clock = Clock::default();
    let mut last: [Option<i64>; 2] = [None, None];
    for (calls, rec) in data.chunks_exact(5).enumerate() {
        let track = if rec[0] % 2 == 0 {
            Track::Video
        } else {
            Track::Audio
        };
        let raw = u32::from_be_bytes([rec[1], rec[2], rec[3], rec[4]]);
        let (ms, jumped) = clock.map(track, raw);
        match last.iter().flatten().max().copied() {
            None => assert_eq!((ms, jumped), (0, false), "the first timestamp maps to 0"),
            Some(top) if jumped => {
                assert_eq!(ms, top + 1, "a jump carries on after the latest time");
            }
            Some(_) => {}
        }
        let bound = 60_000 + 5_000 * i64::try_from(calls).unwrap_or(i64::MAX / 10_000);
        assert!(ms.abs() <= bound, "mapped {ms} ms after {calls} steps");
        last[usize::from(track == Track::Audio)] = Some(ms);
    }
}

/// The framing of the first byte's choice (odd: ADTS, even: MP3).
fn kind(data: &[u8]) -> Kind {
    if data.first().is_some_and(|b| b & 1 == 1) {
        Kind::Adts
    } else {
        Kind::Mp3
    }
}

/// The frame-boundary cutter of an Icecast source's MP3 or ADTS stream, taking after each
/// piece as the source loop does. Checks that what goes out plus what is held back never
/// exceeds what came in, that what is held back is the end of what came in, and that it
/// never holds back more than one ID3 tag's worth (a source cannot make the server buffer).
pub fn mpa_cutter(data: &[u8]) {
    let cutter = Cutter::new(kind(data));
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    let mut buf = BytesMut::new();
    let mut pushed = Vec::new();
    let mut out = 0usize;
    for piece in pieces {
        buf.extend_from_slice(piece);
        pushed.extend_from_slice(piece);
        out += cutter.take(&mut buf).len();
        assert!(
            out + buf.len() <= pushed.len(),
            "out {out} + held {} > in {}",
            buf.len(),
            pushed.len()
        );
        assert!(pushed.ends_with(&buf), "held bytes are not the input's end");
        assert!(buf.len() <= MAX_ID3 + 20, "{} bytes held back", buf.len());
    }
}

/// The MP3/ADTS framer of the radio ladder, pushed in pieces. Checks that the frames'
/// bytes never exceed the bytes pushed, that no frame is empty, that an MP3 frame starts
/// with its sync and that timestamps never go back.
pub fn mpa_framer(data: &[u8]) {
    let kind = kind(data);
    let mut framer = Framer::new(kind);
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    let (mut pushed, mut framed) = (0usize, 0usize);
    let mut last_pts = i64::MIN;
    for piece in pieces {
        pushed += piece.len();
        for (_, frame) in framer.push(piece) {
            assert!(!frame.data.is_empty(), "an empty frame");
            if kind == Kind::Mp3 {
                assert_eq!(frame.data[0], 0xFF, "an MP3 frame without its sync");
            }
            assert!(frame.pts >= last_pts, "pts {} after {last_pts}", frame.pts);
            last_pts = frame.pts;
            framed += frame.data.len();
        }
        assert!(framed <= pushed, "frames {framed} > pushed {pushed}");
    }
}
