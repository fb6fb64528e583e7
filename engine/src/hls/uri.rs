//! How every URI in our playlists is spelled, and how a requested name is read back: the one
//! place that knows the names of live segments, parts and init segments, DVR archive files,
//! VOD segments and rendition playlists.
//!
//! Invariants: every URI a playlist carries is relative (players resolve it against the
//! playlist's own URL, so the same text works behind any prefix or proxy); [`Uri`]'s
//! `Display` is the only writer of these spellings, and each `parse` function here accepts
//! exactly what it writes (anything else is not ours, and is answered 404 by the server).

use std::fmt;

use crate::admission::SegmentFormat;

/// A live stream's (and a rendition's) media playlist, and a VOD rung's.
pub const MEDIA_PLAYLIST: &str = "index.m3u8";
/// A stream's whole DVR window.
pub const DVR_PLAYLIST: &str = "dvr.m3u8";
/// The folder, beside a stream's playlists, its DVR archive's files are served from.
const DVR_FOLDER: &str = "dvr";

/// A URI written into a playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// A live segment: `<epoch>_<seq>.ts` (or `.m4s`). The epoch (when the stream was
    /// created, unix ms) makes a name never stand for other content, so segments can be
    /// cached as immutable.
    LiveSegment {
        epoch: u64,
        seq: u64,
        format: SegmentFormat,
    },
    /// An LL-HLS part of a live segment: `<epoch>_<msn>.<index>.m4s`.
    LivePart { epoch: u64, msn: u64, index: u32 },
    /// A live fMP4 init segment: `<epoch>_init<version>.mp4`.
    LiveInit { epoch: u64, version: u32 },
    /// A DVR archive's file (segment or init segment, as [`dvr_segment_file`] and
    /// [`dvr_init_file`] name them): `dvr/<file>`.
    Dvr(&'a str),
    /// A VOD rung's segment: `00042.ts`.
    VodSegment(u32),
    /// A rendition's playlist, from its master playlist: `<rendition>/<playlist>`.
    Rendition {
        name: &'a str,
        playlist: RenditionPlaylist,
    },
}

/// Which playlist of a rendition a master playlist points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenditionPlaylist {
    /// Its live (or VOD) media playlist, `index.m3u8`.
    Media,
    /// Its whole DVR window, `dvr.m3u8`.
    DvrWindow,
    /// A slice of its DVR archive, `index.m3u8?start=<unix s>[&end=<unix s>]`.
    DvrSlice { start: i64, end: Option<i64> },
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LiveSegment { epoch, seq, format } => {
                write!(f, "{epoch}_{seq}.{}", segment_extension(format))
            }
            Self::LivePart { epoch, msn, index } => write!(f, "{epoch}_{msn}.{index}.m4s"),
            Self::LiveInit { epoch, version } => write!(f, "{epoch}_init{version}.mp4"),
            Self::Dvr(file) => write!(f, "{DVR_FOLDER}/{file}"),
            Self::VodSegment(n) => write!(f, "{n:05}.ts"),
            Self::Rendition { name, playlist } => match playlist {
                RenditionPlaylist::Media => write!(f, "{name}/{MEDIA_PLAYLIST}"),
                RenditionPlaylist::DvrWindow => write!(f, "{name}/{DVR_PLAYLIST}"),
                RenditionPlaylist::DvrSlice { start, end } => {
                    write!(f, "{name}/{}", DvrSliceQuery { start, end })
                }
            },
        }
    }
}

/// `index.m3u8?start=<s>[&end=<s>]`: a slice of a DVR archive, as a master playlist's
/// variant (or a player) asks for it.
struct DvrSliceQuery {
    start: i64,
    end: Option<i64>,
}

impl fmt::Display for DvrSliceQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MEDIA_PLAYLIST}?start={}", self.start)?;
        if let Some(end) = self.end {
            write!(f, "&end={end}")?;
        }
        Ok(())
    }
}

/// A query every URI of a playlist carries on (a signed URL's `expires=…&sig=…`, so that
/// the requests a player makes from the playlist are signed as the playlist's was).
///
/// Only URL-unreserved characters, `=`, `&` and `%` escapes: nothing that could end a line
/// or a quoted attribute of the playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a>(&'a str);

