//! The names a viewer asks for under a stream's HLS path.

use crate::admission::SegmentFormat;
use crate::hls::uri::{
    DvrFile, LiveItem, LiveName, Uri, dvr_init_file, dvr_segment_file, parse_vod_segment,
};

/// A requested file name, read as a live, DVR and VOD name. Checks that whatever reads as
/// one of ours names the same thing when written back the way our playlists spell it (so a
/// name can never be served as something else than what a playlist meant).
pub fn uri(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(live) = LiveName::parse(name) {
        let epoch = live.epoch;
        let written = match live.item {
            LiveItem::Segment { seq, format } => Uri::LiveSegment { epoch, seq, format },
            LiveItem::Part { msn, index } => Uri::LivePart { epoch, msn, index },
            LiveItem::Init { version } => Uri::LiveInit { epoch, version },
        }
        .to_string();
        assert_eq!(
            LiveName::parse(&written),
            Some(live),
            "{name:?} written as {written:?}"
        );
    }
    if let Some(file) = DvrFile::parse(name) {
        let written = match file {
            DvrFile::Segment(seq) => dvr_segment_file(seq, 0, SegmentFormat::Ts),
            DvrFile::Init(seq) => dvr_init_file(seq),
        };
        assert_eq!(
            DvrFile::parse(&written),
            Some(file),
            "{name:?} written as {written:?}"
        );
    }
    if let Some(n) = parse_vod_segment(name) {
        let written = Uri::VodSegment(n).to_string();
        assert_eq!(
            parse_vod_segment(&written),
            Some(n),
            "{name:?} written as {written:?}"
        );
    }
}
