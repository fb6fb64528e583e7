//! DVR playback as HLS: an archive's whole window (`dvr.m3u8`), a slice of it
//! (`index.m3u8?start=&end=`), and master playlists over the archives of a ladder's
//! renditions — all written by the one HLS writer ([`crate::hls::playlist`]), their URIs
//! spelled by [`crate::hls::uri`]. The HTTP side asks for text and never takes an index's
//! lock itself.
//!
//! Invariants:
//! - an index's lock is taken for reading only while its entries are read (and rendered:
//!   rendering is the reading); encoding and everything else happen outside it;
//! - the whole window is rendered once per change of the archive (first and last segment,
//!   count, recording or not) and kept with the one other encoding the caller makes
//!   (gzip): players reload it every segment, and a 24-hour window is 4 MB of text;
//! - every segment carries its program date; the first segment of a recording, or one
//!   after a gap (the publisher was away), starts with a discontinuity;
//! - a window ends (`ENDLIST`) once nothing records into the archive; a slice also once its
//!   end has passed.

use std::sync::{Arc, PoisonError, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::Archive;
use super::index::{Entry, Index};
use crate::admission::SegmentFormat;
use crate::hls::playlist::{
    self, Kind, MediaHeader, MediaPlaylist, Segment, StreamInfo, VariantStream,
};
use crate::hls::uri::{DvrFile, RenditionPlaylist, Uri};

/// A jump between segments larger than this is a gap (the publisher was away).
const GAP_MS: i64 = 1500;

/// Segments a master playlist measures a variant's bandwidth over (the newest of the span).
const MEASURED: usize = 60;

/// A slice of an archive, in unix seconds as asked for; `end: None` while it is open (it
/// grows like a live playlist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub start: i64,
    pub end: Option<i64>,
}

impl Slice {
    fn start_ms(self) -> i64 {
        self.start.saturating_mul(1000)
    }

    fn end_ms(self) -> i64 {
        self.end.map_or(i64::MAX, |e| e.saturating_mul(1000))
    }
}

/// An archive's whole-window playlist as last rendered, plain and in the caller's encoding.
#[derive(Debug)]
pub struct Window {
    /// What it was rendered from: first and last seq, segments, recording.
    key: (u64, u64, usize, bool),
    pub plain: Bytes,
    pub encoded: Bytes,
}

impl Archive {
    fn read_index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole window as a playlist (`None` while the archive is empty), with
    /// `encode(playlist)` made once per change of the archive, not once per request.
    pub fn window_playlist(&self, encode: impl FnOnce(&[u8]) -> Bytes) -> Option<Arc<Window>> {
        let (key, text) = {
            let index = self.read_index();
            let entries = index.entries();
            let (first, last) = (entries.front()?, entries.back()?);
            let key = (first.seq, last.seq, entries.len(), self.is_recording());
            let cached = self
                .lock_window()
                .as_ref()
                .filter(|w| w.key == key)
                .cloned();
            if cached.is_some() {
                return cached;
            }
            (key, render(entries.iter(), !key.3))
        };
        let encoded = encode(text.as_bytes());
        let window = Arc::new(Window {
            key,
            plain: Bytes::from(text),
            encoded,
        });
        *self.lock_window() = Some(Arc::clone(&window));
        Some(window)
    }

    fn lock_window(&self) -> std::sync::MutexGuard<'_, Option<Arc<Window>>> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segments overlapping `slice` as a playlist (`None`: nothing archived there). It
    /// ends once the slice's end is past `now_ms` (unix ms) or nothing records any more.
    pub fn slice_playlist(&self, slice: Slice, now_ms: i64) -> Option<String> {
        let index = self.read_index();
        let entries = index.range(slice.start_ms(), slice.end_ms());
        entries.clone().next()?;
        let ended =
            slice.end.is_some_and(|e| e.saturating_mul(1000) <= now_ms) || !self.is_recording();
        Some(render(entries, ended))
    }

    /// Whether the archive holds segments overlapping `[from_ms, to_ms)`.
    pub fn has_segments_in(&self, from_ms: i64, to_ms: i64) -> bool {
        self.read_index().range(from_ms, to_ms).next().is_some()
    }

