//! A rendition's picture path in libavfilter: scale to the rung's size and 4:2:0, and
//! optionally overlay the customer's PNG at a corner with an opacity and a margin.
//!
//! The logo keeps its proportion to the picture: drawn at its own size on 1080 lines,
//! scaled with the rendition's height below (or above) that.

use ffmpeg_next as ff;
use tidecast_engine::transcode::{Corner, WatermarkSpec};

use crate::decode::timeline;

/// Larger watermark files are refused (a logo is a few hundred KB at most).
const MAX_FILE: u64 = 10 * 1024 * 1024;
/// Larger pictures are refused.
const MAX_SIDE: u32 = 4096;

/// Why a watermark cannot be used (the renditions go out without it).
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not a PNG image")]
    NotPng(String),
    #[error("{0} is larger than 10 MB")]
    TooLarge(String),
    #[error("{0} could not be decoded as PNG: {1}")]
    Decode(String, String),
}

/// A decoded logo.
pub struct Mark {
    picture: ff::frame::Video,
    corner: Corner,
    opacity_pct: u8,
}

impl std::fmt::Debug for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mark")
            .field("size", &(self.picture.width(), self.picture.height()))
            .finish_non_exhaustive()
    }
}

/// Reads and decodes the PNG a watermark names.
pub fn load(spec: &WatermarkSpec) -> Result<Mark, WatermarkError> {
    let name = spec.path.display().to_string();
    let size = std::fs::metadata(&spec.path)
        .map_err(|e| WatermarkError::Read(name.clone(), e))?
        .len();
    if size > MAX_FILE {
        return Err(WatermarkError::TooLarge(name));
    }
    let bytes = std::fs::read(&spec.path).map_err(|e| WatermarkError::Read(name.clone(), e))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(WatermarkError::NotPng(name));
    }
    let decode_err =
        |e: &dyn std::fmt::Display| WatermarkError::Decode(name.clone(), e.to_string());
    let codec =
        ff::decoder::find(ff::codec::Id::PNG).ok_or_else(|| decode_err(&"no PNG decoder"))?;
    let mut decoder = ff::codec::context::Context::new_with_codec(codec)
        .decoder()
        .video()
        .map_err(|e| decode_err(&e))?;
    let packet = ff::Packet::copy(&bytes);
    decoder.send_packet(&packet).map_err(|e| decode_err(&e))?;
    decoder.send_eof().map_err(|e| decode_err(&e))?;
    let mut picture = ff::frame::Video::empty();
    decoder
        .receive_frame(&mut picture)
        .map_err(|e| decode_err(&e))?;
    if picture.width() == 0 || picture.width() > MAX_SIDE || picture.height() > MAX_SIDE {
        return Err(decode_err(
            &"the picture is empty or larger than 4096 pixels a side",
        ));
    }
    Ok(Mark {
        picture,
        corner: spec.corner,
        opacity_pct: spec.opacity_pct.min(100),
    })
}

fn buffer_args(p: &ff::frame::Video) -> Result<String, ff::Error> {
    let fmt = p
        .format()
        .descriptor()
        .map(|d| d.name())
        .ok_or(ff::Error::InvalidData)?;
    let tb = timeline();
    Ok(format!(
        "video_size={}x{}:pix_fmt={fmt}:time_base={}/{}:pixel_aspect=1/1",
        p.width(),
        p.height(),
        tb.numerator(),
        tb.denominator()
    ))
}

