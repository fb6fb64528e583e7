//! What an uploaded file is: its kind, tags, cover art, duration, loudness and cue points.
//! Blocking work (decodes the whole file once): run it off the async runtime.
//!
//! Tags and cover art come from symphonia (MP3, AAC/M4A, FLAC, Ogg Vorbis, WAV); anything
//! it cannot open is read with FFmpeg's probe. Loudness and cue points come from decoding the
//! audio with FFmpeg ([`tidecast_transcoder::analyse`]), which also proves the file plays.

use std::fs::File;
use std::path::Path;

use symphonia::core::formats::FormatOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTag, StandardVisualKey};

/// What import learned about a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inspected {
    /// `audio`, `video` (with or without sound) or `image`.
    pub kind: &'static str,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_ms: i64,
    pub bitrate_kbps: Option<i64>,
    pub loudness_mlufs: Option<i64>,
    pub cue_in_ms: i64,
    pub cue_out_ms: i64,
    /// Cover art (front cover if marked) and its file extension.
    pub cover: Option<(Vec<u8>, &'static str)>,
}

/// Cover art larger than this is left out (it would only slow players down).
const MAX_COVER: usize = 4 * 1024 * 1024;

/// Inspects `path` (uploaded as `filename`); the error says in a user's words why the file
/// cannot go into the library.
pub fn inspect(path: &Path, filename: &str) -> Result<Inspected, String> {
    if let Some(kind) = image_kind(path) {
        // A picture (watermarks, cover art, video slates): FFmpeg must be able to read it.
        tidecast_transcoder::probe(path).map_err(|_| format!("this {kind} picture is damaged"))?;
        return Ok(Inspected {
            kind: "image",
            title: stem(filename),
            ..Inspected::default()
        });
    }
    let probe = tidecast_transcoder::probe(path)
        .map_err(|_| "not an audio or video file this server can read".to_owned())?;
    if !probe.has_audio {
        return Err(if probe.has_video {
            "this video has no sound track; AutoDJ and radio need audio".to_owned()
        } else {
            "the file has no audio".to_owned()
        });
    }
    let analysis = tidecast_transcoder::analyse(path)
        .map_err(|e| format!("its audio cannot be decoded ({e})"))?;
    let tags = read_tags(path, filename).unwrap_or_default();
    let pick = |mine: Option<String>, theirs: &Option<String>| {
        mine.filter(|t| !t.trim().is_empty())
            .or_else(|| theirs.clone())
            .map(|t| clean(&t))
            .unwrap_or_default()
    };
    let title = pick(tags.title, &probe.title);
    let ms = |s: f64| (s * 1000.0).round() as i64;
    Ok(Inspected {
        kind: if probe.has_video { "video" } else { "audio" },
        title: if title.is_empty() {
            stem(filename)
        } else {
            title
        },
        artist: pick(tags.artist, &probe.artist),
        album: pick(tags.album, &probe.album),
        duration_ms: ms(analysis.duration_s),
        bitrate_kbps: probe.bitrate_kbps.map(i64::from),
        loudness_mlufs: analysis.loudness_lufs.map(|l| (l * 1000.0).round() as i64),
        cue_in_ms: ms(analysis.cue_in_s),
        cue_out_ms: ms(analysis.cue_out_s),
        cover: tags.cover,
    })
}

fn image_kind(path: &Path) -> Option<&'static str> {
    let mut head = [0u8; 8];
    let n = std::io::Read::read(&mut File::open(path).ok()?, &mut head).ok()?;
    let head = &head[..n];
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else {
        None
    }
}

/// The file name without its extension: the title of an untagged file.
fn stem(filename: &str) -> String {
    let base = Path::new(filename)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(filename);
    clean(base)
}

/// One line of at most 255 characters without control characters.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[derive(Debug, Default)]
struct Tags {
    title: Option<String>,
    artist: Option<String>,
    album: Option<String>,
    cover: Option<(Vec<u8>, &'static str)>,
}

/// Tags and cover art with symphonia; `None` when it cannot open the file.
fn read_tags(path: &Path, filename: &str) -> Option<Tags> {
    let file = File::open(path).ok()?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = Path::new(filename).extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .ok()?;
    let mut tags = Tags::default();
    let mut metadata = format.metadata();
    let mut revisions = Vec::new();
    while let Some(rev) = metadata.pop() {
        revisions.push(rev);
    }
    if let Some(rev) = metadata.current() {
        revisions.push(rev.clone());
    }
    for rev in &revisions {
        take_tags(rev, &mut tags);
    }
    Some(tags)
}

fn take_tags(rev: &MetadataRevision, tags: &mut Tags) {
    let containers = std::iter::once(&rev.media).chain(rev.per_track.iter().map(|t| &t.metadata));
    for c in containers {
        for tag in &c.tags {
            match &tag.std {
                Some(StandardTag::TrackTitle(v)) => {
                    tags.title.get_or_insert_with(|| v.to_string());
                }
                Some(StandardTag::Artist(v)) => {
                    tags.artist.get_or_insert_with(|| v.to_string());
                }
                Some(StandardTag::Album(v)) => {
                    tags.album.get_or_insert_with(|| v.to_string());
                }
                _ => {}
            }
        }
        // The front cover if one is marked, else the first picture.
        let front = c
            .visuals
            .iter()
            .find(|v| v.usage == Some(StandardVisualKey::FrontCover))
            .or_else(|| c.visuals.first());
        if tags.cover.is_none()
            && let Some(v) = front.filter(|v| !v.data.is_empty() && v.data.len() <= MAX_COVER)
        {
            let ext = if v.data.starts_with(b"\x89PNG") {
                "png"
            } else {
                "jpg"
            };
            tags.cover = Some((v.data.to_vec(), ext));
        }
    }
}
