//! What the HLS muxers' unit tests share: the fixture media as [`Frame`]s, and golden files.
//!
//! A golden file under `engine/tests/golden/` holds the exact bytes a muxer wrote for fixed
//! input. Tests compare with it; `TIDECAST_BLESS=1` writes it instead, for a change that is
//! meant to alter the bytes (`engine/tests/golden/README.md` says how to check a blessed file
//! with ffprobe before committing it). A missing file is a failure, never blessed silently.

use std::path::PathBuf;

use bytes::Bytes;

use crate::media::aac::AacConfig;
use crate::media::avc::AvcConfig;
use crate::media::fixtures::{self as fx, Picture};
use crate::media::{AudioConfig, Frame, StreamConfig, Track};

/// The fixture's H.264 configuration.
pub(crate) fn avc() -> AvcConfig {
    AvcConfig::parse(&Bytes::from(fx::avc_record())).expect("the fixture's record parses")
}

/// The fixture's AAC configuration.
pub(crate) fn aac() -> AacConfig {
    AacConfig::parse(&Bytes::from_static(fx::AAC_ASC)).expect("the fixture's ASC parses")
}

/// H.264 and AAC, as an RTMP publisher's sequence headers announce them.
pub(crate) fn av_config() -> StreamConfig {
    StreamConfig {
        video: Some(avc()),
        audio: Some(AudioConfig::Aac(aac())),
    }
}

/// AAC only (a radio station's HLS rung).
pub(crate) fn aac_config() -> StreamConfig {
    StreamConfig {
        video: None,
        audio: Some(AudioConfig::Aac(aac())),
    }
}

pub(crate) fn video(p: &Picture) -> Frame {
    Frame {
        track: Track::Video,
        dts: p.dts,
        pts: p.pts,
        key: p.key,
        data: Bytes::from(p.avcc.clone()),
    }
}

/// The silent AAC frames of a stream whose audio starts at 0 (one every 1024 samples) that
/// are decoded in `from..until`.
pub(crate) fn aac_frames(from: i64, until: i64) -> Vec<Frame> {
    let first = (from + fx::AAC_TICKS - 1).div_euclid(fx::AAC_TICKS);
    (first..)
        .map(|i| i * fx::AAC_TICKS)
        .take_while(|&t| t < until)
        .map(|t| Frame {
            track: Track::Audio,
            dts: t,
            pts: t,
            key: true,
            data: Bytes::from_static(fx::AAC_SILENT),
        })
        .collect()
}

/// Pictures and audio merged in decode order, video first at equal times (as a publisher
/// interleaves them).
pub(crate) fn interleave(pictures: &[Picture], audio: Vec<Frame>) -> Vec<Frame> {
    let mut out: Vec<Frame> = pictures.iter().map(video).chain(audio).collect();
    // Stable: each track keeps its own order.
    out.sort_by_key(|f| (f.dts, f.track == Track::Audio));
    out
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file `name` (or writes it with `TIDECAST_BLESS=1`).
pub(crate) fn check_golden(name: &str, actual: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("TIDECAST_BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the golden folder");
        }
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); write it with TIDECAST_BLESS=1 and check it with ffprobe",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let window = |d: &[u8]| hex(&d[at.min(d.len())..(at + 16).min(d.len())]);
    panic!(
        "{name} differs from the golden file at byte {at} ({}): expected {} bytes, got {}\n\
         expected: {}\n     got: {}\n\
         If the change is meant, run `TIDECAST_BLESS=1 cargo test -p tidecast-engine`, check \
         the new file with ffprobe (engine/tests/golden/README.md) and say why in the commit.",
        locate(name, &expected, at),
        expected.len(),
        actual.len(),
        window(&expected),
        window(actual),
    );
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where byte `at` of a golden file is, in the container's own terms.
fn locate(name: &str, data: &[u8], at: usize) -> String {
    if name.ends_with(".ts") {
        let packet = at / 188;
        let pid = data
            .get(packet * 188 + 1..packet * 188 + 3)
            .map_or("?".to_owned(), |p| {
                format!("{:#x}", u16::from_be_bytes([p[0] & 0x1F, p[1]]))
            });
        return format!("packet {packet}, byte {} of it, PID {pid}", at % 188);
    }
    box_path(data, at, 0)
}

/// The MP4 box path (`moof/traf/tfdt`) around byte `at`.
fn box_path(data: &[u8], at: usize, base: usize) -> String {
    const CONTAINERS: &[&[u8; 4]] = &[
        b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"dinf",
    ];
    let mut pos = 0;
    while pos + 8 <= data.len() {
        let size =
            u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let kind = &data[pos + 4..pos + 8];
        if size < 8 {
            break;
        }
        let end = (pos + size).min(data.len());
        if (base + pos..base + end).contains(&at) {
            let name = String::from_utf8_lossy(kind).into_owned();
            if CONTAINERS.iter().any(|c| c[..] == *kind) {
                let inner = box_path(&data[pos + 8..end], at, base + pos + 8);
                return format!("{name}/{inner}");
            }
            return format!("{name} at +{}", at - base - pos);
        }
        pos = end;
    }
    "end of file".to_owned()
}