    /// Whether `file` is one the index names (a segment, or an init segment still in use):
    /// the only files served from the folder, never a path a request makes up. The seq in
    /// the name finds its entry by binary search, so a 24-hour archive answers as fast as a
    /// minute's.
    pub fn holds(&self, file: &str) -> bool {
        let index = self.read_index();
        let entries = index.entries();
        let find = |seq: u64| entries.get(entries.partition_point(|e| e.seq < seq));
        match DvrFile::parse(file) {
            // Its first segment, or (that one trimmed) the oldest segment still using it.
            Some(DvrFile::Init(seq)) => [find(seq), entries.front()]
                .into_iter()
                .flatten()
                .any(|e| e.init.as_deref() == Some(file)),
            Some(DvrFile::Segment(seq)) => find(seq).is_some_and(|e| e.file == file),
            None => false,
        }
    }
}

/// A playlist of `entries` (at least one); `ended` adds `EXT-X-ENDLIST`.
fn render<'e>(entries: impl Iterator<Item = &'e Entry> + Clone, ended: bool) -> String {
    let seconds = |e: &Entry| f64::from(e.duration_ms) / 1000.0;
    let header = MediaHeader {
        format: if entries.clone().any(|e| e.init.is_some()) {
            SegmentFormat::Fmp4
        } else {
            SegmentFormat::Ts
        },
        kind: Kind::Live,
        target_duration: playlist::target_duration(entries.clone().map(seconds), 1),
        media_sequence: entries.clone().next().map_or(0, |e| e.seq),
        // The archive does not count the discontinuities its window has trimmed.
        discontinuity_sequence: None,
        part_target: None,
    };
    let (count, _) = entries.size_hint();
    let mut out = MediaPlaylist::new(&header, count);
    let mut prev_end: Option<i64> = None;
    for e in entries {
        let gap = prev_end.is_some_and(|end| (e.start_ms - end).abs() > GAP_MS);
        out.segment(&Segment {
            uri: Uri::Dvr(&e.file),
            duration: seconds(e),
            program_date_time: Some(unix_ms(e.start_ms)),
            discontinuity: prev_end.is_some() && (e.discontinuity || gap),
            map: e.init.as_deref().map(Uri::Dvr),
        });
        prev_end = Some(e.end_ms());
    }
    out.finish(ended)
}

fn unix_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A rendition of a ladder, as master playlists over its archive list it.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub name: String,
    pub archive: Arc<Archive>,
    /// What the ladder asks of it (kbit/s): its bandwidth until the archive measures one.
    pub kbps: u32,
    /// Its size as the ladder sets it: for archives recorded before they noted what they
    /// carry.
    pub resolution: Option<(u32, u32)>,
}

/// A master playlist over the renditions with segments in the window (`slice: None`) or in
/// `slice`, in the order given; each variant's bandwidth measured from what its archive
/// holds there. `None` when none has any.
pub fn master_playlist(renditions: &[Rendition], slice: Option<Slice>) -> Option<String> {
    let (from_ms, to_ms) = slice.map_or((i64::MIN, i64::MAX), |s| (s.start_ms(), s.end_ms()));
    let listed: Vec<(&Rendition, (u64, u64), StreamInfo)> = renditions
        .iter()
        .filter_map(|r| {
            let index = r.archive.read_index();
            index.range(from_ms, to_ms).next()?;
            let kbps = u64::from(r.kbps);
            let measured = measure(&index, from_ms, to_ms).unwrap_or((kbps * 1200, kbps * 1000));
            let info = index.info().cloned().unwrap_or_else(|| StreamInfo {
                resolution: r.resolution,
                ..StreamInfo::default()
            });
            Some((r, measured, info))
        })
        .collect();
    if listed.is_empty() {
        return None;
    }
    let playlist = match slice {
        None => RenditionPlaylist::DvrWindow,
        Some(Slice { start, end }) => RenditionPlaylist::DvrSlice { start, end },
    };
    Some(playlist::master_playlist(listed.iter().map(
        |(r, (peak, average), info)| VariantStream {
            uri: Uri::Rendition {
                name: &r.name,
                playlist,
            },
            bandwidth: *peak,
            average_bandwidth: Some(*average),
            info,
        },
    )))
}

