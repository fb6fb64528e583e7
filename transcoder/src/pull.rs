//! Relays from sources only FFmpeg reads (RTSP cameras, over TCP or UDP): FFmpeg's
//! demuxers hand over packets, which go on as FLV tags without decoding: H.264 as AVCC
//! pictures after a sequence header (from the stream's parameters or, when a camera sends
//! them only in-band, its first keyframe), AAC as raw frames after its
//! AudioSpecificConfig. Other codecs are left out with a log line (a camera's G.711 audio).

use bytes::Bytes;
use ffmpeg_next as ff;
use tidecast_engine::media::avc::{AvcConfig, annex_b_to_avcc, annex_b_units};
use tidecast_engine::media::flv::Tag;
use tidecast_engine::media::flv::build;
use tidecast_engine::transcode::TranscodeError;

use crate::ffi;

/// A stream's index, time base, and (video) whether its pictures are Annex-B.
struct Track {
    index: usize,
    base: ff::Rational,
}

fn ms(t: i64, base: ff::Rational) -> u32 {
    let v = t as i128 * i128::from(base.numerator()) * 1000 / i128::from(base.denominator().max(1));
    v as i64 as u32
}

fn extradata(stream: &ff::format::stream::Stream) -> Vec<u8> {
    ff::codec::context::Context::from_parameters(stream.parameters())
        .map(|c| ffi::extradata(&c))
        .unwrap_or_default()
}

/// The decoder configuration in `data`: an avcC record as it is, or Annex-B SPS/PPS made
/// into one.
fn avc_record(data: &[u8]) -> Option<Bytes> {
    match data.first() {
        Some(1) => Some(Bytes::copy_from_slice(data)),
        Some(_) => AvcConfig::from_annex_b(data).ok().map(|c| c.record),
        None => None,
    }
}

pub fn pull(
    url: &str,
    options: &[(String, String)],
    out: &mut dyn FnMut(Tag) -> bool,
) -> Result<(), TranscodeError> {
    let mut dict = ff::Dictionary::new();
    for (k, v) in options {
        dict.set(k, v);
    }
    // The URL may hold a camera's password: errors never quote it.
    let mut ictx = ff::format::input_with_dictionary(&url, dict)
        .map_err(|e| TranscodeError::failed("the source did not open", e))?;
    let video = ictx.streams().best(ff::media::Type::Video).map(|s| {
        let id = s.parameters().id();
        (s.index(), s.time_base(), id, extradata(&s))
    });
    let audio = ictx.streams().best(ff::media::Type::Audio).map(|s| {
        let id = s.parameters().id();
        (s.index(), s.time_base(), id, extradata(&s))
    });
    let mut avc: Option<Bytes> = None;
    let v = match video {
        Some((index, base, ff::codec::Id::H264, extra)) => {
            if let Some(record) = avc_record(&extra) {
                if !out(Tag {
                    video: true,
                    ts: 0,
                    data: build::avc_header(&record),
                }) {
                    return Ok(());
                }
                avc = Some(record);
            }
            Some(Track { index, base })
        }
        Some((_, _, id, _)) => {
            return Err(TranscodeError::input(format!(
                "the source's video is {id:?}; relays take H.264"
            )));
        }
        None => None,
    };
    let a = match audio {
        Some((index, base, ff::codec::Id::AAC, asc)) if !asc.is_empty() => {
            if !out(Tag {
                video: false,
                ts: 0,
                data: build::aac_header(&asc),
            }) {
                return Ok(());
            }
            Some(Track { index, base })
        }
        Some((_, _, id, _)) => {
            tracing::warn!("relay: the source's audio is {id:?}, not AAC: relayed without sound");
            None
        }
        None => None,
    };
    if v.is_none() && a.is_none() {
        return Err(TranscodeError::input(
            "the source has no H.264 video or AAC audio",
        ));
    }
    let mut packet = ff::Packet::empty();
    loop {
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => return Ok(()),
            Err(e) => return Err(TranscodeError::failed("reading the source failed", e)),
        }
        let Some(data) = packet.data() else { continue };
        let index = packet.stream();
        let Some(dts) = packet.dts().or(packet.pts()) else {
            continue;
        };
        let tag = if let Some(t) = v.as_ref().filter(|t| t.index == index) {
            let annex_b = data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1]);
            if annex_b {
                // Parameter sets in-band: a new or first configuration.
                let units = annex_b_units(data);
                if units.iter().any(|n| n[0] & 0x1F == 7)
                    && let Ok(cfg) = AvcConfig::from_annex_b(data)
                    && avc.as_ref() != Some(&cfg.record)
                {
                    if !out(Tag {
                        video: true,
                        ts: ms(dts, t.base),
                        data: build::avc_header(&cfg.record),
                    }) {
                        return Ok(());
                    }
                    avc = Some(cfg.record);
                }
            }
            if avc.is_none() {
                continue;
            }
            let avcc = if annex_b {
                annex_b_to_avcc(data)
            } else {
                Bytes::copy_from_slice(data)
            };
            let pts = packet.pts().unwrap_or(dts);
            let cts = ms(pts, t.base).wrapping_sub(ms(dts, t.base)) as i32;
            Tag {
                video: true,
                ts: ms(dts, t.base),
                data: build::avc_picture(packet.is_key(), cts, &avcc),
            }
        } else if let Some(t) = a.as_ref().filter(|t| t.index == index) {
            Tag {
                video: false,
                ts: ms(dts, t.base),
                data: build::aac_frame(data),
            }
        } else {
            continue;
        };
        if !out(tag) {
            return Ok(());
        }
    }
}
