//! Statistics reports of a service, as JSON or CSV.
//!
//! `GET /api/v1/services/{id}/stats/report?from=&to=[&mount=]`: everything at once;
//! `GET …/stats/report/{name}?…[&format=csv]`: one report (`summary`, `mounts`,
//! `user_agents`, `tracks`, `listeners` over time with `step`, `sessions`).
//!
//! Peak, listening hours and data sent come from the hourly rollups, so they are at hour
//! resolution; sessions, unique listeners, user agents and tracks are counted from the
//! stored sessions and titles of the exact range. The range is 30 days up to now unless
//! given, at most two years (retention keeps no more).

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::history::{self, Scope};
use crate::stats::csv;
use crate::stats::rollup::{self, HOUR, HourRow};

use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use super::history::{Range, int_param, raw_param, series};
use crate::app::AppState;
use crate::domain::access::visible_service;

const DEFAULT_SPAN: i64 = 30 * 86_400;
/// Rows in the user-agent and track reports at most; sessions in one export at most.
const TOP: i64 = 500;
const MAX_SESSION_ROWS: i64 = 100_000;
const REPORTS: &str = "summary, mounts, user_agents, tracks, listeners, sessions";

#[derive(Debug, Serialize)]
pub struct Report {
    from: i64,
    to: i64,
    mount: Option<String>,
    summary: Summary,
    mounts: Vec<MountLine>,
    user_agents: Vec<AgentLine>,
    tracks: Vec<TrackLine>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    peak_listeners: i64,
    /// Start of the hour of the peak (unix s); none without listeners.
    peak_at: Option<i64>,
    unique_listeners: i64,
    sessions: i64,
    listening_hours: f64,
    average_session_seconds: i64,
    bytes: i64,
    plays: i64,
}

#[derive(Debug, Serialize)]
pub struct MountLine {
    mount: String,
    peak_listeners: i64,
    sessions: i64,
    listening_hours: f64,
    bytes: i64,
}

#[derive(Debug, Serialize)]
pub struct AgentLine {
    user_agent: Option<String>,
    /// The player or browser family (`VLC`, `Chrome`, `FFmpeg`, …).
    client: &'static str,
    sessions: i64,
    unique_listeners: i64,
    listening_hours: f64,
}

#[derive(Debug, Serialize)]
pub struct TrackLine {
    title: String,
    plays: i64,
    /// Listeners when it started, on average over its plays, and at most.
    average_listeners: f64,
    max_listeners: i64,
    last_played: i64,
}

fn ms_to_hours(ms: i64) -> f64 {
    (ms as f64 / 36_000.0).round() / 100.0
}

pub async fn all(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Report>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let range = Range::parse(&query.unwrap_or_default(), DEFAULT_SPAN)?;
    let scope = scope(service.id, &range);
    let hours = hour_rows(&state, service.id, &range).await?;
    Ok(Json(Report {
        summary: summary(&state, scope, &hours).await?,
        mounts: mounts(&hours),
        user_agents: agents(&state, scope).await?,
        tracks: tracks(&state, scope).await?,
        from: range.from,
        to: range.to,
        mount: range.mount.clone(),
    }))
}

pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("service"))?;
    let (service, _) = visible_service(&state, &caller, id).await?;
    let q = query.unwrap_or_default();
    let csv = match raw_param(&q, "format")?.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("format: {other:?} is neither json nor csv"),
            ));
        }
    };
    let range = Range::parse(&q, DEFAULT_SPAN)?;
    // Only the listeners report uses it, but a step that is not a number is refused for all.
    let step = int_param(&q, "step")?;
    let scope = scope(service.id, &range);
    let (header, rows, json): (&[&str], Vec<Vec<String>>, serde_json::Value) = match name.as_str() {
        "summary" => {
            let hours = hour_rows(&state, service.id, &range).await?;
            let s = summary(&state, scope, &hours).await?;
            let row = vec![
                csv::time(range.from),
                csv::time(range.to),
                csv::text(range.mount.as_deref().unwrap_or("")).into_owned(),
                s.peak_listeners.to_string(),
                s.peak_at.map(csv::time).unwrap_or_default(),
                s.unique_listeners.to_string(),
                s.sessions.to_string(),
                s.listening_hours.to_string(),
                s.average_session_seconds.to_string(),
                s.bytes.to_string(),
                s.plays.to_string(),
            ];
            (
                &[
                    "from",
                    "to",
                    "mount",
                    "peak_listeners",
                    "peak_hour",
                    "unique_listeners",
                    "sessions",
                    "listening_hours",
                    "average_session_seconds",
                    "bytes",
                    "plays",
                ],
                vec![row],
                json(&s)?,
            )
        }
        "mounts" => {
            let lines = mounts(&hour_rows(&state, service.id, &range).await?);
            let rows = lines
                .iter()
                .map(|m| {
                    vec![
                        csv::text(&m.mount).into_owned(),
                        m.peak_listeners.to_string(),
                        m.sessions.to_string(),
                        m.listening_hours.to_string(),
                        m.bytes.to_string(),
                    ]
                })
                .collect();
            (
                &[
                    "mount",
                    "peak_listeners",
                    "sessions",
                    "listening_hours",
                    "bytes",
                ],
                rows,
                json(&lines)?,
            )
        }
        "user_agents" => {
            let lines = agents(&state, scope).await?;
            let rows = lines
                .iter()
                .map(|a| {
                    vec![
                        csv::text(a.user_agent.as_deref().unwrap_or("")).into_owned(),
                        a.client.to_owned(),
                        a.sessions.to_string(),
                        a.unique_listeners.to_string(),
                        a.listening_hours.to_string(),
                    ]
                })
                .collect();
            (
                &[
                    "user_agent",
                    "client",
                    "sessions",
                    "unique_listeners",
                    "listening_hours",
                ],
                rows,
                json(&lines)?,
            )
        }
        "tracks" => {
            let lines = tracks(&state, scope).await?;
            let rows = lines
                .iter()
                .map(|t| {
                    vec![
                        csv::text(&t.title).into_owned(),
                        t.plays.to_string(),
                        t.average_listeners.to_string(),
                        t.max_listeners.to_string(),
                        csv::time(t.last_played),
                    ]
                })
                .collect();
            (
                &[
                    "title",
                    "plays",
                    "average_listeners",
                    "max_listeners",
                    "last_played",
                ],
                rows,
                json(&lines)?,
            )
        }
        "listeners" => {
            let view = series(&state, service.id, range.clone(), step).await?;
            let rows = view
                .points
                .iter()
                .map(|p| {
                    vec![
                        csv::time(p.t),
                        p.listeners.to_string(),
                        p.listener_hours.to_string(),
                        p.sessions.to_string(),
                        p.bytes.to_string(),
                    ]
                })
                .collect();
            (
                &["time", "listeners", "listener_hours", "sessions", "bytes"],
                rows,
                json(&view)?,
            )
        }
        "sessions" => {
            let list = history::sessions(&state.db, scope, MAX_SESSION_ROWS).await?;
            let rows = list
                .iter()
                .map(|s| {
                    vec![
                        csv::time(s.started_at),
                        csv::time(s.started_at + s.duration_ms / 1000),
                        csv::text(&s.mount).into_owned(),
                        csv::text(&s.ip).into_owned(),
                        csv::text(s.user_agent.as_deref().unwrap_or("")).into_owned(),
                        (s.duration_ms / 1000).to_string(),
                        s.bytes.to_string(),
                    ]
                })
                .collect();
            let json_rows: Vec<serde_json::Value> = list
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "started_at": s.started_at, "duration_seconds": s.duration_ms / 1000,
                        "mount": s.mount, "ip": s.ip, "user_agent": s.user_agent, "bytes": s.bytes,
                    })
                })
                .collect();
            (
                &[
                    "started",
                    "ended",
                    "mount",
                    "ip",
                    "user_agent",
                    "duration_seconds",
                    "bytes",
                ],
                rows,
                serde_json::Value::Array(json_rows),
            )
        }
        _ => {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                format!("no report {name:?}; the reports are {REPORTS}"),
            ));
        }
    };
    if !csv {
        return Ok(Json(json).into_response());
    }
    let day = |t: i64| csv::time(t).get(..10).unwrap_or("").replace('-', "");
    let file = format!(
        "{}-{name}-{}-{}.csv",
        service.slug,
        day(range.from),
        day(range.to)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        csv::document(header, rows),
    )
        .into_response())
}

fn json(v: &impl Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

fn scope(service: i64, range: &Range) -> Scope<'_> {
    Scope {
        service,
        from: range.from,
        to: range.to,
        mount: range.mount.as_deref(),
    }
}

/// Every hour row (per mount and the "" totals) of the range, widened to whole hours.
async fn hour_rows(state: &AppState, service: i64, range: &Range) -> ApiResult<Vec<HourRow>> {
    let from = range.from.div_euclid(HOUR) * HOUR;
    let to = (range.to + HOUR - 1).div_euclid(HOUR) * HOUR;
    Ok(rollup::service_hours(&state.db, &state.engine, service, None, from, to).await?)
}

