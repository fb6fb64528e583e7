//! `/api/v1/services/{id}/targets`: where a service's stream is sent on to (restreaming;
//! the rules are `domain::restream`'s).
//!
//! `POST {"kind":"icecast","url":"icecast://user:pass@host:port/mount"}` adds a target,
//! `GET` lists them with what each is doing (waiting, connecting, live with its bitrate,
//! retrying with the last error), `DELETE …/targets/{tid}` removes one. The password never
//! comes back.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::TargetKinds;
use crate::db::targets::{self, Target};
use crate::domain::access::visible_service;
use crate::domain::restream::{self, Input};
use crate::domain::target_urls;
use crate::model::TargetKind;
use crate::model::target::VideoSettings;
use crate::time::unix;

use super::error::ApiResult;
use super::extract::{ApiJson, PathId, PathIds};

#[derive(Debug, Serialize)]
pub struct View {
    id: i64,
    kind: TargetKind,
    /// The address, without the password or key.
    url: String,
    /// RTMP: the stream key, for the service's owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Video: the rendition sent (`source`: as it arrives).
    #[serde(skip_serializing_if = "Option::is_none")]
    rendition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<VideoSettings>,
    /// waiting, connecting, live, retrying, or disabled (the plan no longer allows it).
    state: &'static str,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    live_since: Option<i64>,
    kbps: Option<u32>,
    bytes: u64,
    connections: u64,
}

fn view(state: &AppState, t: &Target, owner: bool, kinds: TargetKinds) -> View {
    let mut st = state.engine.targets().status(t.id).unwrap_or_default();
    let allowed = kinds.allows(t.kind);
    if !allowed {
        st.last_error = Some(format!(
            "stopped: this service's plan no longer includes {} targets",
            t.kind
        ));
    }
    let url = match t.kind {
        TargetKind::Rtmp => format!(
            "rtmp{}://{}:{}{}",
            if t.tls { "s" } else { "" },
            t.host,
            t.port,
            t.mount
        ),
        TargetKind::Shoutcast => format!("shoutcast://{}:{}{}", t.host, t.port, t.mount),
        TargetKind::Icecast => {
            format!("icecast://{}@{}:{}{}", t.username, t.host, t.port, t.mount)
        }
    };
    View {
        id: t.id,
        kind: t.kind,
        url,
        key: (owner && t.kind == TargetKind::Rtmp).then(|| t.secret.clone()),
        rendition: t.rendition.clone(),
        video: t.video.get().map(|v| v.settings.clone()),
        state: if allowed {
            st.state.as_str()
        } else {
            "disabled"
        },
        kbps: st.kbps(),
        last_error: st.last_error,
        last_error_at: st.last_error_at.map(unix),
        live_since: st.live_since.map(unix),
        bytes: st.bytes,
        connections: st.connections,
    }
}

/// The presets for RTMP targets (their URLs are editable defaults).
pub async fn presets(_caller: Caller) -> Json<Vec<target_urls::Preset>> {
    Json(target_urls::PRESETS.to_vec())
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Vec<View>>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let owner = caller.id() == service.owner_id;
    let rows = targets::of_service(&state.db, service.id).await?;
    let kinds = service.limits.restream;
    Ok(Json(
        rows.iter().map(|t| view(&state, t, owner, kinds)).collect(),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<(StatusCode, Json<View>)> {
    let (service, row) = restream::create(&state, &caller, id, body).await?;
    let owner = caller.id() == service.owner_id;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &row, owner, service.limits.restream)),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, tid): PathIds,
) -> ApiResult<StatusCode> {
    restream::delete(&state, &caller, id, tid).await?;
    Ok(StatusCode::NO_CONTENT)
}
