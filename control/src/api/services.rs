//! `/api/v1/services`: radio stations and video channels (the rules are
//! `domain::services`').
//!
//! Admins and resellers create and manage services for customers (a reseller within its
//! plan); a customer sees its own services, renames them and rotates their credentials.
//! Publish credentials are in every answer: whoever may see a service is its owner, its
//! reseller or an admin, exactly the people who may know them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::{Service, ServiceScope};
use crate::db::users::Role;
use crate::domain::access::visible_service;
use crate::domain::services::{self, CreateService, PatchService};
use crate::model::{HlsFormat, Kind, Limits, Status};
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{ApiJson, List, Page, PathId};

/// A video service's HLS packaging.
#[derive(Debug, Serialize)]
struct HlsView {
    /// Target segment duration; segments still start on keyframes, so a longer keyframe
    /// interval makes longer segments.
    segment_seconds: i64,
    /// How long after the publisher leaves the playlist gets `#EXT-X-ENDLIST` (a publisher
    /// that reconnects sooner continues it).
    end_after_seconds: i64,
    /// `ts` (MPEG-TS, every player) or `fmp4` (CMAF).
    format: HlsFormat,
    /// LL-HLS: partial segments of a third of a second and blocking playlist reload, for
    /// players 2-3 s behind live (fmp4 only).
    low_latency: bool,
}

/// A service as the API shows it.
#[derive(Debug, Serialize)]
pub struct ServiceView {
    id: i64,
    name: String,
    slug: String,
    kind: Kind,
    status: Status,
    /// Whether a source is on air right now.
    live: bool,
    /// What listeners and viewers get right now: `live` (a source or DJ), `relay`, `autodj`
    /// (a station's AutoDJ) or `offline`.
    on_air: services::OnAir,
    owner: i64,
    limits: Limits,
    publish: Publish,
    urls: Urls,
    /// Radio: the mount listeners hear while this one has no source.
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
    /// Video: how the stream is packaged as HLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    hls: Option<HlsView>,
    created_at: String,
    updated_at: String,
}

/// Publish credentials: `{"icecast":{…}}` for radio, `{"rtmp":{…}}` for video.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Publish {
    Icecast {
        host: String,
        port: u16,
        mount: String,
        username: &'static str,
        password: String,
    },
    Rtmp {
        url: String,
        stream_key: String,
    },
}

#[derive(Debug, Serialize)]
struct Urls {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    hls: String,
    player: String,
    embed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dvr: Option<String>,
}

pub fn view(state: &AppState, headers: &HeaderMap, s: &Service) -> ServiceView {
    let request_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let links = &state.links;
    let host = links.host(request_host);
    let host_in_url = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let base = links.http_base(request_host);
    let radio = s.is_radio();
    let publish = if radio {
        Publish::Icecast {
            host,
            port: links.icecast_port,
            mount: format!("/{}", s.slug),
            username: "source",
            password: s.source_password.clone(),
        }
    } else {
        Publish::Rtmp {
            url: format!("rtmp://{host_in_url}:{}/live", links.rtmp_port),
            stream_key: s.stream_key.clone(),
        }
    };
    let urls = Urls {
        listen: radio.then(|| format!("http://{host_in_url}:{}/{}", links.icecast_port, s.slug)),
        hls: format!("{base}/hls/{}/index.m3u8", s.slug),
        player: format!("{base}/player/{}", s.slug),
        embed: format!("{base}/embed/{}", s.slug),
        dvr: (!radio).then(|| format!("{base}/hls/{}/dvr.m3u8", s.slug)),
    };
    ServiceView {
        id: s.id,
        name: s.name.clone(),
        slug: s.slug.clone(),
        kind: s.kind,
        status: s.status,
        live: services::is_live(state, s),
        on_air: services::on_air(state, s),
        owner: s.owner_id,
        limits: s.limits,
        publish,
        urls,
        fallback: s.fallback.clone(),
        hls: (!radio).then_some(HlsView {
            segment_seconds: s.hls.segment_secs,
            end_after_seconds: s.hls.end_after_secs,
            format: s.hls.format,
            low_latency: s.hls.low_latency,
        }),
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateService>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    let service = services::create(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &headers, &service))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    page: Page,
) -> ApiResult<Json<List<ServiceView>>> {
    let scope = match caller.role() {
        Role::Admin => ServiceScope::All,
        Role::Reseller => ServiceScope::Reseller(caller.id()),
        Role::Customer => ServiceScope::Owner(caller.id()),
    };
    let (items, total) =
        crate::db::services::list(&state.db, scope, page.owner, page.limit, page.offset).await?;
    Ok(Json(List {
        items: items.iter().map(|s| view(&state, &headers, s)).collect(),
        total,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(view(&state, &headers, &service)))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchService>,
) -> ApiResult<Json<ServiceView>> {
    let updated = services::patch(&state, &caller, id, body).await?;
    Ok(Json(view(&state, &headers, &updated)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    services::delete(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let updated = services::suspend(&state, &caller, id, true).await?;
    Ok(Json(view(&state, &headers, &updated)))
}

pub async fn unsuspend(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let updated = services::suspend(&state, &caller, id, false).await?;
    Ok(Json(view(&state, &headers, &updated)))
}

pub async fn rotate_credentials(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Json<ServiceView>> {
    let updated = services::rotate_credentials(&state, &caller, id).await?;
    Ok(Json(view(&state, &headers, &updated)))
}
