//! Everything in Tidecast that touches FFmpeg: decode, scale, filter, encode, probe.
//!
//! It implements the encoder traits the engine declares, so the engine never links FFmpeg.
//! The crate is part of the workspace layout from the start; it gains its FFmpeg
//! dependency (ffmpeg-next) together with the first capability that needs it — the
//! adaptive-bitrate ladder — so the foundation builds without FFmpeg's development headers.
