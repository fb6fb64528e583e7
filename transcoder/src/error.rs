//! The crate's own errors as the engine's [`TranscodeError`] (the trait's one error type),
//! keeping their words: each says which step failed and FFmpeg's reason.

use tidecast_engine::transcode::TranscodeError;

use crate::decode::DecodeSetupError;
use crate::feed::FeedError;
use crate::rendition::RenditionError;

impl From<DecodeSetupError> for TranscodeError {
    fn from(e: DecodeSetupError) -> Self {
        match e {
            DecodeSetupError::Missing(codec) => {
                Self::missing(format!("this FFmpeg has no {codec} decoder"))
            }
            DecodeSetupError::Open(codec, e) => {
                Self::failed(format!("cannot open the {codec} decoder"), e)
            }
        }
    }
}

impl From<FeedError> for TranscodeError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Encoder(codec, e) => Self::failed(format!("the {codec} encoder"), e),
        }
    }
}

impl From<RenditionError> for TranscodeError {
    fn from(e: RenditionError) -> Self {
        match e {
            RenditionError::Encoder(e) => Self::failed("the H.264 encoder", e),
            RenditionError::Filter(e) => Self::failed("scaling", e),
            RenditionError::Headers(e) => Self::failed("the encoder's parameter sets", e),
        }
    }
}
