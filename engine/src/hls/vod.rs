//! On-demand ladders' playlists, written by the one writer: each rung's VOD media playlist
//! from the segments the transcoder cut (durations and sizes noted as it wrote them, never
//! read back from files), and the master playlist over the rungs from what the transcode
//! measured.
//!
//! Invariants: a rung's segments are named `00000.ts`, `00001.ts`, … in order (the spelling
//! FFmpeg's HLS muxer used, so ladders made before this writer keep their URLs and play as
//! they are); the master lists rungs highest average bandwidth first (players start with
//! the first).

use super::playlist::{self, Kind, MediaHeader, MediaPlaylist, Segment, VariantStream};
use super::uri::{MEDIA_PLAYLIST, RenditionPlaylist, Uri};
use crate::admission::SegmentFormat;
use crate::transcode::VodReport;

/// Where a rung's playlist goes in its folder, and the master's in the ladder's.
pub const PLAYLIST: &str = MEDIA_PLAYLIST;

/// A segment of a rung as the transcoder wrote it; its place in the list is its number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VodSegment {
    /// Seconds.
    pub duration: f64,
    pub bytes: u64,
}

/// The file name of a rung's segment `n`.
pub fn segment_file(n: usize) -> String {
    Uri::VodSegment(u32::try_from(n).unwrap_or(u32::MAX)).to_string()
}

/// A rung's VOD playlist (MPEG-TS segments, ended).
pub fn media_playlist(segments: &[VodSegment]) -> String {
    let header = MediaHeader {
        format: SegmentFormat::Ts,
        kind: Kind::Vod,
        target_duration: playlist::target_duration(segments.iter().map(|s| s.duration), 1),
        media_sequence: 0,
        discontinuity_sequence: None,
        part_target: None,
    };
    let mut out = MediaPlaylist::new(&header, segments.len());
    for (n, s) in segments.iter().enumerate() {
        out.segment(&Segment {
            uri: Uri::VodSegment(u32::try_from(n).unwrap_or(u32::MAX)),
            duration: s.duration,
            program_date_time: None,
            discontinuity: false,
            map: None,
        });
    }
    out.finish(true)
}

/// The busiest segment's bits per second (segments under 0.1 s, a file's last frame or
/// two, would overstate it).
pub fn peak_bps(segments: &[VodSegment]) -> Option<u64> {
    segments
        .iter()
        .filter(|s| s.duration > 0.1)
        .map(|s| (s.bytes as f64 * 8.0 / s.duration) as u64)
        .max()
        .filter(|&p| p > 0)
}

/// The master playlist over the rungs of `report`, highest average bandwidth first.
pub fn master_playlist(report: &VodReport) -> String {
    let mut rungs: Vec<_> = report.renditions.iter().collect();
    rungs.sort_by_key(|r| std::cmp::Reverse(r.average_bps));
    playlist::master_playlist(rungs.into_iter().map(|r| VariantStream {
        uri: Uri::Rendition {
            name: &r.name,
            playlist: RenditionPlaylist::Media,
        },
        bandwidth: r.peak_bps,
        average_bandwidth: Some(r.average_bps),
        info: &r.info,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::playlist::StreamInfo;
    use crate::transcode::VodRendition;

    #[test]
    fn a_rung_playlist_lists_its_segments_in_order_and_ends() {
        let segs = [
            VodSegment {
                duration: 4.0,
                bytes: 400_000,
            },
            VodSegment {
                duration: 4.0,
                bytes: 600_000,
            },
            VodSegment {
                duration: 2.0333,
                bytes: 100_000,
            },
        ];
        assert_eq!(
            media_playlist(&segs),
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-TARGETDURATION:4\n\
             #EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXTINF:4.000,\n\
             00000.ts\n\
             #EXTINF:4.000,\n\
             00001.ts\n\
             #EXTINF:2.033,\n\
             00002.ts\n\
             #EXT-X-ENDLIST\n"
        );
        assert_eq!(segment_file(2), "00002.ts");
        assert_eq!(peak_bps(&segs), Some(1_200_000));
        assert_eq!(peak_bps(&[]), None);
    }

    #[test]
    fn the_master_lists_the_highest_rung_first_with_all_it_knows() {
        let rung = |name: &str, height: u32, bps: u64| VodRendition {
            name: name.into(),
            peak_bps: bps * 3 / 2,
            average_bps: bps,
            info: StreamInfo {
                resolution: Some((height * 16 / 9, height)),
                codecs: "avc1.64001f,mp4a.40.2".into(),
                frame_rate: Some(25.0),
            },
        };
        let silent = VodRendition {
            name: "240p".into(),
            peak_bps: 300_000,
            average_bps: 250_000,
            // A file whose frame rate FFmpeg could not tell: left out.
            info: StreamInfo {
                resolution: Some((426, 240)),
                codecs: "avc1.42c015".into(),
                frame_rate: None,
            },
        };
        let text = master_playlist(&VodReport {
            renditions: vec![
                rung("360p", 360, 800_000),
                silent,
                rung("720p", 720, 3_000_000),
            ],
            duration_s: 10.0,
        });
        assert_eq!(
            text,
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=4500000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=25.000\n\
             720p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001f,mp4a.40.2\",FRAME-RATE=25.000\n\
             360p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=300000,AVERAGE-BANDWIDTH=250000,RESOLUTION=426x240,CODECS=\"avc1.42c015\"\n\
             240p/index.m3u8\n"
        );
    }
}
