//! `/player/<slug>` (a full page), `/embed/<slug>` (for an iframe) and the same for an
//! on-demand video at `/player/vod/<public id>` (shown to whom its visibility allows, as
//! its playlists are; a signed page passes its signature on to the playlist URL). The page
//! carries the player's config as JSON; `player.js` builds the audio or video player from it.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::html::{Framing, Page, escape, json_for_script};
use crate::app::AppState;
use crate::db::services::Service;
use crate::db::{mounts, services};
use crate::domain::media::{Playback, playback};

#[derive(Debug, Serialize)]
struct Stream {
    label: String,
    url: String,
}

#[derive(Debug, Serialize)]
struct Config {
    kind: &'static str,
    name: String,
    slug: String,
    /// Radio: the station's HLS when it has one; video: the live playlist.
    hls: Option<String>,
    /// Video with DVR: the whole window (the player shows a seek bar over it).
    dvr: Option<String>,
    /// Radio: the Icecast mounts, primary first.
    streams: Vec<Stream>,
    nowplaying: Option<String>,
    hlsjs: String,
    vod: bool,
}

pub async fn page(state: State<AppState>, headers: HeaderMap, slug: Path<String>) -> Response {
    service_page(state, headers, slug, false).await
}

pub async fn embed(state: State<AppState>, headers: HeaderMap, slug: Path<String>) -> Response {
    service_page(state, headers, slug, true).await
}

pub async fn vod_page(state: State<AppState>, id: Path<String>, parts: Parts) -> Response {
    vod(state, id, parts, false).await
}

pub async fn vod_embed(state: State<AppState>, id: Path<String>, parts: Parts) -> Response {
    vod(state, id, parts, true).await
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{what}\n"),
    )
        .into_response()
}

async fn service_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    embed: bool,
) -> Response {
    let service = match services::by_slug(&state.db, &slug).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found("There is no station or channel at this address."),
        Err(e) => {
            tracing::warn!("player page for {}: {e}", crate::logsafe::Escaped(&slug));
            return (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment").into_response();
        }
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let config = match service_config(&state, &service, host).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("player page for {}: {e}", crate::logsafe::Escaped(&slug));
            return (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment").into_response();
        }
    };
    render(&service.name, config, embed)
}

async fn service_config(state: &AppState, s: &Service, host: Option<&str>) -> sqlx::Result<Config> {
    let base = state.links.http_base(host);
    let listen = format!(
        "http://{}:{}",
        state.links.host(host),
        state.links.icecast_port
    );
    let radio = s.is_radio();
    let mut streams = Vec::new();
    if radio {
        streams.push(Stream {
            label: "Main stream".to_owned(),
            url: format!("{listen}/{}", s.slug),
        });
        for m in mounts::for_service(&state.db, s.id).await? {
            streams.push(Stream {
                label: format!("{} {} kbit/s", m.format.to_uppercase(), m.bitrate_kbps),
                url: format!("{listen}/{}", m.name.trim_start_matches('/')),
            });
        }
    }
    // A station has HLS when its plan transcodes and it has a ladder; a channel always.
    let hls = (!radio || (s.limits.transcode && s.ladder.get().is_some()))
        .then(|| format!("{base}/hls/{}/index.m3u8", s.slug));
    let dvr = crate::domain::dvr::window(s).map(|_| format!("{base}/hls/{}/dvr.m3u8", s.slug));
    Ok(Config {
        kind: if radio { "radio" } else { "video" },
        name: s.name.clone(),
        slug: s.slug.clone(),
        hls,
        dvr,
        streams,
        nowplaying: Some(format!("/api/v1/public/{}/nowplaying", s.slug)),
        hlsjs: super::asset_url("hls.js"),
        vod: false,
    })
}

async fn vod(
    State(state): State<AppState>,
    Path(id): Path<String>,
    mut parts: Parts,
    embed: bool,
) -> Response {
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let viewer = async || crate::http::vod::viewer(&mut parts, &state).await;
    let (item, carry, shared) = match playback(&state, &id, &query, viewer).await {
        Ok(Playback::Play {
            item,
            carry,
            shared,
        }) => (item, carry, shared),
        Ok(Playback::Hidden) => {
            return not_found("There is no video at this address (or it is not ready yet).");
        }
        Ok(Playback::Expired) => {
            return (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This link to a private video has expired: ask its owner for a new one.\n",
            )
                .into_response();
        }
        Err(e) => {
            tracing::warn!("VOD player page for {id:?}: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment").into_response();
        }
    };
    let signed = carry.map(|s| format!("?{}", s.query())).unwrap_or_default();
    let config = Config {
        kind: "video",
        name: item.title.clone(),
        slug: String::new(),
        hls: Some(format!("/hls/vod/{}/index.m3u8{signed}", item.public_id)),
        dvr: None,
        streams: Vec::new(),
        nowplaying: None,
        hlsjs: super::asset_url("hls.js"),
        vod: true,
    };
    let mut page = render(&item.title, config, embed);
    if !shared {
        // A private video's page (with its signature, if any) is for this viewer only.
        page.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, no-cache"),
        );
    }
    page
}

fn render(name: &str, config: Config, embed: bool) -> Response {
    let body = if embed {
        r#"<div id="tc-player"></div><noscript>This player needs JavaScript.</noscript>"#.to_owned()
    } else {
        format!(
            r#"<h1>{}</h1><div id="tc-player"></div><noscript>This player needs JavaScript.</noscript><footer>Streaming by Tidecast</footer>"#,
            escape(name)
        )
    };
    Page {
        title: name,
        body_class: if embed { "tc-embed" } else { "tc-page" },
        styles: &["player.css"],
        script: "player.js",
        config: json_for_script(&config),
        body,
        framing: Framing::Anyone,
    }
    .render()
}
