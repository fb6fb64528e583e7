//! `/api/v1/services/{id}/targets`: where a station's stream is sent on to (restreaming).
//!
//! `POST {"kind":"icecast","url":"icecast://user:pass@host:port/mount"}` adds a target,
//! `GET` lists them with what each is doing (waiting, connecting, live with its bitrate,
//! retrying with the last error), `DELETE …/targets/{tid}` removes one. The password never
//! comes back. The address must be one the server may reach (`outbound`), checked here
//! and at every connect.
//!
//! What runs follows the database: [`reconcile`] starts the targets that should run and
//! stops the ones whose row is gone (deleted, or their service or owner was), at start,
//! after each change, and every few seconds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tidecast_engine::targets::icecast::{self, IcecastTarget};

use crate::auth::Caller;
use crate::db::targets::{self, NewTarget, Target};
use crate::db::{audit, services};
use crate::outbound::PolicyDialer;

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId, PathIds};
use super::state::AppState;

/// Targets one service may have.
const MAX_PER_SERVICE: usize = 10;
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TargetInput")]
pub struct Input {
    /// `icecast` (a radio station's mount sent as a source to another Icecast server).
    kind: String,
    /// `icecast://user:password@host:port/mount` (user `source` when left out).
    url: String,
}

#[derive(Debug, Serialize)]
pub struct View {
    id: i64,
    kind: String,
    /// The address, without the password.
    url: String,
    /// waiting, connecting, live or retrying.
    state: &'static str,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    live_since: Option<i64>,
    kbps: Option<u32>,
    bytes: u64,
    connections: u64,
}

fn unix(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn view(state: &AppState, t: &Target) -> View {
    let st = state.engine.targets().status(t.id).unwrap_or_default();
    View {
        id: t.id,
        kind: t.kind.clone(),
        url: format!("icecast://{}@{}:{}{}", t.username, t.host, t.port, t.mount),
        state: st.state.as_str(),
        kbps: st.kbps(),
        last_error: st.last_error,
        last_error_at: st.last_error_at.map(unix),
        live_since: st.live_since.map(unix),
        bytes: st.bytes,
        connections: st.connections,
    }
}

/// The parts of an `icecast://` URL.
struct Parsed {
    host: String,
    port: u16,
    mount: String,
    user: String,
    password: String,
}

fn parse(url: &str) -> ApiResult<Parsed> {
    let bad = |why: &str| ApiError::invalid(format!("url: {why}"));
    if url.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let u = url::Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if u.scheme() != "icecast" {
        return Err(bad("must be icecast://user:password@host:port/mount"));
    }
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?
        .to_owned();
    let password = u
        .password()
        .map(percent_decode)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("no password (icecast://source:PASSWORD@host:port/mount)"))?;
    let user = match percent_decode(u.username()) {
        s if s.is_empty() => "source".to_owned(),
        s => s,
    };
    let mount = u.path().to_owned();
    if mount.len() < 2 || mount.len() > 200 || mount.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("the mount must be a path like /live.mp3"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("no query or fragment after the mount"));
    }
    Ok(Parsed {
        host,
        port: u.port().unwrap_or(8000),
        mount,
        user,
        password,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Vec<View>>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let rows = targets::of_service(&state.db, service.id).await?;
    Ok(Json(rows.iter().map(|t| view(&state, t)).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<(StatusCode, Json<View>)> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if body.kind != "icecast" {
        return Err(ApiError::invalid(format!(
            "kind: {:?} is not a target kind this server sends to; kinds: icecast",
            body.kind
        )));
    }
    if service.kind != "radio" {
        return Err(ApiError::invalid(
            "kind: icecast targets send a radio station's mount; this is a video service",
        ));
    }
    let p = parse(body.url.trim())?;
    state
        .outbound
        .resolve_host(p.host.clone(), p.port)
        .await
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    if targets::of_service(&state.db, service.id).await?.len() >= MAX_PER_SERVICE {
        return Err(ApiError::invalid(format!(
            "a service has at most {MAX_PER_SERVICE} targets"
        )));
    }
    let tid = targets::insert(
        &state.db,
        service.id,
        &NewTarget {
            kind: "icecast",
            host: &p.host,
            port: i64::from(p.port),
            mount: &p.mount,
            username: &p.user,
            secret: &p.password,
        },
    )
    .await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "target.create",
        &format!(
            "service {} target {tid} to {}:{}{}",
            service.id, p.host, p.port, p.mount
        ),
    )
    .await?;
    reconcile(&state).await;
    let row = targets::of_service(&state.db, service.id)
        .await?
        .into_iter()
        .find(|t| t.id == tid)
        .ok_or_else(|| ApiError::not_found("target"))?;
    Ok((StatusCode::CREATED, Json(view(&state, &row))))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, tid): PathIds,
) -> ApiResult<StatusCode> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if !targets::delete(&state.db, service.id, tid).await? {
        return Err(ApiError::not_found("target"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "target.delete",
        &format!("service {} target {tid}", service.id),
    )
    .await?;
    reconcile(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the targets in the database that are not running, stops the running ones that
/// are no longer there.
pub async fn reconcile(state: &AppState) {
    let rows = match targets::all(&state.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("publish targets not checked: {e}");
            return;
        }
    };
    let wanted: HashSet<i64> = rows.iter().map(|t| t.id).collect();
    let running: HashSet<i64> = state
        .engine
        .targets()
        .all()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    for id in running.difference(&wanted) {
        state.engine.targets().stop(*id);
        tracing::info!(target = id, "publish target stopped");
    }
    for t in rows.iter().filter(|t| !running.contains(&t.id)) {
        let Ok(Some(service)) = services::by_id(state.db.pool(), t.service_id).await else {
            continue;
        };
        let Ok(port) = u16::try_from(t.port) else {
            continue;
        };
        icecast::start(
            &state.engine,
            t.id,
            tidecast_engine::ServiceId(service.id),
            service.slug.clone(),
            IcecastTarget {
                host: t.host.clone(),
                port,
                mount: t.mount.clone(),
                user: t.username.clone(),
                password: t.secret.clone(),
            },
            Arc::new(PolicyDialer(Arc::clone(&state.outbound))),
        );
        tracing::info!(target = t.id, service = %service.slug, remote = %format!("{}:{}{}", t.host, t.port, t.mount), "publish target started");
    }
}

/// Keeps what runs in step with the database until the process ends.
pub async fn run(state: AppState) {
    loop {
        reconcile(&state).await;
        tokio::time::sleep(RECONCILE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icecast_urls() {
        let p = parse("icecast://source:p%40ss@radio.example:8010/live.mp3").expect("parse");
        assert_eq!(
            (
                p.host.as_str(),
                p.port,
                p.mount.as_str(),
                p.user.as_str(),
                p.password.as_str()
            ),
            ("radio.example", 8010, "/live.mp3", "source", "p@ss")
        );
        let p = parse("icecast://:secret@radio.example/live").expect("parse");
        assert_eq!((p.user.as_str(), p.port), ("source", 8000));
        for bad in [
            "http://source:x@radio.example/live",
            "icecast://source@radio.example/live",
            "icecast://source:x@radio.example/",
            "icecast://source:x@radio.example/live?x=1",
            "not a url",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
