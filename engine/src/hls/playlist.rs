//! The one HLS playlist writer (RFC 8216, with the low-latency tags of its second edition):
//! every media playlist — a live window with its LL-HLS parts and preload hint, a DVR window
//! or slice, a VOD rung — and every master playlist (live ladder, DVR, VOD) is written
//! here, as text, from plain values the caller hands over. Sans-IO: no clock, no files, no
//! locks; URIs are spelled by [`super::uri`].
//!
//! Invariants of what it writes:
//! - media playlists open with the same header lines in the same order: `EXTM3U`,
//!   `VERSION`, `TARGETDURATION`, `MEDIA-SEQUENCE`, `DISCONTINUITY-SEQUENCE` (sliding
//!   windows), `PLAYLIST-TYPE` (VOD), `INDEPENDENT-SEGMENTS` (every segment we make starts
//!   with a keyframe), then the LL-HLS `SERVER-CONTROL` and `PART-INF`;
//! - `VERSION` follows the container: 3 for MPEG-TS (decimal `EXTINF`), 7 for fMP4
//!   (`EXT-X-MAP` without I-frame playlists needs 6; CMAF players expect 7);
//! - a segment's lines come in one order: `DISCONTINUITY`, `MAP` (only when the init
//!   segment changes), its parts, `PROGRAM-DATE-TIME`, `EXTINF`, URI;
//! - durations are written with three decimals, and [`target_duration`] is the one rule
//!   for a target that covers them;
//! - master playlists carry one attribute set in one order everywhere: `BANDWIDTH`,
//!   `AVERAGE-BANDWIDTH`, `RESOLUTION`, `CODECS`, `FRAME-RATE`; a value that is not known
//!   (an audio-only rung's resolution and frame rate, a measure not taken yet) is left out,
//!   never invented.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::uri::{Query, Uri};
use crate::admission::SegmentFormat;
pub use crate::media::StreamInfo;

/// Whether a media playlist may still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A live window, a DVR window or a growing slice: no `EXT-X-PLAYLIST-TYPE`; it ends
    /// with `EXT-X-ENDLIST` once the caller says so.
    Live,
    /// A finished file (`EXT-X-PLAYLIST-TYPE:VOD`): always ends with `EXT-X-ENDLIST`.
    Vod,
}

/// What a media playlist's header says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaHeader {
    pub format: SegmentFormat,
    pub kind: Kind,
    /// Seconds (see [`target_duration`]).
    pub target_duration: u32,
    /// The media sequence number of the first segment listed.
    pub media_sequence: u64,
    /// Discontinuities that have left a sliding window; `None`: not written (the playlist
    /// never drops a discontinuity it listed, or does not count them).
    pub discontinuity_sequence: Option<u64>,
    /// LL-HLS: the part target in seconds (players hold back three parts, and may block
    /// a playlist reload for a part).
    pub part_target: Option<f64>,
}

/// One finished segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment<'a> {
    pub uri: Uri<'a>,
    /// Seconds.
    pub duration: f64,
    pub program_date_time: Option<SystemTime>,
    /// The first segment after a break (a new publisher, an encoder restart, a gap).
    pub discontinuity: bool,
    /// fMP4: the init segment it needs.
    pub map: Option<Uri<'a>>,
}

/// One LL-HLS part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part<'a> {
    pub uri: Uri<'a>,
    /// Seconds.
    pub duration: f64,
    /// Starts with a keyframe (or is audio only): a player can start here.
    pub independent: bool,
}

/// The smallest `EXT-X-TARGETDURATION` that covers `durations` as written: each `EXTINF`
/// (three decimals) rounded to the nearest integer must not exceed it (RFC 8216
/// 4.3.3.1). At least `floor`, and at least 1.
pub fn target_duration(durations: impl IntoIterator<Item = f64>, floor: u32) -> u32 {
    durations
        .into_iter()
        .map(|d| ((d * 1000.0).round() / 1000.0).round().max(0.0) as u32)
        .fold(floor, u32::max)
        .max(1)
}

/// A media playlist being written, segment by segment.
#[derive(Debug)]
pub struct MediaPlaylist<'a> {
    out: String,
    kind: Kind,
    /// The init segment the segments written so far use.
    map: Option<Uri<'a>>,
}

impl<'a> MediaPlaylist<'a> {
    /// Starts a playlist with `header`'s lines; `segments` only sizes the buffer.
    pub fn new(header: &MediaHeader, segments: usize) -> Self {
        let mut out = String::with_capacity(256 + segments * 96);
        let version = match header.format {
            SegmentFormat::Ts => 3,
            SegmentFormat::Fmp4 => 7,
        };
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            header.target_duration.max(1),
            header.media_sequence
        );
        if let Some(d) = header.discontinuity_sequence {
            let _ = writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{d}");
        }
        if header.kind == Kind::Vod {
            out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        if let Some(pt) = header.part_target {
            let _ = write!(
                out,
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n#EXT-X-PART-INF:PART-TARGET={pt:.3}\n",
                pt * 3.0
            );
        }
        Self {
            out,
            kind: header.kind,
            map: None,
        }
    }