/// Peak and average bits per second of the newest segments in `[from_ms, to_ms)`.
fn measure(index: &Index, from_ms: i64, to_ms: i64) -> Option<(u64, u64)> {
    let entries = index.entries();
    // The newest segments of the span, found by binary search like a slice.
    let end = entries.partition_point(|e| e.start_ms < to_ms);
    let begin = entries
        .partition_point(|e| e.end_ms() <= from_ms)
        .max(end.saturating_sub(MEASURED));
    let (mut peak, mut bytes, mut ms) = (0u64, 0u64, 0u64);
    for e in entries.range(begin..end) {
        let d = u64::from(e.duration_ms.max(1));
        peak = peak.max(e.bytes * 8000 / d);
        bytes += e.bytes;
        ms += d;
    }
    (ms > 0).then(|| (peak, bytes * 8000 / ms))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::admission::ServiceId;
    use crate::dvr::Dvr;

    /// 2026-11-24T00:00:00Z.
    const T0: i64 = 1_795_478_400_000;

    /// An archive with segments `(start offset ms, duration ms, discontinuity)`, fMP4 (an
    /// init file per recording) or TS.
    fn archive(dir: &std::path::Path, segs: &[(i64, u32, bool)], fmp4: bool) -> Arc<Archive> {
        let dvr = Dvr::new(dir.to_owned());
        let a = dvr.archive(ServiceId(1), "tv").expect("archive");
        let folder = a.dir();
        let mut init = None;
        {
            let mut index = a.index.write().expect("lock");
            for (seq, &(at, duration_ms, discontinuity)) in segs.iter().enumerate() {
                let seq = seq as u64;
                let start_ms = T0 + at;
                if fmp4 && (discontinuity || init.is_none()) {
                    let name = crate::hls::uri::dvr_init_file(seq);
                    std::fs::write(folder.join(&name), b"init").expect("init");
                    init = Some(name);
                }
                let format = if fmp4 {
                    SegmentFormat::Fmp4
                } else {
                    SegmentFormat::Ts
                };
                let file = crate::hls::uri::dvr_segment_file(seq, start_ms, format);
                std::fs::write(folder.join(&file), vec![0u8; 1000]).expect("segment");
                index
                    .append(Entry {
                        seq,
                        start_ms,
                        duration_ms,
                        discontinuity,
                        file,
                        init: init.clone(),
                        bytes: 1000,
                    })
                    .expect("append");
            }
        }
        a
    }

    #[test]
    fn the_window_marks_recordings_and_gaps_and_ends_when_nothing_records() {
        let dir = tempfile::tempdir().expect("tmp");
        // Two recordings; a gap of 5 s inside the second.
        let segs = [
            (0, 2000, true),
            (2000, 2000, false),
            (10_000, 2500, true),
            (12_500, 2000, false),
            (19_500, 2000, false),
        ];
        let a = archive(dir.path(), &segs, false);
        let w = a.window_playlist(Bytes::copy_from_slice).expect("window");
        let text = String::from_utf8(w.plain.to_vec()).expect("utf-8");
        assert_eq!(
            text,
            format!(
                "#EXTM3U\n\
                 #EXT-X-VERSION:3\n\
                 #EXT-X-TARGETDURATION:3\n\
                 #EXT-X-MEDIA-SEQUENCE:0\n\
                 #EXT-X-INDEPENDENT-SEGMENTS\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:00.000Z\n\
                 #EXTINF:2.000,\n\
                 dvr/0-{t0}.ts\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:02.000Z\n\
                 #EXTINF:2.000,\n\
                 dvr/1-{t2}.ts\n\
                 #EXT-X-DISCONTINUITY\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:10.000Z\n\
                 #EXTINF:2.500,\n\
                 dvr/2-{t10}.ts\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:12.500Z\n\
                 #EXTINF:2.000,\n\
                 dvr/3-{t12}.ts\n\
                 #EXT-X-DISCONTINUITY\n\
                 #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:19.500Z\n\
                 #EXTINF:2.000,\n\
                 dvr/4-{t19}.ts\n\
                 #EXT-X-ENDLIST\n",
                t0 = T0,
                t2 = T0 + 2000,
                t10 = T0 + 10_000,
                t12 = T0 + 12_500,
                t19 = T0 + 19_500,
            )
        );
        // Kept until the archive changes; while it records, the window does not end.
        let again = a.window_playlist(|_| unreachable!("rendered once"));
        assert!(again.is_some_and(|again| Arc::ptr_eq(&again, &w)));
        a.recording.store(true, Ordering::Relaxed);
        let live = a.window_playlist(Bytes::copy_from_slice).expect("window");
        assert!(!String::from_utf8_lossy(&live.plain).contains("#EXT-X-ENDLIST"));
        assert!(a.holds(&format!("3-{}.ts", T0 + 12_500)));
        assert!(!a.holds(&format!("3-{}.ts", T0)));
        assert!(!a.holds("../index.log"));
    }

    #[test]
    fn a_slice_is_the_segments_overlapping_it_open_or_finished() {
        let dir = tempfile::tempdir().expect("tmp");
        let segs = [(0, 2000, true), (2000, 2000, false), (4000, 2000, true)];
        let a = archive(dir.path(), &segs, true);
        a.recording.store(true, Ordering::Relaxed);
        let start = T0 / 1000 + 3;
        // Finished: its end has passed.
        let finished = Slice {
            start,
            end: Some(start + 2),
        };
        // The two segments overlapping it, across the format change between them.
        let segments = format!(
            "#EXTM3U\n\
             #EXT-X-VERSION:7\n\
             #EXT-X-TARGETDURATION:2\n\
             #EXT-X-MEDIA-SEQUENCE:1\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"dvr/init-0.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:02.000Z\n\
             #EXTINF:2.000,\n\
             dvr/1-{t2}.m4s\n\
             #EXT-X-DISCONTINUITY\n\
             #EXT-X-MAP:URI=\"dvr/init-2.mp4\"\n\
             #EXT-X-PROGRAM-DATE-TIME:2026-11-24T00:00:04.000Z\n\
             #EXTINF:2.000,\n\
             dvr/2-{t4}.m4s\n",
            t2 = T0 + 2000,
            t4 = T0 + 4000,
        );
        let text = a.slice_playlist(finished, T0 + 60_000).expect("slice");
        assert_eq!(text, format!("{segments}#EXT-X-ENDLIST\n"));
        // Open (no end, still recording): the same segments from the start on, not ended.
        let open = Slice { start, end: None };
        let text = a.slice_playlist(open, T0 + 60_000).expect("slice");
        assert_eq!(text, segments);
        // An end still ahead does not end it either.
        let ahead = Slice {
            start,
            end: Some(start + 60),
        };
        let text = a.slice_playlist(ahead, T0 + 10_000).expect("slice");
        assert!(!text.contains("#EXT-X-ENDLIST"), "{text}");
        // Outside the archive: nothing.
        let before = Slice {
            start: T0 / 1000 - 100,
            end: Some(T0 / 1000 - 50),
        };
        assert_eq!(a.slice_playlist(before, T0), None);
        assert!(a.holds("init-2.mp4") && a.holds("init-0.mp4") && !a.holds("init-1.mp4"));
    }

    #[test]
    fn a_master_playlist_lists_the_recorded_renditions_with_what_they_carry() {
        let dirs = [
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        ];
        let source = archive(
            dirs[0].path(),
            &[(0, 2000, true), (2000, 2000, false)],
            false,
        );
        let rung = archive(
            dirs[1].path(),
            &[(0, 2000, true), (2000, 2000, false)],
            false,
        );
        source
            .index
            .write()
            .expect("lock")
            .set_info(&StreamInfo {
                resolution: Some((1280, 720)),
                codecs: "avc1.64001F,mp4a.40.2".into(),
                frame_rate: Some(30.0),
            })
            .expect("info");
        let renditions = [
            Rendition {
                name: "source".into(),
                archive: source,
                kbps: 3000,
                resolution: None,
            },
            // Recorded before archives noted what they carry: the ladder's size only.
            Rendition {
                name: "180p".into(),
                archive: rung,
                kbps: 264,
                resolution: Some((320, 180)),
            },
        ];
        // 1000 bytes every 2 s: 4000 bit/s, peak and average.
        assert_eq!(
            master_playlist(&renditions, None).expect("master"),
            "#EXTM3U\n\
             #EXT-X-VERSION:3\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=4000,AVERAGE-BANDWIDTH=4000,RESOLUTION=1280x720,CODECS=\"avc1.64001F,mp4a.40.2\",FRAME-RATE=30.000\n\
             source/dvr.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=4000,AVERAGE-BANDWIDTH=4000,RESOLUTION=320x180\n\
             180p/dvr.m3u8\n"
        );
        let slice = Slice {
            start: T0 / 1000 + 1,
            end: Some(T0 / 1000 + 3),
        };
        let text = master_playlist(&renditions, Some(slice)).expect("master");
        assert!(
            text.contains(&format!(
                "\nsource/index.m3u8?start={}&end={}\n",
                slice.start,
                T0 / 1000 + 3
            )),
            "{text}"
        );
        let outside = Slice {
            start: 0,
            end: Some(10),
        };
        assert_eq!(master_playlist(&renditions, Some(outside)), None);
    }
}
