//! `/api/v1/services/{id}/relay`: the service's source pulled from a URL instead of pushed.
//!
//! `PUT {"url","mode":"always"|"on_demand","transport":"tcp"|"udp"}` sets it (video:
//! `rtmp://host/app/stream`, `rtsp://…` from an IP camera, `http(s)://….m3u8`; radio: an
//! Icecast or Shoutcast stream `http(s)://host:port/mount`), `GET` shows it with what it is
//! doing (`null` when there is none), `DELETE` stops relaying. The URL may carry a camera's
//! password: only the service's owner sees it whole. Its address must be one the server
//! may reach (`outbound`), checked here and by the engine at every connect.
//!
//! What runs follows the database, as publish targets do ([`reconcile`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tidecast_engine::relay::{self, Mode, RelayJob, Source};

use crate::auth::Caller;
use crate::db::relays::{self, Relay};
use crate::db::{audit, services};
use crate::outbound::PolicyDialer;

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use super::state::AppState;
use super::time::unix;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RelayInput")]
pub struct Input {
    /// `rtmp://host/app/stream`, `rtsp://[user:pass@]camera/path`, `http(s)://….m3u8`
    /// (MPEG-TS HLS), or for radio an Icecast/Shoutcast stream `http(s)://host:port/mount`.
    url: String,
    /// `always` (the default) or `on_demand`: pull only while someone watches or listens.
    mode: Option<String>,
    /// RTSP: `tcp` (the default: through firewalls and NAT) or `udp`.
    transport: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct View {
    /// The URL; its password is shown to the service's owner only.
    url: String,
    mode: String,
    transport: String,
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
    let off = if !service.limits().relay {
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
        mode: r.mode.clone(),
        transport: r.rtsp_transport.clone(),
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
    let r = relays::of_service(&state.db, service.id).await?;
    Ok(Json(r.map(|r| view(&state, &r, owner, &service))))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if !service.limits().relay {
        return Err(ApiError::forbidden(
            "this service's plan does not include relays",
        ));
    }
    let mode = body.mode.as_deref().unwrap_or("always");
    if !matches!(mode, "always" | "on_demand") {
        return Err(ApiError::invalid("mode: always or on_demand"));
    }
    let transport = body.transport.as_deref().unwrap_or("tcp");
    if !matches!(transport, "tcp" | "udp") {
        return Err(ApiError::invalid("transport: tcp or udp"));
    }
    let url = body.url.trim();
    let source = Source::parse(url, transport == "tcp")
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    if body.transport.is_some() && !matches!(source, Source::Rtsp { .. }) {
        return Err(ApiError::invalid("transport: only rtsp:// relays have one"));
    }
    match (service.kind.as_str(), source.is_radio()) {
        ("radio", false) => {
            return Err(ApiError::invalid(
                "url: a radio station relays an Icecast or Shoutcast stream (http(s)://host:port/mount)",
            ));
        }
        ("video", true) => {
            return Err(ApiError::invalid(
                "url: a video service relays rtmp://, rtsp:// or an HLS playlist (….m3u8)",
            ));
        }
        _ => {}
    }
    if matches!(source, Source::Rtsp { .. }) && state.engine.transcoder().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server runs without FFmpeg: RTSP relays need it",
        ));
    }
    let (host, port) = source.host_port();
    state
        .outbound
        .resolve_host(host.to_owned(), port)
        .await
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    relays::set(&state.db, service.id, url, mode, transport).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "relay.set",
        &format!(
            "service {} relays {} ({mode})",
            service.id,
            source.display()
        ),
    )
    .await?;
    // A changed relay starts again with its new settings.
    state.engine.relays().stop(service.id);
    reconcile(&state).await;
    let r = relays::of_service(&state.db, service.id)
        .await?
        .ok_or_else(|| ApiError::not_found("relay"))?;
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
    let (service, _) = visible_service(&state, &caller, id).await?;
    if !relays::delete(&state.db, service.id).await? {
        return Err(ApiError::not_found("relay"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "relay.delete",
        &format!("service {}", service.id),
    )
    .await?;
    reconcile(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What a relay runs with: its row and the service's stream name (a renamed service
/// restarts it under its new name).
fn signature(r: &Relay, slug: &str) -> String {
    format!("{slug}\n{}\n{}\n{}", r.url, r.mode, r.rtsp_transport)
}

/// Starts the relays in the database that are not running (or run with what changed
/// since), stops the running ones that are no longer there.
pub async fn reconcile(state: &AppState) {
    let rows = match relays::all(&state.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("relays not checked: {e}");
            return;
        }
    };
    let mut wanted = HashMap::new();
    for r in rows {
        // A suspended service, or a plan without relays, pulls nothing (admission would
        // refuse it anyway, after the customer's server was reached).
        if let Ok(Some(service)) = services::by_id(state.db.pool(), r.service_id).await
            && service.limits().relay
            && !service.is_suspended()
        {
            wanted.insert(r.service_id, (signature(&r, &service.slug), r, service));
        }
    }
    let sigs = wanted
        .iter()
        .map(|(id, (s, _, _))| (*id, s.clone()))
        .collect();
    for id in state.engine.relays().settle(&sigs) {
        let Some((sig, r, service)) = wanted.get(&id) else {
            continue;
        };
        let Ok(source) = Source::parse(&r.url, r.rtsp_transport != "udp") else {
            continue;
        };
        tracing::info!(service = %service.slug, from = %source.display(), mode = %r.mode, "relay started");
        relay::start(
            &state.engine.relaying(),
            service.id,
            RelayJob {
                service: tidecast_engine::ServiceId(service.id),
                stream: service.slug.clone(),
                source,
                mode: if r.mode == "on_demand" {
                    Mode::OnDemand
                } else {
                    Mode::Always
                },
            },
            Arc::new(PolicyDialer(Arc::clone(&state.outbound))),
        );
        state.engine.relays().set_signature(id, sig.clone());
    }
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