    /// A whole segment (no parts listed).
    pub fn segment(&mut self, s: &Segment<'a>) {
        self.begin_segment(s.discontinuity, s.map);
        self.end_segment(s.program_date_time, s.duration, s.uri);
    }

    /// Opens a segment whose parts are listed: its discontinuity and init segment. Follow
    /// with its [`Self::part`]s, then [`Self::end_segment`] once it is finished (or
    /// [`Self::preload_hint`] while it is in progress).
    pub fn begin_segment(&mut self, discontinuity: bool, map: Option<Uri<'a>>) {
        if discontinuity {
            self.out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(m) = map
            && self.map != Some(m)
        {
            let _ = writeln!(self.out, "#EXT-X-MAP:URI=\"{m}\"");
            self.map = Some(m);
        }
    }

    pub fn part(&mut self, p: &Part<'_>) {
        let _ = writeln!(
            self.out,
            "#EXT-X-PART:DURATION={:.3},URI=\"{}\"{}",
            p.duration,
            p.uri,
            if p.independent {
                ",INDEPENDENT=YES"
            } else {
                ""
            }
        );
    }

    /// Closes the segment [`Self::begin_segment`] opened: its date, duration and URI.
    pub fn end_segment(
        &mut self,
        program_date_time: Option<SystemTime>,
        duration: f64,
        uri: Uri<'_>,
    ) {
        if let Some(at) = program_date_time {
            let _ = writeln!(self.out, "#EXT-X-PROGRAM-DATE-TIME:{}", rfc3339_millis(at));
        }
        let _ = write!(self.out, "#EXTINF:{duration:.3},\n{uri}\n");
    }

    /// LL-HLS: the part the server will have next (players request it ahead).
    pub fn preload_hint(&mut self, uri: Uri<'_>) {
        let _ = writeln!(self.out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"");
    }

    /// The text; `ended` (always for VOD) closes it with `EXT-X-ENDLIST`.
    pub fn finish(mut self, ended: bool) -> String {
        if ended || self.kind == Kind::Vod {
            self.out.push_str("#EXT-X-ENDLIST\n");
        }
        self.out
    }
}

/// One variant of a master playlist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VariantStream<'a> {
    pub uri: Uri<'a>,
    /// Peak bits per second.
    pub bandwidth: u64,
    /// Average bits per second, if measured or estimated.
    pub average_bandwidth: Option<u64>,
    pub info: &'a StreamInfo,
}

/// A master playlist over `variants`, in the order given (players start with the first).
pub fn master_playlist<'a>(variants: impl IntoIterator<Item = VariantStream<'a>>) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let _ = write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={}", v.bandwidth);
        if let Some(avg) = v.average_bandwidth {
            let _ = write!(out, ",AVERAGE-BANDWIDTH={avg}");
        }
        if let Some((w, h)) = v.info.resolution.filter(|&(w, h)| w > 0 && h > 0) {
            let _ = write!(out, ",RESOLUTION={w}x{h}");
        }
        if !v.info.codecs.is_empty() {
            let _ = write!(out, ",CODECS=\"{}\"", v.info.codecs);
        }
        if let Some(fps) = v.info.frame_rate.filter(|f| f.is_finite() && *f > 0.0) {
            let _ = write!(out, ",FRAME-RATE={fps:.3}");
        }
        let _ = write!(out, "\n{}\n", v.uri);
    }
    out
}

/// A playlist this writer wrote (a VOD rung's or master, kept on disk), with `query` on
/// every URI it carries: the URI lines and the quoted `URI="…"` attributes (`EXT-X-MAP`,
/// parts, preload hints). Everything else is left as written.
pub fn with_query(playlist: &str, query: Query<'_>) -> String {
    let mut out = String::with_capacity(playlist.len() + playlist.len() / 4);
    for line in playlist.lines() {
        if line.is_empty() || line.starts_with('#') {
            let quoted = line.split_once("URI=\"").and_then(|(head, rest)| {
                let (uri, tail) = rest.split_once('"')?;
                Some((head, uri, tail))
            });
            match quoted {
                Some((head, uri, tail)) => {
                    let _ = write!(out, "{head}URI=\"{}\"{tail}", query.add_to(uri));
                }
                None => out.push_str(line),
            }
        } else {
            out.push_str(&query.add_to(line));
        }
        out.push('\n');
    }
    out
}

