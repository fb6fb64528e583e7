//! Media for `tidecast serve --demo`, synthesised here so a first run needs no download and
//! no licence: short tracks for AutoDJ (a melody over a bass line, MP3 with tags) and a
//! clip for the video channel (moving colour bars with a tone, H.264 + AAC in FLV, which
//! the demo publisher loops over RTMP like any encoder would).

use std::f32::consts::TAU;
use std::path::Path;

use ffmpeg_next as ff;
use tidecast_engine::transcode::TranscodeError;

fn err(what: &'static str) -> impl Fn(ff::Error) -> TranscodeError {
    move |e| TranscodeError::failed(format!("demo media, {what}"), e)
}

/// One demo track: a melody of `notes` (Hz, a note every half second) over `bass`.
#[derive(Debug, Clone)]
pub struct DemoTrack {
    pub title: String,
    pub artist: String,
    pub notes: Vec<f32>,
    pub bass: Vec<f32>,
    pub seconds: u32,
}

/// The track's sound at sample `i` (44.1 kHz), -1..1: soft plucked notes and a bass note
/// per bar of four.
fn track_sample(t: &DemoTrack, i: usize) -> f32 {
    let rate = 44_100.0;
    let time = i as f32 / rate;
    let beat = 0.5;
    let n = (time / beat) as usize;
    let in_note = time - n as f32 * beat;
    let note = t.notes[n % t.notes.len()];
    let env = (in_note * 60.0).min(1.0) * (-in_note * 5.0).exp();
    let melody = env * ((TAU * note * time).sin() + 0.3 * (TAU * 2.0 * note * time).sin());
    let bar = n / 4;
    let bass_note = t.bass[bar % t.bass.len()];
    let in_bar = time - (bar * 4) as f32 * beat;
    let bass_env = (in_bar * 20.0).min(1.0) * (-in_bar * 1.2).exp();
    let bass = bass_env * (TAU * bass_note * time).sin();
    // Fade in and out over a second so tracks join smoothly.
    let total = t.seconds as f32;
    let fade = time.min(total - time).clamp(0.0, 1.0);
    0.35 * fade * (melody * 0.6 + bass * 0.5)
}

/// Writes `t` as an MP3 (128 kbit/s, tagged) at `out`.
pub fn render_track(out: &Path, t: &DemoTrack) -> Result<(), TranscodeError> {
    ff::init().map_err(err("FFmpeg"))?;
    let codec = ff::encoder::find_by_name("libmp3lame")
        .ok_or_else(|| TranscodeError::missing("this FFmpeg has no MP3 encoder (libmp3lame)"))?;
    let mut ctx = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(err("the MP3 encoder"))?;
    ctx.set_rate(44_100);
    ctx.set_channel_layout(ff::ChannelLayout::STEREO);
    ctx.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    ctx.set_bit_rate(128_000);
    ctx.set_time_base(ff::Rational::new(1, 44_100));
    let mut enc = ctx.open_as(codec).map_err(err("the MP3 encoder"))?;
    let mut octx = ff::format::output_as(&out, "mp3").map_err(err("the MP3 file"))?;
    let mut meta = ff::Dictionary::new();
    meta.set("title", &t.title);
    meta.set("artist", &t.artist);
    meta.set("album", "Tidecast Demo");
    octx.set_metadata(meta);
    octx.add_stream(codec)
        .map_err(err("the MP3 file"))?
        .set_parameters(&enc);
    octx.write_header().map_err(err("the MP3 file"))?;
    let tb = octx
        .stream(0)
        .map_or(ff::Rational(1, 44_100), |s| s.time_base());
    let frame_len = match enc.frame_size() {
        0 => 1152,
        n => n as usize,
    };
    let total = t.seconds as usize * 44_100;
    let mut at = 0;
    while at < total {
        let n = frame_len.min(total - at);
        let mut frame = ff::frame::Audio::new(enc.format(), n, ff::ChannelLayout::STEREO);
        frame.set_rate(44_100);
        for ch in 0..2 {
            let plane = frame.plane_mut::<f32>(ch);
            for (k, s) in plane.iter_mut().enumerate().take(n) {
                *s = track_sample(t, at + k);
            }
        }
        frame.set_pts(Some(at as i64));
        enc.send_frame(&frame).map_err(err("MP3 encoding"))?;
        write_packets(&mut enc, &mut octx, ff::Rational(1, 44_100), tb, 0)?;
        at += n;
    }
    enc.send_eof().map_err(err("MP3 encoding"))?;
    write_packets(&mut enc, &mut octx, ff::Rational(1, 44_100), tb, 0)?;
    octx.write_trailer().map_err(err("the MP3 file"))?;
    Ok(())
}

