//! A video service's DVR settings as stored (`services.dvr_json`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvrSettings {
    pub enabled: bool,
    /// How much is kept; capped by the plan's `dvr_minutes` when used.
    pub window_minutes: u32,
}