impl<'a> Query<'a> {
    /// `None` for an empty query or one with a character a playlist could not carry as is.
    pub fn new(query: &'a str) -> Option<Self> {
        let ok = |b: u8| b.is_ascii_alphanumeric() || b"-._~=&%".contains(&b);
        (!query.is_empty() && query.bytes().all(ok)).then_some(Self(query))
    }

    /// `uri` with the query added (after `&` when it has one already).
    pub fn add_to(self, uri: &str) -> String {
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}{}", self.0)
    }
}

/// The file extension of a segment in `format`.
pub fn segment_extension(format: SegmentFormat) -> &'static str {
    match format {
        SegmentFormat::Ts => "ts",
        SegmentFormat::Fmp4 => "m4s",
    }
}

/// What a live name ([`Uri::LiveSegment`], [`Uri::LivePart`], [`Uri::LiveInit`]) refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveName {
    pub epoch: u64,
    pub item: LiveItem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveItem {
    Segment { seq: u64, format: SegmentFormat },
    Part { msn: u64, index: u32 },
    Init { version: u32 },
}

impl LiveName {
    /// Reads a requested live name back; `None` for anything [`Uri`] does not write.
    pub fn parse(name: &str) -> Option<Self> {
        let (stem, ext) = name.rsplit_once('.')?;
        let (epoch, rest) = stem.split_once('_')?;
        let epoch = number(epoch)?;
        let item = match ext {
            "ts" => LiveItem::Segment {
                seq: number(rest)?,
                format: SegmentFormat::Ts,
            },
            "m4s" => match rest.split_once('.') {
                Some((msn, index)) => LiveItem::Part {
                    msn: number(msn)?,
                    index: number(index)?,
                },
                None => LiveItem::Segment {
                    seq: number(rest)?,
                    format: SegmentFormat::Fmp4,
                },
            },
            "mp4" => LiveItem::Init {
                version: number(rest.strip_prefix("init")?)?,
            },
            _ => return None,
        };
        Some(Self { epoch, item })
    }
}

/// Plain decimal digits only (no sign, no spaces): the only numbers our names carry.
fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A DVR archive's segment file: `<seq>-<start ms>.<ext>` (the seq first, so a name finds
/// its index entry by binary search).
pub fn dvr_segment_file(seq: u64, start_ms: i64, format: SegmentFormat) -> String {
    format!("{seq}-{start_ms}.{}", segment_extension(format))
}

/// A DVR archive's init segment file: `init-<seq>.mp4`, `seq` being its first segment's.
pub fn dvr_init_file(seq: u64) -> String {
    format!("init-{seq}.mp4")
}

/// What a DVR archive file name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DvrFile {
    /// A segment, by its seq.
    Segment(u64),
    /// An init segment, by the seq of the first segment that used it.
    Init(u64),
}

impl DvrFile {
    /// Reads a requested archive file name back (only the seq matters: the index then says
    /// whether the whole name is one it holds).
    pub fn parse(file: &str) -> Option<Self> {
        if let Some(seq) = file
            .strip_prefix("init-")
            .and_then(|r| r.strip_suffix(".mp4"))
        {
            return number(seq).map(Self::Init);
        }
        let (seq, _) = file.split_once('-')?;
        number(seq).map(Self::Segment)
    }
}

