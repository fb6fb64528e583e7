//! `/api/v1/services/{id}/transcode`: a service's adaptive-bitrate ladder (the rules are
//! `domain::ladder`'s). While a source is live, `GET` also says which rungs run for it (a
//! rung's bitrate is capped at the source's) and which are skipped, and why (`"live"`).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::Service;
use crate::domain::access::visible_service;
use crate::domain::ladder::{self, TranscodeInput};
use crate::model::ladder::{Ladder, SOURCE, Watermark};

use super::error::ApiResult;
use super::extract::{ApiJson, PathId};

/// What `GET` answers.
#[derive(Debug, Serialize)]
pub struct TranscodeView {
    /// Whether the service's plan allows transcoding (`limits.transcode`).
    allowed: bool,
    enabled: bool,
    renditions: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watermark: Option<Watermark>,
    /// Sum of the transcoded rungs' bitrates, against the plan's `max_bitrate_kbps`.
    total_kbps: u32,
    max_bitrate_kbps: i64,
    applies: &'static str,
    /// The stored ladder cannot be read (it is not used until set again).
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// While a source is live with a ladder: which rungs run and which are skipped, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<LiveRungs>,
}

/// The rungs the engine runs for the source on air.
#[derive(Debug, Serialize)]
struct LiveRungs {
    running: Vec<RunningRung>,
    skipped: Vec<SkippedRung>,
}

#[derive(Debug, Serialize)]
struct RunningRung {
    name: String,
    /// As encoded: a rung's bitrate above the source's is capped at the source's.
    video_kbps: u32,
}

#[derive(Debug, Serialize)]
struct SkippedRung {
    name: String,
    reason: String,
}

/// What the engine runs for `s`'s live source, if one is on air with a ladder.
fn live_rungs(state: &AppState, s: &Service) -> Option<LiveRungs> {
    let plan = state.engine.hls().get(&s.slug)?.rungs()?;
    Some(LiveRungs {
        running: plan
            .running
            .iter()
            .map(|r| RunningRung {
                name: r.name.clone(),
                video_kbps: r.video_kbps,
            })
            .collect(),
        skipped: plan
            .skipped
            .iter()
            .map(|r| SkippedRung {
                name: r.name.clone(),
                reason: r.reason.to_string(),
            })
            .collect(),
    })
}

fn view(state: &AppState, s: &Service) -> TranscodeView {
    let ladder = s.ladder.get().cloned().unwrap_or_else(Ladder::default);
    let mut renditions = Vec::new();
    if ladder.source {
        renditions.push(serde_json::json!({ "name": SOURCE }));
    }
    renditions.extend(
        ladder
            .renditions
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok()),
    );
    TranscodeView {
        allowed: s.limits.transcode,
        enabled: s.limits.transcode && !renditions.is_empty(),
        total_kbps: ladder.total_kbps(),
        renditions,
        watermark: ladder.watermark,
        max_bitrate_kbps: s.limits.max_bitrate_kbps,
        applies: "from the next time the source connects",
        problem: s.ladder.problem().map(ToString::to_string),
        live: live_rungs(state, s),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<TranscodeView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(view(&state, &service)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<TranscodeInput>,
) -> ApiResult<Json<TranscodeView>> {
    let updated = ladder::set(&state, &caller, id, body).await?;
    Ok(Json(view(&state, &updated)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<TranscodeView>> {
    let updated = ladder::clear(&state, &caller, id).await?;
    Ok(Json(view(&state, &updated)))
}
