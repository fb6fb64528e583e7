//! A station's AutoDJ as a business operation: its settings (stored, checked against the
//! plan), starting and stopping it in the engine, following a change to its station, and
//! resuming the stations left on after a restart. Track picking is `crate::autodj`'s.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tidecast_engine::ServiceId;
use tidecast_engine::autodj::{AutoDjError, StationConfig};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::{self, Service};
use crate::db::{audit, playlists};
use crate::model::Kind;
use crate::model::autodj::{AudioFormat, AutoDjSettings};

use super::access::{service_of_kind, visible_service};
use super::services::commit_and_reload;
use super::{Error, Result, audit_now};

/// The station's settings in effect: the stored ones, else the defaults for its plan.
pub fn settings(s: &Service) -> AutoDjSettings {
    s.autodj
        .get()
        .cloned()
        .unwrap_or_else(|| AutoDjSettings::defaults(s.limits.max_kbps()))
}

/// Whether the station should be playing: in its plan, active, and left on.
pub fn wanted(s: &Service) -> bool {
    s.is_radio()
        && s.limits.autodj
        && !s.is_suspended()
        && s.autodj.get().is_some_and(|st| st.enabled)
}

/// Settings as `PUT` takes them: any subset.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AutoDjSettingsInput")]
pub struct SettingsInput {
    pub format: Option<AudioFormat>,
    pub bitrate_kbps: Option<u32>,
    pub crossfade_s: Option<f64>,
    pub target_lufs: Option<f64>,
    pub dead_air_s: Option<f64>,
}

/// Why AutoDJ could not start.
fn start_error(e: AutoDjError) -> Error {
    match e {
        AutoDjError::NoTranscoder => Error::Unavailable(e.to_string()),
        other => Error::internal(other),
    }
}

/// A radio service the caller sees.
pub async fn station(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    service_of_kind(
        state,
        caller,
        id,
        Kind::Radio,
        "AutoDJ is for radio services",
    )
    .await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    s: &Service,
    settings: &AutoDjSettings,
    action: &str,
) -> Result<Service> {
    let mut tx = state.db.pool().begin().await?;
    services::set_autodj(&mut *tx, s.id, settings).await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        action,
        &format!("service {} ({})", s.id, s.slug),
    )
    .await?;
    commit_and_reload(tx, s.id).await
}

/// Changes the settings (applied at once if it runs).
pub async fn configure(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: SettingsInput,
) -> Result<Service> {
    let s = station(state, caller, id).await?;
    let mut st = settings(&s);
    if let Some(f) = input.format {
        st.format = f;
    }
    if let Some(b) = input.bitrate_kbps {
        st.bitrate_kbps = b;
    }
    if let Some(c) = input.crossfade_s {
        st.crossfade_s = c;
    }
    if let Some(t) = input.target_lufs {
        st.target_lufs = t;
    }
    if let Some(d) = input.dead_air_s {
        st.dead_air_s = d;
    }
    st.validate(s.limits.max_kbps()).map_err(|e| {
        if e.contains("max_bitrate_kbps") {
            Error::over_plan(e)
        } else {
            Error::invalid(e)
        }
    })?;
    let s = save(state, caller, &s, &st, "autodj.settings").await?;
    if state.engine.autodj().is_running(ServiceId(id)) {
        run(state, &s).await?;
    }
    Ok(s)
}

/// Turns AutoDJ on: it needs the plan's `autodj` and an enabled playlist with something in
/// it; it stays on across restarts until stopped.
pub async fn start(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    let s = station(state, caller, id).await?;
    if !s.limits.autodj {
        return Err(Error::over_plan(
            "AutoDJ is not in this station's plan (limits.autodj)",
        ));
    }
    if s.is_suspended() {
        return Err(Error::conflict("the service is suspended"));
    }
    let mut playable = false;
    for p in playlists::for_service(&state.db, id).await? {
        if p.enabled == 0 {
            continue;
        }
        let n = match p.folder.as_deref() {
            Some(f) => crate::db::media::in_folder(&state.db, s.owner_id, f)
                .await?
                .len(),
            None => playlists::items(&state.db, p.id).await?.len(),
        };
        if n > 0 {
            playable = true;
            break;
        }
    }
    if !playable {
        return Err(Error::invalid(
            "nothing to play: add tracks to an enabled playlist first",
        ));
    }
    let mut st = settings(&s);
    st.enabled = true;
    let s = save(state, caller, &s, &st, "autodj.start").await?;
    run(state, &s).await?;
    tracing::info!(by = %caller.user.username, slug = %s.slug, "AutoDJ started");
    Ok(s)
}