async fn summary(state: &AppState, scope: Scope<'_>, hours: &[HourRow]) -> ApiResult<Summary> {
    let key = scope.mount.unwrap_or("");
    let mine = hours.iter().filter(|r| r.mount == key);
    let mut s = Summary {
        peak_listeners: 0,
        peak_at: None,
        unique_listeners: 0,
        sessions: 0,
        listening_hours: 0.0,
        average_session_seconds: 0,
        bytes: 0,
        plays: 0,
    };
    let mut ms = 0;
    for r in mine {
        if r.peak > s.peak_listeners {
            s.peak_listeners = r.peak;
            s.peak_at = Some(r.hour);
        }
        ms += r.listen_ms;
        s.bytes += r.bytes;
    }
    s.listening_hours = ms_to_hours(ms);
    let (sessions, total_ms) = history::sessions_started(&state.db, scope).await?;
    s.sessions = sessions;
    if sessions > 0 {
        s.average_session_seconds = total_ms / sessions / 1000;
    }
    // Unique: stored sessions, plus addresses listening now that have no stored session.
    let open: HashSet<String> = rollup::open_spans(&state.engine, Some(scope.service))
        .into_iter()
        .filter(|o| scope.mount.is_none_or(|m| o.mount == m) && o.start_ms < scope.to * 1000)
        .map(|o| o.ip)
        .collect();
    let open: Vec<String> = open.into_iter().collect();
    let known: HashSet<String> = history::known_addresses(&state.db, scope, &open)
        .await?
        .into_iter()
        .collect();
    s.unique_listeners = history::unique_addresses(&state.db, scope).await?
        + open.iter().filter(|ip| !known.contains(*ip)).count() as i64;
    s.plays = history::plays(&state.db, scope).await?;
    Ok(s)
}

fn mounts(hours: &[HourRow]) -> Vec<MountLine> {
    let mut by: BTreeMap<&str, MountLine> = BTreeMap::new();
    for r in hours.iter().filter(|r| !r.mount.is_empty()) {
        let m = by.entry(&r.mount).or_insert_with(|| MountLine {
            mount: r.mount.clone(),
            peak_listeners: 0,
            sessions: 0,
            listening_hours: 0.0,
            bytes: 0,
        });
        m.peak_listeners = m.peak_listeners.max(r.peak);
        m.sessions += r.sessions;
        // Summed in ms below; kept as hours here to avoid a second map.
        m.listening_hours += r.listen_ms as f64;
        m.bytes += r.bytes;
    }
    by.into_values()
        .map(|mut m| {
            m.listening_hours = (m.listening_hours / 36_000.0).round() / 100.0;
            m
        })
        .collect()
}

async fn agents(state: &AppState, scope: Scope<'_>) -> ApiResult<Vec<AgentLine>> {
    Ok(history::user_agents(&state.db, scope, TOP)
        .await?
        .into_iter()
        .map(|a| AgentLine {
            client: client(a.user_agent.as_deref()),
            user_agent: a.user_agent,
            sessions: a.sessions,
            unique_listeners: a.uniques,
            listening_hours: ms_to_hours(a.listen_ms),
        })
        .collect())
}

async fn tracks(state: &AppState, scope: Scope<'_>) -> ApiResult<Vec<TrackLine>> {
    Ok(history::tracks(&state.db, scope, TOP)
        .await?
        .into_iter()
        .map(|t| TrackLine {
            average_listeners: if t.plays > 0 {
                (t.total_listeners as f64 / t.plays as f64 * 10.0).round() / 10.0
            } else {
                0.0
            },
            title: t.title,
            plays: t.plays,
            max_listeners: t.max_listeners,
            last_played: t.last_played,
        })
        .collect())
}

/// The family of a user agent, for the report's `client` column. Order matters: Edge says
/// Chrome and Safari too, Chrome says Safari.
pub fn client(agent: Option<&str>) -> &'static str {
    let Some(a) = agent else { return "Unknown" };
    const FAMILIES: &[(&str, &str)] = &[
        ("VLC", "VLC"),
        ("Lavf", "FFmpeg"),
        ("ffmpeg", "FFmpeg"),
        ("mpv", "mpv"),
        ("MPlayer", "MPlayer"),
        ("iTunes", "iTunes"),
        ("AppleCoreMedia", "Apple media player"),
        ("Winamp", "Winamp"),
        ("foobar2000", "foobar2000"),
        ("Kodi", "Kodi"),
        ("XBMC", "Kodi"),
        ("Sonos", "Sonos"),
        ("Roku", "Roku"),
        ("Alexa", "Alexa"),
        ("TuneIn", "TuneIn"),
        ("ExoPlayer", "Android media player"),
        ("stagefright", "Android media player"),
        ("Liquidsoap", "Liquidsoap"),
        ("curl", "curl"),
        ("Wget", "Wget"),
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    FAMILIES
        .iter()
        .find(|(needle, _)| a.contains(needle))
        .map_or("Other", |(_, family)| family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients() {
        assert_eq!(client(Some("VLC/3.0.18 LibVLC/3.0.18")), "VLC");
        assert_eq!(client(Some("Lavf/59.27.100")), "FFmpeg");
        assert_eq!(
            client(Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0"
            )),
            "Edge"
        );
        assert_eq!(
            client(Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
            )),
            "Chrome"
        );
        assert_eq!(client(Some("Something")), "Other");
        assert_eq!(client(None), "Unknown");
    }
}