/// The filter graph for pictures like `input` → `width`×`height` yuv420p, with `mark`.
pub fn graph(
    input: &ff::frame::Video,
    width: u32,
    height: u32,
    mark: Option<&Mark>,
) -> Result<ff::filter::Graph, ff::Error> {
    let buffer = ff::filter::find("buffer").ok_or(ff::Error::FilterNotFound)?;
    let sink = ff::filter::find("buffersink").ok_or(ff::Error::FilterNotFound)?;
    let mut graph = ff::filter::Graph::new();
    graph.add(&buffer, "in", &buffer_args(input)?)?;
    graph.add(&sink, "out", "")?;
    let scale = format!("scale={width}:{height}:flags=bicubic,format=yuv420p");
    match mark {
        None => {
            graph.output("in", 0)?.input("out", 0)?.parse(&scale)?;
        }
        Some(m) => {
            graph.add(&buffer, "wm", &buffer_args(&m.picture)?)?;
            let logo_h = ((u64::from(m.picture.height()) * u64::from(height) / 1080).max(2)) as u32;
            let margin = (height / 30).max(4);
            let (x, y) = match m.corner {
                Corner::TopLeft => (format!("{margin}"), format!("{margin}")),
                Corner::TopRight => (format!("W-w-{margin}"), format!("{margin}")),
                Corner::BottomLeft => (format!("{margin}"), format!("H-h-{margin}")),
                Corner::BottomRight => (format!("W-w-{margin}"), format!("H-h-{margin}")),
            };
            let alpha = f64::from(m.opacity_pct) / 100.0;
            let spec = format!(
                "[in]{scale}[base];\
                 [wm]format=rgba,scale=-2:{logo_h},colorchannelmixer=aa={alpha:.2}[logo];\
                 [base][logo]overlay=x={x}:y={y}:eof_action=repeat:format=auto,format=yuv420p[out]"
            );
            graph
                .output("in", 0)?
                .output("wm", 0)?
                .input("out", 0)?
                .parse(&spec)?;
        }
    }
    graph.validate()?;
    if let Some(m) = mark {
        let mut wm = graph.get("wm").ok_or(ff::Error::FilterNotFound)?;
        let mut logo = crate::ffi::share(&m.picture)?;
        logo.set_pts(Some(0));
        wm.source().add(&logo)?;
        // One picture, held for the whole stream (overlay repeats the last one).
        wm.source().flush()?;
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A 1280×720 mid-grey picture.
    fn grey() -> ff::frame::Video {
        let mut p = ff::frame::Video::new(ff::format::Pixel::YUV420P, 1280, 720);
        for plane in 0..3 {
            p.data_mut(plane).fill(128);
        }
        p.set_pts(Some(0));
        p
    }

    /// A 108×108 opaque red PNG made by the ffmpeg CLI.
    fn red_png(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("logo.png");
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", "color=red:size=108x108"])
            .args(["-frames:v", "1", "-y"])
            .arg(&path)
            .status()
            .expect("ffmpeg");
        assert!(ok.success());
        path
    }

    /// The grey picture through a 640×360 graph with `mark`.
    fn render(mark: &Mark) -> ff::frame::Video {
        let mut g = graph(&grey(), 640, 360, Some(mark)).expect("graph");
        g.get("in").expect("in").source().add(&grey()).expect("add");
        let mut out = ff::frame::Video::empty();
        g.get("out")
            .expect("out")
            .sink()
            .frame(&mut out)
            .expect("a picture");
        out
    }

    fn luma(p: &ff::frame::Video, x: usize, y: usize) -> u8 {
        p.data(0)[y * p.stride(0) + x]
    }

    fn chroma_v(p: &ff::frame::Video, x: usize, y: usize) -> u8 {
        p.data(2)[(y / 2) * p.stride(2) + x / 2]
    }

    #[test]
    fn a_png_is_overlaid_at_its_corner_scaled_with_the_picture() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("tmp");
        let spec = WatermarkSpec {
            path: red_png(dir.path()),
            corner: Corner::TopRight,
            opacity_pct: 100,
        };
        let mark = load(&spec).expect("a PNG");
        // A 640×360 rendition: the 108-line logo becomes 36 lines, 12 px from the edges.
        let out = render(&mark);
        assert_eq!((out.width(), out.height()), (640, 360));
        // Inside the logo (top-right): red has a high V (Cr); the rest stays grey.
        let (x, y) = (640 - 12 - 18, 12 + 18);
        assert!(chroma_v(&out, x, y) > 200, "V {}", chroma_v(&out, x, y));
        assert!((120..=136).contains(&luma(&out, 100, 200)));
        assert!((120..=136).contains(&chroma_v(&out, 100, 200)));
        // Outside the logo's box, just left of it: untouched.
        assert!((120..=136).contains(&chroma_v(&out, 640 - 12 - 40, y)));

        // Half opacity: half-way between grey and red.
        let half = load(&WatermarkSpec {
            opacity_pct: 50,
            ..spec.clone()
        })
        .expect("a PNG");
        let v = chroma_v(&render(&half), x, y);
        assert!((170..=210).contains(&v), "V {v} at 50 %");
    }

    #[test]
    fn a_file_that_is_not_a_png_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("logo.png");
        std::fs::write(&path, b"GIF89a not a png").expect("write");
        let err = load(&WatermarkSpec {
            path: path.clone(),
            corner: Corner::BottomLeft,
            opacity_pct: 80,
        })
        .expect_err("not a PNG");
        assert!(err.to_string().contains("is not a PNG image"), "{err}");
        assert!(err.to_string().contains("logo.png"), "{err}");
        let missing = load(&WatermarkSpec {
            path: dir.path().join("gone.png"),
            corner: Corner::BottomLeft,
            opacity_pct: 80,
        })
        .expect_err("missing");
        assert!(missing.to_string().starts_with("cannot read"), "{missing}");
    }
}
