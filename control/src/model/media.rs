//! What a media item is to the outside: who may play its on-demand copy.
//!
//! Invariant: an item's player and HLS URLs carry its unguessable public id, never the
//! integer id; `Visibility` then decides who that URL plays for (`domain::media::playback`).

use serde::{Deserialize, Serialize};

/// Who may play a media item's on-demand copy.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Plays by its URL and may be listed where public things are listed.
    Public,
    /// Plays for whoever has its (unguessable) URL; listed nowhere. What uploads start as.
    #[default]
    Unlisted,
    /// Plays only in its owner's panel (the owner, its reseller, an admin) or through a
    /// signed URL until it expires. What DVR exports and live sets start as.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "unlisted" => Some(Self::Unlisted),
            "private" => Some(Self::Private),
            _ => None,
        }
    }
}

/// A stored visibility that is none of the three (a row written by hand).
#[derive(Debug, thiserror::Error)]
#[error("unknown visibility {0:?}")]
pub struct UnknownVisibility(String);

impl TryFrom<String> for Visibility {
    type Error = UnknownVisibility;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or(UnknownVisibility(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_read_back() {
        for v in [
            Visibility::Public,
            Visibility::Unlisted,
            Visibility::Private,
        ] {
            assert_eq!(Visibility::parse(v.as_str()), Some(v));
            assert_eq!(
                serde_json::to_value(v).unwrap_or_default(),
                serde_json::Value::from(v.as_str())
            );
        }
        assert_eq!(Visibility::parse("Public"), None);
    }
}
