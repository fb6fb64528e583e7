//! DVR recordings: archived segments copied packet for packet (no re-encode) into one MP4
//! with its index at the front (`+faststart`), so it plays while it downloads.
//!
//! Each part is read as one byte stream through FFmpeg's `concat:` protocol (MPEG-TS
//! segments concatenate into a valid TS; an fMP4 init segment and its fragments into a
//! fragmented MP4), so nothing is copied to a temporary file first. A part that starts a new
//! recording has timestamps of its own: it is moved to start where the previous part ended,
//! so the MP4 has one continuous timeline with the publisher's breaks left out.

use std::path::Path;

use ff::Rescale;
use ffmpeg_next as ff;
use tidecast_engine::transcode::{RemuxJob, RemuxPart, RemuxReport, TranscodeError};

/// Files a part is opened with at most in one `concat:` URL (longer parts are split,
/// keeping their timeline).
const FILES_PER_OPEN: usize = 300;

/// The demuxers archived segments may need.
const FORMATS: &str = "mpegts,mov";

/// Packets read ahead at the start of a new timeline to find its earliest timestamp.
const LOOKAHEAD: usize = 64;

fn err(what: &'static str) -> impl Fn(ff::Error) -> TranscodeError {
    move |e| TranscodeError::failed(what, e)
}

/// One output stream and where its input packets come from.
struct Out {
    medium: ff::media::Type,
    index: usize,
}

pub fn remux(job: &RemuxJob, progress: &mut dyn FnMut(f64)) -> Result<RemuxReport, TranscodeError> {
    let pieces = split(&job.parts);
    let Some((first, _)) = pieces.first() else {
        return Err(TranscodeError::input("nothing to export"));
    };
    let probe = open(first)?;
    let mut octx =
        ff::format::output_as(&job.output, "mp4").map_err(err("cannot create the MP4 file"))?;
    let mut outs = Vec::new();
    for medium in [ff::media::Type::Video, ff::media::Type::Audio] {
        let Some(ist) = probe.streams().best(medium) else {
            continue;
        };
        let mut ost = octx
            .add_stream(ff::encoder::find(ff::codec::Id::None))
            .map_err(err("cannot add a stream to the MP4 file"))?;
        ost.set_parameters(ist.parameters());
        crate::ffi::clear_codec_tag(&mut ost);
        outs.push(Out {
            medium,
            index: outs.len(),
        });
    }
    drop(probe);
    if outs.is_empty() {
        return Err(TranscodeError::input("the archive holds no audio or video"));
    }
    let mut options = ff::Dictionary::new();
    options.set("movflags", "+faststart");
    octx.write_header_with(options)
        .map_err(err("cannot start the MP4 file"))?;
    let out_tbs: Vec<ff::Rational> = (0..outs.len())
        .map(|i| {
            octx.stream(i)
                .map_or(ff::Rational(1, 90_000), |s| s.time_base())
        })
        .collect();

    let micro = ff::Rational(1, 1_000_000);
    let total_us = (job.duration_s * 1e6).max(1.0);
    // Where the timeline written so far ends, and what moves the current part's
    // timestamps onto it (µs).
    let mut end_us: i64 = 0;
    let mut offset_us: i64 = 0;
    let mut packets = 0u64;
    let mut last_report = 0.0;
    for (files, continues) in &pieces {
        let mut ictx = open(files)?;
        // Input stream index → output stream.
        let mut map: Vec<Option<(usize, ff::Rational)>> = vec![None; ictx.streams().count()];
        for out in &outs {
            if let Some(ist) = ictx.streams().best(out.medium) {
                map[ist.index()] = Some((out.index, ist.time_base()));
            }
        }
        let mut ahead: Vec<ff::Packet> = Vec::new();
        let mut placed = *continues && packets > 0;
        let write = |mut packet: ff::Packet,
                     octx: &mut ff::format::context::Output,
                     offset_us: i64,
                     end_us: &mut i64|
         -> Result<(), TranscodeError> {
            let Some((out, in_tb)) = map.get(packet.stream()).copied().flatten() else {
                return Ok(());
            };
            let shift = |t: i64| t.rescale(in_tb, micro) + offset_us;
            let dts = packet.dts().or(packet.pts()).map(shift);
            let pts = packet.pts().or(packet.dts()).map(shift);
            // A broken packet before the timeline starts is left out.
            let (Some(dts), Some(pts)) = (dts, pts) else {
                return Ok(());
            };
            let duration = packet.duration().rescale(in_tb, micro);
            *end_us = (*end_us).max(dts + duration);
            packet.set_dts(Some(dts.rescale(micro, out_tbs[out])));
            packet.set_pts(Some(pts.rescale(micro, out_tbs[out])));
            packet.set_duration(duration.rescale(micro, out_tbs[out]));
            packet.set_stream(out);
            packet.set_position(-1);
            packet
                .write_interleaved(octx)
                .map_err(err("cannot write to the MP4 file"))
        };
        for (stream, packet) in ictx.packets() {
            if map.get(stream.index()).copied().flatten().is_none() {
                continue;
            }
            if !placed {
                // A new timeline: its earliest timestamp goes where the last one ended.
                ahead.push(packet);
                if ahead.len() < LOOKAHEAD {
                    continue;
                }
                offset_us = end_us - earliest_us(&ahead, &map, micro);
                placed = true;
                for p in ahead.drain(..) {
                    write(p, &mut octx, offset_us, &mut end_us)?;
                    packets += 1;
                }
                continue;
            }
            write(packet, &mut octx, offset_us, &mut end_us)?;
            packets += 1;
            let done = end_us as f64 / total_us;
            if done - last_report >= 0.01 {
                last_report = done;
                progress(done.min(1.0));
            }
        }
        // A part shorter than the look-ahead.
        if !ahead.is_empty() {
            offset_us = end_us - earliest_us(&ahead, &map, micro);
            for p in ahead.drain(..) {
                write(p, &mut octx, offset_us, &mut end_us)?;
                packets += 1;
            }
        }
    }
    octx.write_trailer()
        .map_err(err("cannot finish the MP4 file"))?;
    progress(1.0);
    Ok(RemuxReport {
        duration_s: end_us as f64 / 1e6,
        packets,
    })
}

