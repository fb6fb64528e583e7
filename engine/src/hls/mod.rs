//! HLS output: MPEG-TS muxing ([`ts`]), segmenting ([`packager`]) and the in-memory live
//! window with its prepared playlist ([`live`]); transcoded renditions' way in
//! ([`rendition`]).

pub mod fmp4;
pub mod live;
pub mod packager;
pub mod rendition;
pub mod ts;
pub mod viewers;

#[cfg(test)]
pub(crate) mod testing;