/// Reads a VOD segment's name back (`00042.ts` → 42). Any run of digits is accepted, so
/// ladders written before this scheme (FFmpeg's `%05d.ts`, the same spelling) keep playing.
pub fn parse_vod_segment(name: &str) -> Option<u32> {
    number(name.strip_suffix(".ts")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling() {
        let cases = [
            (
                Uri::LiveSegment {
                    epoch: 1_795_000_000_000,
                    seq: 42,
                    format: SegmentFormat::Ts,
                },
                "1795000000000_42.ts",
            ),
            (
                Uri::LiveSegment {
                    epoch: 7,
                    seq: 3,
                    format: SegmentFormat::Fmp4,
                },
                "7_3.m4s",
            ),
            (
                Uri::LivePart {
                    epoch: 7,
                    msn: 3,
                    index: 2,
                },
                "7_3.2.m4s",
            ),
            (
                Uri::LiveInit {
                    epoch: 7,
                    version: 1,
                },
                "7_init1.mp4",
            ),
            (Uri::Dvr("12-1795000000000.ts"), "dvr/12-1795000000000.ts"),
            (Uri::VodSegment(7), "00007.ts"),
            (Uri::VodSegment(123_456), "123456.ts"),
            (
                Uri::Rendition {
                    name: "360p",
                    playlist: RenditionPlaylist::Media,
                },
                "360p/index.m3u8",
            ),
            (
                Uri::Rendition {
                    name: "source",
                    playlist: RenditionPlaylist::DvrWindow,
                },
                "source/dvr.m3u8",
            ),
            (
                Uri::Rendition {
                    name: "180p",
                    playlist: RenditionPlaylist::DvrSlice {
                        start: 100,
                        end: Some(104),
                    },
                },
                "180p/index.m3u8?start=100&end=104",
            ),
            (
                Uri::Rendition {
                    name: "180p",
                    playlist: RenditionPlaylist::DvrSlice {
                        start: 100,
                        end: None,
                    },
                },
                "180p/index.m3u8?start=100",
            ),
        ];
        for (uri, text) in cases {
            assert_eq!(uri.to_string(), text);
        }
    }

    #[test]
    fn live_names_read_back_what_is_written() {
        for (uri, item) in [
            (
                Uri::LiveSegment {
                    epoch: 9,
                    seq: 14,
                    format: SegmentFormat::Ts,
                },
                LiveItem::Segment {
                    seq: 14,
                    format: SegmentFormat::Ts,
                },
            ),
            (
                Uri::LiveSegment {
                    epoch: 9,
                    seq: 14,
                    format: SegmentFormat::Fmp4,
                },
                LiveItem::Segment {
                    seq: 14,
                    format: SegmentFormat::Fmp4,
                },
            ),
            (
                Uri::LivePart {
                    epoch: 9,
                    msn: 14,
                    index: 0,
                },
                LiveItem::Part { msn: 14, index: 0 },
            ),
            (
                Uri::LiveInit {
                    epoch: 9,
                    version: 4,
                },
                LiveItem::Init { version: 4 },
            ),
        ] {
            assert_eq!(
                LiveName::parse(&uri.to_string()),
                Some(LiveName { epoch: 9, item })
            );
        }
        for bad in [
            "9_14",
            "9_x.ts",
            "9_+14.ts",
            "_14.ts",
            "9_14.mp4",
            "9_init.mp4",
            "9_14.1.ts",
            "9_14.-1.m4s",
            "index.m3u8",
        ] {
            assert_eq!(LiveName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dvr_and_vod_names_read_back_what_is_written() {
        let seg = dvr_segment_file(12, 1_795_000_000_000, SegmentFormat::Fmp4);
        assert_eq!(seg, "12-1795000000000.m4s");
        assert_eq!(DvrFile::parse(&seg), Some(DvrFile::Segment(12)));
        assert_eq!(DvrFile::parse(&dvr_init_file(12)), Some(DvrFile::Init(12)));
        assert_eq!(DvrFile::parse("init-x.mp4"), None);
        assert_eq!(DvrFile::parse("index.log"), None);
        assert_eq!(parse_vod_segment(&Uri::VodSegment(3).to_string()), Some(3));
        assert_eq!(parse_vod_segment("x.ts"), None);
        assert_eq!(parse_vod_segment(".ts"), None);
        assert_eq!(parse_vod_segment("00003.m4s"), None);
    }

    #[test]
    fn a_query_is_added_after_what_a_uri_has() {
        let q = Query::new("expires=5&sig=a-b_c").unwrap();
        assert_eq!(q.add_to("00001.ts"), "00001.ts?expires=5&sig=a-b_c");
        assert_eq!(
            q.add_to("180p/index.m3u8?start=100"),
            "180p/index.m3u8?start=100&expires=5&sig=a-b_c"
        );
        for bad in ["", "a\nb", "a\"b", "a b", "a#b", "a,b"] {
            assert_eq!(Query::new(bad), None, "{bad:?}");
        }
    }
}