/// `2026-11-27T21:00:00.000Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let c = crate::civil::Civil::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hls::uri::RenditionPlaylist;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn dates() {
        assert_eq!(
            rfc3339_millis(at(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(rfc3339_millis(at(0)), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_target_covers_every_duration_as_written() {
        assert_eq!(target_duration([2.0, 2.4994], 0), 2);
        // 2.4996 is written 2.500, which rounds to 3.
        assert_eq!(target_duration([2.4996], 0), 3);
        assert_eq!(target_duration([1.0], 4), 4);
        assert_eq!(target_duration([], 0), 1);
    }

    #[test]
    fn a_query_reaches_every_uri_and_nothing_else() {
        let q = Query::new("expires=9&sig=xyz").unwrap();
        let text = "#EXTM3U\n\
                    #EXT-X-VERSION:7\n\
                    #EXT-X-MAP:URI=\"7_init1.mp4\"\n\
                    #EXT-X-PART:DURATION=0.500,URI=\"7_3.0.m4s\",INDEPENDENT=YES\n\
                    #EXTINF:4.000,\n\
                    7_3.m4s\n\
                    #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7_4.0.m4s\"\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\n\
                    180p/index.m3u8?start=100\n\
                    #EXT-X-ENDLIST\n";
        assert_eq!(
            with_query(text, q),
            "#EXTM3U\n\
             #EXT-X-VERSION:7\n\
             #EXT-X-MAP:URI=\"7_init1.mp4?expires=9&sig=xyz\"\n\
             #EXT-X-PART:DURATION=0.500,URI=\"7_3.0.m4s?expires=9&sig=xyz\",INDEPENDENT=YES\n\
             #EXTINF:4.000,\n\
             7_3.m4s?expires=9&sig=xyz\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"7_4.0.m4s?expires=9&sig=xyz\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\n\
             180p/index.m3u8?start=100&expires=9&sig=xyz\n\
             #EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn a_vod_playlist_always_ends() {
        let header = MediaHeader {
            format: SegmentFormat::Ts,
            kind: Kind::Vod,
            target_duration: 4,
            media_sequence: 0,
            discontinuity_sequence: None,
            part_target: None,
        };
        let mut p = MediaPlaylist::new(&header, 2);
        for (i, d) in [4.0, 1.5].into_iter().enumerate() {
            p.segment(&Segment {
                uri: Uri::VodSegment(i as u32),
                duration: d,
                program_date_time: None,
                discontinuity: false,
                map: None,
            });
        }
        assert_eq!(
            p.finish(false),
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-TARGETDURATION:4\n\
             #EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXTINF:4.000,\n\
             00000.ts\n\
             #EXTINF:1.500,\n\
             00001.ts\n\
             #EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn the_init_segment_is_named_only_when_it_changes() {
        let header = MediaHeader {
            format: SegmentFormat::Fmp4,
            kind: Kind::Live,
            target_duration: 2,
            media_sequence: 5,
            discontinuity_sequence: Some(1),
            part_target: None,
        };
        let mut p = MediaPlaylist::new(&header, 3);
        for (seq, version, discontinuity) in [(5, 0, false), (6, 0, false), (7, 1, true)] {
            p.segment(&Segment {
                uri: Uri::LiveSegment {
                    epoch: 1,
                    seq,
                    format: SegmentFormat::Fmp4,
                },
                duration: 2.0,
                program_date_time: Some(at(seq * 2000)),
                discontinuity,
                map: Some(Uri::LiveInit { epoch: 1, version }),
            });
        }
        assert_eq!(
            p.finish(true),
            "#EXTM3U\n\
             #EXT-X-VERSION:7\n\
             #EXT-X-TARGETDURATION:2\n\
             #EXT-X-MEDIA-SEQUENCE:5\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:1\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"1_init0.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:10.000Z\n\
             #EXTINF:2.000,\n\
             1_5.m4s\n\
             #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:12.000Z\n\
             #EXTINF:2.000,\n\
             1_6.m4s\n\
             #EXT-X-DISCONTINUITY\n\
             #EXT-X-MAP:URI=\"1_init1.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:14.000Z\n\
             #EXTINF:2.000,\n\
             1_7.m4s\n\
             #EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn master_playlists_carry_all_five_attributes_or_leave_the_unknown_out() {
        let video = StreamInfo {
            resolution: Some((1280, 720)),
            codecs: "avc1.64001F,mp4a.40.2".into(),
            frame_rate: Some(29.97),
        };
        let audio = StreamInfo {
            resolution: None,
            codecs: "mp4a.40.2".into(),
            frame_rate: None,
        };
        let unknown = StreamInfo::default();
        let text = master_playlist([
            VariantStream {
                uri: Uri::Rendition {
                    name: "720p",
                    playlist: RenditionPlaylist::Media,
                },
                bandwidth: 3_000_000,
                average_bandwidth: Some(2_500_000),
                info: &video,
            },
            VariantStream {
                uri: Uri::Rendition {
                    name: "aac64",
                    playlist: RenditionPlaylist::Media,
                },
                bandwidth: 70_000,
                average_bandwidth: Some(67_000),
                info: &audio,
            },
            VariantStream {
                uri: Uri::Rendition {
                    name: "old",
                    playlist: RenditionPlaylist::DvrWindow,
                },
                bandwidth: 900_000,
                average_bandwidth: None,
                info: &unknown,
            },
        ]);
        assert_eq!(
            text,
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS=\"avc1.64001F,mp4a.40.2\",FRAME-RATE=29.970\n\
             720p/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=67000,CODECS=\"mp4a.40.2\"\n\
             aac64/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=900000\n\
             old/dvr.m3u8\n"
        );
    }
}
