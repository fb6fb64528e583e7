//! Dead air on live sources: a station's DJ (or its own encoder) on air but sending silence.
//!
//! While a live MP3 or AAC source is on its mount, a task follows the mount like an uncounted
//! listener, frames what goes out and has the transcoder's [`LevelMeter`] decode it just to
//! measure it. Silence (peaks below −50 dBFS) longer than [`LIVE_THRESHOLD`] is logged and
//! counted on the mount (stats show it); the source stays on air, since only a person can
//! tell a quiet passage from a dead microphone. AutoDJ watches its own output instead (it has
//! the audio before it is encoded) and skips past silence.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast::error::RecvError;

use crate::media::AudioConfig;
use crate::media::mpa::{Framer, Kind};
use crate::mount::Mount;
use crate::transcode::{LevelMeter, Transcoder};

/// How long a live source may be silent before it counts as dead air.
pub const LIVE_THRESHOLD: Duration = Duration::from_secs(15);
/// Peaks below this (−50 dBFS) are silence.
const SILENCE: f32 = 0.003_16;

/// Watches live source `source` (named `label`) on `mount` while it is connected, with
/// `transcoder`'s level meter (none: not watched).
pub fn watch(
    transcoder: Option<&Arc<dyn Transcoder>>,
    mount: &Arc<Mount>,
    source: crate::ids::SourceId,
    label: &str,
    content_type: &str,
) {
    let (Some(kind), Some(transcoder)) =
        (Kind::for_content_type(content_type), transcoder.cloned())
    else {
        return;
    };
    let mount = Arc::clone(mount);
    let label = label.to_owned();
    tokio::spawn(async move {
        let (_, mut rx) = mount.follow();
        // Wakes when the source on air changes (so the watch ends when its source leaves,
        // even if nothing else is sent on the mount).
        let mut changes = mount.on_air_watch();
        let mut framer = Framer::new(kind);
        let mut meter: Option<(AudioConfig, Box<dyn LevelMeter>)> = None;
        let mut silent_secs = 0.0f64;
        let mut reported = false;
        loop {
            let chunk = tokio::select! {
                got = rx.recv() => match got {
                    Ok(c) => c,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
                changed = changes.changed() => {
                    if changed.is_err() || !mount.has_source_id(source) {
                        break;
                    }
                    continue;
                }
            };
            if !mount.has_source_id(source) {
                break;
            }
            if !mount.is_on_air(source) {
                // On standby its silence is nobody's dead air (the mount's figure is about
                // what listeners hear).
                if silent_secs > 0.0 {
                    mount.set_silence(None, false);
                }
                silent_secs = 0.0;
                reported = false;
                continue;
            }
            for (config, frame) in framer.push(&chunk) {
                if meter.as_ref().is_none_or(|(c, _)| *c != config) {
                    match transcoder.level_meter(&config) {
                        Ok(m) => meter = Some((config, m)),
                        Err(e) => {
                            tracing::debug!(mount = %mount.name(), "no dead-air watch: {e}");
                            return;
                        }
                    }
                }
                let Some((_, m)) = meter.as_mut() else {
                    continue;
                };
                let Some((peak, secs)) = m.measure(&frame) else {
                    continue;
                };
                if peak >= SILENCE {
                    if silent_secs > 0.0 {
                        if reported {
                            tracing::info!(mount = %mount.name(), who = %label, "sound again after {silent_secs:.0} s of dead air");
                        }
                        mount.set_silence(None, false);
                    }
                    silent_secs = 0.0;
                    reported = false;
                    continue;
                }
                if silent_secs == 0.0 {
                    mount.set_silence(Some(SystemTime::now()), false);
                }
                silent_secs += secs;
                if !reported && silent_secs >= LIVE_THRESHOLD.as_secs_f64() {
                    reported = true;
                    mount.set_silence(
                        SystemTime::now().checked_sub(Duration::from_secs_f64(silent_secs)),
                        true,
                    );
                    tracing::warn!(mount = %mount.name(), who = %label, "dead air: {silent_secs:.0} s of silence from the live source");
                }
            }
        }
        mount.set_silence(None, false);
    });
}