/// Turns AutoDJ off (and keeps it off across restarts).
pub async fn stop(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    let s = station(state, caller, id).await?;
    let mut st = settings(&s);
    st.enabled = false;
    let s = save(state, caller, &s, &st, "autodj.stop").await?;
    state.engine.autodj().stop(ServiceId(id));
    tracing::info!(by = %caller.user.username, slug = %s.slug, "AutoDJ stopped");
    Ok(s)
}

/// Stops and starts it again (a stuck station, new settings): a fresh track.
pub async fn restart(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let (s, _) = visible_service(state, caller, id).await?;
    if !state.engine.autodj().is_running(ServiceId(s.id)) {
        return Err(Error::conflict("AutoDJ is not running; start it instead"));
    }
    state.engine.autodj().stop(ServiceId(s.id));
    run(state, &s)
        .await
        .map_err(|e| Error::conflict(format!("AutoDJ did not start again: {e}")))?;
    audit_now(
        state,
        caller,
        "autodj.restart",
        &format!("service {id} ({})", s.slug),
    )
    .await?;
    Ok(())
}

/// Starts (or restarts with its current settings) a station's AutoDJ in the engine.
pub async fn run(state: &AppState, s: &Service) -> Result<()> {
    let st = settings(s);
    let grant = super::grant::autodj(&state.db, s).await?;
    state
        .engine
        .autodj()
        .start(
            &state.engine,
            StationConfig {
                grant,
                name: s.name.clone(),
                codec: st.format.into(),
                // A plan lowered since the settings were saved caps them.
                kbps: match s.limits.max_kbps() {
                    0 => st.bitrate_kbps,
                    max => st.bitrate_kbps.min(max),
                },
                crossfade: Duration::from_secs_f64(st.crossfade_s),
                target_lufs: st.target_lufs,
                dead_air: Duration::from_secs_f64(st.dead_air_s),
                library: Arc::clone(&state.library) as Arc<dyn tidecast_engine::autodj::Library>,
            },
        )
        .map_err(start_error)
}

/// AutoDJ after a change to its station: off when the plan no longer has it (or the
/// station is suspended), restarted (new mount name, limits) when it should play.
pub async fn follow(state: &AppState, before: &Service, after: &Service) {
    let sid = ServiceId(after.id);
    if !wanted(after) {
        if state.engine.autodj().stop(sid) {
            tracing::info!(slug = %after.slug, "AutoDJ stopped: no longer in the station's plan");
        }
        return;
    }
    let changed = before.slug != after.slug
        || before.limits.autodj != after.limits.autodj
        || before.limits.max_bitrate_kbps != after.limits.max_bitrate_kbps
        || before.limits.max_listeners != after.limits.max_listeners
        || before.name != after.name
        || !state.engine.autodj().is_running(sid);
    if changed && let Err(e) = run(state, after).await {
        tracing::warn!(slug = %after.slug, "AutoDJ not restarted: {e}");
    }
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
        if let Some(problem) = s.autodj.problem() {
            tracing::error!(slug = %s.slug, "AutoDJ not resumed: {problem}");
            continue;
        }
        if !wanted(&s) {
            continue;
        }
        match run(state, &s).await {
            Ok(()) => tracing::info!(slug = %s.slug, "AutoDJ resumed after the restart"),
            Err(e) => tracing::warn!(slug = %s.slug, "AutoDJ not resumed: {e}"),
        }
    }
}