/// The earliest decode time (µs, before any offset) among `packets`.
fn earliest_us(
    packets: &[ff::Packet],
    map: &[Option<(usize, ff::Rational)>],
    micro: ff::Rational,
) -> i64 {
    packets
        .iter()
        .filter_map(|p| {
            let (_, tb) = map.get(p.stream()).copied().flatten()?;
            p.dts().or(p.pts()).map(|t| t.rescale(tb, micro))
        })
        .min()
        .unwrap_or(0)
}

/// The parts cut into pieces of at most [`FILES_PER_OPEN`] files, each with whether it
/// continues the previous piece's timeline. An fMP4 part's later pieces start with its
/// init segment again.
fn split(parts: &[RemuxPart]) -> Vec<(Vec<&Path>, bool)> {
    let mut out = Vec::new();
    for part in parts {
        let init = part
            .files
            .first()
            .filter(|f| f.extension().is_some_and(|e| e == "mp4"));
        let body = &part.files[usize::from(init.is_some())..];
        for (i, chunk) in body.chunks(FILES_PER_OPEN).enumerate() {
            let files: Vec<&Path> = init
                .map(|p| p.as_path())
                .into_iter()
                .chain(chunk.iter().map(|p| p.as_path()))
                .collect();
            out.push((files, part.continues || i > 0));
        }
    }
    out
}

/// Opens files as one stream with only the archive's demuxers and local files allowed.
fn open(files: &[&Path]) -> Result<ff::format::context::Input, TranscodeError> {
    let mut url = String::from("concat:");
    for (i, f) in files.iter().enumerate() {
        let name = f
            .to_str()
            .filter(|s| !s.contains('|'))
            .ok_or_else(|| TranscodeError::input(format!("{}: unusable file name", f.display())))?;
        if i > 0 {
            url.push('|');
        }
        url.push_str(name);
    }
    let mut options = ff::Dictionary::new();
    options.set("format_whitelist", FORMATS);
    options.set("protocol_whitelist", "concat,file");
    ff::format::input_with_dictionary(&url, options).map_err(err("cannot read the archive"))
}
