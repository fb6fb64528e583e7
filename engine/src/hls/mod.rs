//! HLS output: MPEG-TS and fMP4 muxing ([`ts`], [`fmp4`]), segmenting ([`packager`]), the
//! in-memory live window ([`live`]), transcoded renditions' way in ([`rendition`]), and the
//! one playlist writer ([`playlist`]) with the one URI scheme ([`uri`]) that live, DVR and
//! VOD playlists are all written with.

pub mod fmp4;
pub mod live;
pub mod packager;
pub mod playlist;
pub mod rendition;
pub mod ts;
pub mod uri;
pub mod viewers;
pub mod vod;

#[cfg(test)]
pub(crate) mod testing;
