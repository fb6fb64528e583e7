//! `/api/v1/services/{id}/relay`: the service's source pulled from a URL instead of pushed.
//!
//! `PUT {"url","mode":"always"|"on_demand","transport":"tcp"|"udp"}` sets it (video:
//! `rtmp://host/app/stream`, `rtsp://…` from an IP camera, `http(s)://….m3u8`; radio: an
//! Icecast or Shoutcast stream `http(s)://host:port/mount`), `GET` shows it with what it is
//! doing (`null` when there is none), `DELETE` stops relaying. The URL may carry a camera's
//! password: only the service's owner sees it whole. Its address must be one the server
//! may reach (`outbound`), checked here and by the engine at every connect.
//!
//! The rules, and keeping what runs in step with the database, are `domain::relays`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::relays::Relay;
use crate::db::services;
use crate::domain::access::visible_service;
use crate::domain::relays::{self, Input};
use crate::model::relay::{RelayMode, RtspTransport};
use crate::time::unix;

use super::error::ApiResult;
use super::extract::{ApiJson, PathId};

#[derive(Debug, Serialize)]
pub struct View {
    /// The URL; its password is shown to the service's owner only.
    url: String,
    mode: RelayMode,
    transport: RtspTransport,
    /// waiting (on demand, nobody watching), connecting, live or retrying.
    state: &'static str,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    live_since: Option<i64>,
    kbps: Option<u32>,
    bytes: u64,
    connections: u64,
}

/// `url` without what may be a secret: the password of its user info, its query (signed
/// tokens), and an RTMP stream name (often a key).
fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, mut path) = (&rest[..end], rest[end..].to_owned());
    if scheme.starts_with("rtmp")
        && let Some((app, _)) = path.rsplit_once('/')
    {
        path = format!("{app}/***");
    }
    match authority.rsplit_once('@') {
        Some((auth, host)) => {
            let user = auth.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => format!("{scheme}://{authority}{path}"),
    }
}

fn view(state: &AppState, r: &Relay, owner: bool, service: &services::Service) -> View {
    let mut st = state
        .engine
        .relays()
        .status(r.service_id)
        .unwrap_or_default();
    let off = if !service.limits.relay {
        Some("stopped: this service's plan does not include relays")
    } else if service.is_suspended() {
        Some("stopped: the service is suspended")
    } else {
        None
    };
    if let Some(why) = off {
        st.last_error = Some(why.to_owned());
    }
    View {
        url: if owner { r.url.clone() } else { masked(&r.url) },
        mode: r.mode,
        transport: r.rtsp_transport,
        state: if off.is_some() {
            "disabled"
        } else {
            st.state.as_str()
        },
        kbps: st.kbps(),
        last_error: st.last_error,
        last_error_at: st.last_error_at.map(unix),
        live_since: st.live_since.map(unix),
        bytes: st.bytes,
        connections: st.connections,
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Option<View>>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let owner = caller.id() == service.owner_id;
    let r = crate::db::relays::of_service(&state.db, service.id).await?;
    Ok(Json(r.map(|r| view(&state, &r, owner, &service))))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    let (service, r) = relays::set(&state, &caller, id, body).await?;
    Ok(Json(view(
        &state,
        &r,
        caller.id() == service.owner_id,
        &service,
    )))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    relays::delete(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            masked("rtsp://admin:secret@cam.local/x"),
            "rtsp://admin:***@cam.local/x"
        );
        assert_eq!(masked("http://host/a@b"), "http://host/a@b");
        assert_eq!(masked("rtmp://host/live/key"), "rtmp://host/live/***");
        assert_eq!(
            masked("https://cdn/live.m3u8?token=abc"),
            "https://cdn/live.m3u8"
        );
    }
}
