//! The few things ffmpeg-next does not wrap, done on FFmpeg's C API directly. Every unsafe
//! block in the crate is here, each with why it is sound.
#![allow(unsafe_code)]

use ff::ffi;
use ffmpeg_next as ff;

/// Gives a decoder context its codec's out-of-band configuration (an H.264
/// AVCDecoderConfigurationRecord, an AAC AudioSpecificConfig). ffmpeg-next has no setter.
/// Takes the context by value: only a context not opened yet is a plain `Context` one can
/// own (opening consumes it), which is what FFmpeg requires.
pub fn with_extradata(
    mut ctx: ff::codec::context::Context,
    data: &[u8],
) -> Result<ff::codec::context::Context, ff::Error> {
    let padded = data.len() + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
    let size = i32::try_from(data.len()).map_err(|_| ff::Error::InvalidData)?;
    // SAFETY: `ctx` owns a valid AVCodecContext that is not opened yet (opening consumes
    // a `Context`, so an owned one never is). The buffer comes from av_mallocz (FFmpeg frees it with the
    // context via av_freep), is `padded` bytes long as FFmpeg requires, and we copy exactly
    // `data.len()` bytes into it; any earlier extradata is freed first.
    unsafe {
        let c = ctx.as_mut_ptr();
        if !(*c).extradata.is_null() {
            ffi::av_freep(std::ptr::addr_of_mut!((*c).extradata).cast());
        }
        let buf = ffi::av_mallocz(padded).cast::<u8>();
        if buf.is_null() {
            return Err(ff::Error::Other {
                errno: libc_enomem(),
            });
        }
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
        (*c).extradata = buf;
        (*c).extradata_size = size;
    }
    Ok(ctx)
}

/// A new reference to decoded audio (same buffers). libavfilter's buffer sources take the
/// references of the frame they are given, leaving it empty, so each graph gets its own.
pub fn share_audio(frame: &ff::frame::Audio) -> Result<ff::frame::Audio, ff::Error> {
    let mut out = ff::frame::Audio::empty();
    // SAFETY: as in `share`: both are valid AVFrames, `out` is empty; on success `out` owns
    // its references, freed by its Drop.
    let ret = unsafe { ffi::av_frame_ref(out.as_mut_ptr(), frame.as_ptr()) };
    if ret < 0 {
        return Err(ff::Error::from(ret));
    }
    Ok(out)
}

/// An opened encoder's global header (H.264 SPS/PPS in Annex-B, an AAC
/// AudioSpecificConfig), copied out.
pub fn extradata(ctx: &ff::codec::context::Context) -> Vec<u8> {
    // SAFETY: reading the context's extradata pointer and size; FFmpeg guarantees
    // `extradata_size` valid bytes when the pointer is non-null, and the borrow of `ctx`
    // keeps the context alive while we copy.
    unsafe {
        let c = ctx.as_ptr();
        let (ptr, len) = ((*c).extradata, (*c).extradata_size);
        if ptr.is_null() || len <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(ptr, len as usize).to_vec()
    }
}

/// A new reference to a decoded picture: the same buffers (reference-counted), no copy.
/// ffmpeg-next's `Clone` copies every pixel, which a ladder of four would do four times a
/// frame.
pub fn share(frame: &ff::frame::Video) -> Result<ff::frame::Video, ff::Error> {
    let mut out = ff::frame::Video::empty();
    // SAFETY: both pointers are valid AVFrames owned by their wrappers; `out` is empty, as
    // av_frame_ref requires. On success `out` holds its own references, freed by its Drop.
    let ret = unsafe { ffi::av_frame_ref(out.as_mut_ptr(), frame.as_ptr()) };
    if ret < 0 {
        return Err(ff::Error::from(ret));
    }
    Ok(out)
}

/// Clears an output stream's codec tag, so the muxer picks its own container's tag for the
/// codec (a stream copied from MPEG-TS into MP4 would otherwise keep TS's tag and be
/// refused). ffmpeg-next has no setter.
pub fn clear_codec_tag(stream: &mut ff::format::stream::StreamMut<'_>) {
    // SAFETY: `parameters()` points at the stream's own AVCodecParameters, valid for as
    // long as the stream (borrowed mutably here); codec_tag is a plain integer field.
    unsafe {
        (*stream.parameters().as_mut_ptr()).codec_tag = 0;
    }
}

/// Where an opened file's timeline starts, in microseconds (`None` when the container does
/// not say). ffmpeg-next has no getter for `AVFormatContext.start_time`.
pub fn start_time_us(ictx: &ff::format::context::Input) -> Option<i64> {
    // SAFETY: `as_ptr()` points at the open AVFormatContext, valid while `ictx` is
    // borrowed; start_time is a plain integer field.
    let t = unsafe { (*ictx.as_ptr()).start_time };
    (t != ffi::AV_NOPTS_VALUE).then_some(t)
}

fn libc_enomem() -> i32 {
    12
}
