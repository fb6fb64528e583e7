//! AutoDJ in the control plane: a station's settings, the library the engine's playout asks
//! for tracks ([`library::DbLibrary`], choosing with [`pick`]), and starting stations (on
//! request, and again after a restart for those left on).

pub mod calendar;
pub mod library;
pub mod pick;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tidecast_engine::autodj::StationConfig;
use tidecast_engine::transcode::AudioCodec;

use crate::admission::DbAdmission;
use crate::api::state::AppState;
use crate::db::services::{self, Service};

/// A station's AutoDJ settings, stored as `services.autodj_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Left on: it plays, and starts again with the server.
    pub enabled: bool,
    /// `mp3`, `aac` or `opus`: the station's primary mount format while AutoDJ is on air.
    pub format: String,
    pub bitrate_kbps: u32,
    /// Overlap between tracks (0 for none).
    pub crossfade_s: f64,
    /// Loudness every track is brought to (EBU R128, LUFS).
    pub target_lufs: f64,
    /// Silence longer than this (seconds) is dead air: logged, counted, skipped past.
    #[serde(default = "default_dead_air")]
    pub dead_air_s: f64,
}

fn default_dead_air() -> f64 {
    10.0
}

impl Settings {
    /// The defaults for a station: MP3 at 128 kbit/s (less if the plan caps it), a 2 s
    /// crossfade, −16 LUFS.
    pub fn defaults(s: &Service) -> Self {
        let max = u32::try_from(s.max_bitrate_kbps).unwrap_or(0);
        Self {
            enabled: false,
            format: "mp3".into(),
            bitrate_kbps: if max > 0 { max.min(128) } else { 128 },
            crossfade_s: 2.0,
            target_lufs: -16.0,
            dead_air_s: default_dead_air(),
        }
    }

    /// The station's stored settings, else the defaults.
    pub fn of(s: &Service) -> Self {
        s.autodj_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_else(|| Self::defaults(s))
    }

    pub fn codec(&self) -> AudioCodec {
        match self.format.as_str() {
            "aac" => AudioCodec::Aac,
            "opus" => AudioCodec::Opus,
            _ => AudioCodec::Mp3,
        }
    }

    /// Checks the settings against the station's plan; the message names the field.
    pub fn validate(&self, s: &Service) -> Result<(), String> {
        if !["mp3", "aac", "opus"].contains(&self.format.as_str()) {
            return Err("format must be mp3, aac or opus".into());
        }
        if !(32..=320).contains(&self.bitrate_kbps) {
            return Err("bitrate_kbps must be between 32 and 320".into());
        }
        if s.max_bitrate_kbps > 0 && i64::from(self.bitrate_kbps) > s.max_bitrate_kbps {
            return Err(format!(
                "bitrate_kbps ({}) is over this station's max_bitrate_kbps ({})",
                self.bitrate_kbps, s.max_bitrate_kbps
            ));
        }
        if !(0.0..=10.0).contains(&self.crossfade_s) {
            return Err("crossfade_s must be between 0 and 10".into());
        }
        if !(2.0..=120.0).contains(&self.dead_air_s) {
            return Err("dead_air_s must be between 2 and 120".into());
        }
        if !(-30.0..=-5.0).contains(&self.target_lufs) {
            return Err("target_lufs must be between -30 and -5".into());
        }
        Ok(())
    }
}

/// Starts (or restarts with its current settings) a station's AutoDJ in the engine.
pub async fn start(state: &AppState, s: &Service) -> anyhow::Result<()> {
    let settings = Settings::of(s);
    let grant = DbAdmission::new(state.db.clone()).autodj_grant(s).await?;
    state.engine.autodj().start(
        &state.engine,
        StationConfig {
            grant,
            name: s.name.clone(),
            codec: settings.codec(),
            // A plan lowered since the settings were saved caps them.
            kbps: match u32::try_from(s.max_bitrate_kbps) {
                Ok(max) if max > 0 => settings.bitrate_kbps.min(max),
                _ => settings.bitrate_kbps,
            },
            crossfade: Duration::from_secs_f64(settings.crossfade_s),
            target_lufs: settings.target_lufs,
            dead_air: Duration::from_secs_f64(settings.dead_air_s),
            library: Arc::clone(&state.library) as Arc<dyn tidecast_engine::autodj::Library>,
        },
    )?;
    Ok(())
}

/// After a restart: every active station whose AutoDJ was left on plays again.
pub async fn resume_all(state: &AppState) {
    let stations = match services::with_autodj(&state.db).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("AutoDJ: cannot list the stations to resume: {e}");
            return;
        }
    };
    for s in stations {
        if s.is_suspended() || s.autodj == 0 || !Settings::of(&s).enabled {
            continue;
        }
        match start(state, &s).await {
            Ok(()) => tracing::info!(slug = %s.slug, "AutoDJ resumed after the restart"),
            Err(e) => tracing::warn!(slug = %s.slug, "AutoDJ not resumed: {e}"),
        }
    }
}