fn write_packets(
    enc: &mut ff::encoder::Encoder,
    octx: &mut ff::format::context::Output,
    from: ff::Rational,
    to: ff::Rational,
    stream: usize,
) -> Result<(), TranscodeError> {
    let mut packet = ff::Packet::empty();
    while enc.receive_packet(&mut packet).is_ok() {
        packet.rescale_ts(from, to);
        packet.set_stream(stream);
        packet
            .write_interleaved(octx)
            .map_err(err("writing the file"))?;
    }
    Ok(())
}

/// Size and rate of the demo clip: small enough that the loop costs next to nothing.
const CLIP_W: u32 = 854;
const CLIP_H: u32 = 480;
const CLIP_FPS: i32 = 30;

/// Writes `seconds` of moving colour bars with a bouncing square and a tone (a beep each
/// second) as FLV (H.264 with a keyframe every second, AAC) at `out`.
pub fn render_clip(out: &Path, seconds: u32) -> Result<(), TranscodeError> {
    ff::init().map_err(err("FFmpeg"))?;
    let vcodec = ff::encoder::find_by_name("libx264")
        .ok_or_else(|| TranscodeError::missing("this FFmpeg has no H.264 encoder (libx264)"))?;
    let mut vctx = ff::codec::context::Context::new_with_codec(vcodec)
        .encoder()
        .video()
        .map_err(err("the H.264 encoder"))?;
    vctx.set_width(CLIP_W);
    vctx.set_height(CLIP_H);
    vctx.set_format(ff::format::Pixel::YUV420P);
    vctx.set_time_base(ff::Rational::new(1, CLIP_FPS));
    vctx.set_frame_rate(Some(ff::Rational::new(CLIP_FPS, 1)));
    vctx.set_bit_rate(1_000_000);
    vctx.set_gop(CLIP_FPS as u32);
    vctx.set_max_b_frames(0);
    vctx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut opts = ff::Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("profile", "main");
    opts.set("x264-params", "scenecut=0:open-gop=0");
    let mut venc = vctx
        .open_as_with(vcodec, opts)
        .map_err(err("the H.264 encoder"))?;

    let acodec = ff::encoder::find(ff::codec::Id::AAC)
        .ok_or_else(|| TranscodeError::missing("this FFmpeg has no AAC encoder"))?;
    let mut actx = ff::codec::context::Context::new_with_codec(acodec)
        .encoder()
        .audio()
        .map_err(err("the AAC encoder"))?;
    actx.set_rate(48_000);
    actx.set_channel_layout(ff::ChannelLayout::STEREO);
    actx.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    actx.set_bit_rate(96_000);
    actx.set_time_base(ff::Rational::new(1, 48_000));
    actx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut aenc = actx.open_as(acodec).map_err(err("the AAC encoder"))?;

    let mut octx = ff::format::output_as(&out, "flv").map_err(err("the FLV file"))?;
    octx.add_stream(vcodec)
        .map_err(err("the FLV file"))?
        .set_parameters(&venc);
    octx.add_stream(acodec)
        .map_err(err("the FLV file"))?
        .set_parameters(&aenc);
    octx.write_header().map_err(err("the FLV file"))?;
    let vtb = octx
        .stream(0)
        .map_or(ff::Rational(1, 1000), |s| s.time_base());
    let atb = octx
        .stream(1)
        .map_or(ff::Rational(1, 1000), |s| s.time_base());

    let frames = seconds as i64 * i64::from(CLIP_FPS);
    let samples_total = seconds as usize * 48_000;
    let a_len = match aenc.frame_size() {
        0 => 1024,
        n => n as usize,
    };
    let mut a_at = 0usize;
    for i in 0..frames {
        let mut picture = ff::frame::Video::new(ff::format::Pixel::YUV420P, CLIP_W, CLIP_H);
        paint(&mut picture, i);
        picture.set_pts(Some(i));
        venc.send_frame(&picture).map_err(err("H.264 encoding"))?;
        write_packets(&mut venc, &mut octx, ff::Rational(1, CLIP_FPS), vtb, 0)?;
        // Audio up to this picture's time.
        let until = (((i + 1) * 48_000) / i64::from(CLIP_FPS)) as usize;
        while a_at + a_len <= until.min(samples_total) {
            let mut frame = ff::frame::Audio::new(aenc.format(), a_len, ff::ChannelLayout::STEREO);
            frame.set_rate(48_000);
            for ch in 0..2 {
                let plane = frame.plane_mut::<f32>(ch);
                for (k, s) in plane.iter_mut().enumerate() {
                    let t = (a_at + k) as f32 / 48_000.0;
                    // A short beep at the top of each second, a quiet hum between.
                    let beep = if t.fract() < 0.1 { 0.3 } else { 0.03 };
                    *s = beep * (TAU * 880.0 * t).sin();
                }
            }
            frame.set_pts(Some(a_at as i64));
            aenc.send_frame(&frame).map_err(err("AAC encoding"))?;
            write_packets(&mut aenc, &mut octx, ff::Rational(1, 48_000), atb, 1)?;
            a_at += a_len;
        }
    }
    venc.send_eof().map_err(err("H.264 encoding"))?;
    write_packets(&mut venc, &mut octx, ff::Rational(1, CLIP_FPS), vtb, 0)?;
    aenc.send_eof().map_err(err("AAC encoding"))?;
    write_packets(&mut aenc, &mut octx, ff::Rational(1, 48_000), atb, 1)?;
    octx.write_trailer().map_err(err("the FLV file"))?;
    Ok(())
}

/// Colour bars sliding left, a white square bouncing across them, a progress line below.
fn paint(picture: &mut ff::frame::Video, i: i64) {
    // BT.601 Y, U, V of the seven classic bars.
    const BARS: [(u8, u8, u8); 7] = [
        (180, 128, 128),
        (162, 44, 142),
        (131, 156, 44),
        (112, 72, 58),
        (84, 184, 198),
        (65, 100, 212),
        (35, 212, 114),
    ];
    let (w, h) = (CLIP_W as usize, CLIP_H as usize);
    let shift = (i as usize * 4) % w;
    let bar_w = w.div_ceil(7);
    let square = 80usize;
    let span = w - square;
    let pos = (i as usize * 6) % (2 * span);
    let sx = if pos < span { pos } else { 2 * span - pos };
    let sy = h / 2 - square / 2;
    let progress = (i as usize % (CLIP_FPS as usize * 10)) * w / (CLIP_FPS as usize * 10);
    let colour = |x: usize, y: usize| -> (u8, u8, u8) {
        if (sx..sx + square).contains(&x) && (sy..sy + square).contains(&y) {
            return (235, 128, 128);
        }
        if y >= h - 12 {
            return if x < progress {
                (170, 166, 16)
            } else {
                (16, 128, 128)
            };
        }
        BARS[((x + shift) % w) / bar_w % 7]
    };
    let stride = picture.stride(0);
    let luma = picture.data_mut(0);
    for y in 0..h {
        for x in 0..w {
            luma[y * stride + x] = colour(x, y).0;
        }
    }
    for plane in 1..3 {
        let stride = picture.stride(plane);
        let data = picture.data_mut(plane);
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                let c = colour(x * 2, y * 2);
                data[y * stride + x] = if plane == 1 { c.1 } else { c.2 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_media_decode_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let track = dir.path().join("t.mp3");
        render_track(
            &track,
            &DemoTrack {
                title: "Ebb".into(),
                artist: "Tidecast".into(),
                notes: vec![440.0, 494.0, 523.0],
                bass: vec![110.0],
                seconds: 4,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = crate::probe(&track).unwrap_or_else(|e| panic!("{e}"));
        assert!((p.duration_s.unwrap_or(0.0) - 4.0).abs() < 0.2, "{p:?}");
        assert_eq!(p.title.as_deref(), Some("Ebb"));
        let clip = dir.path().join("c.flv");
        render_clip(&clip, 2).unwrap_or_else(|e| panic!("{e}"));
        let p = crate::probe(&clip).unwrap_or_else(|e| panic!("{e}"));
        assert!((p.duration_s.unwrap_or(0.0) - 2.0).abs() < 0.2, "{p:?}");
        assert!(p.has_video && p.has_audio, "{p:?}");
    }
}
