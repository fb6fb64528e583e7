//! `GET /api/v1/services/{id}/stats/history?from=&to=&step=`: listeners over time for the
//! UI's chart. Each point is a step: the most listeners connected at once during it, and
//! the listening hours in it. Built from the stored sessions plus those connected now.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use tidecast_engine::{ServiceId, SessionRole};

use crate::auth::Caller;
use crate::db::{history, now};

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use super::state::AppState;

/// At most this many points per answer (a chart is a few hundred pixels wide).
const MAX_POINTS: i64 = 2000;
/// Longest range, in seconds.
const MAX_RANGE: i64 = 2 * 366 * 86_400;
/// Sessions read for one answer at most; past it the answer says `truncated`.
const MAX_SESSIONS: i64 = 500_000;

#[derive(Debug, Serialize)]
pub struct HistoryView {
    from: i64,
    to: i64,
    step: i64,
    points: Vec<Point>,
    /// More sessions than one answer reads: the later points count only part of them.
    truncated: bool,
}

#[derive(Debug, Serialize)]
struct Point {
    /// Start of the step (unix seconds).
    t: i64,
    /// Most listeners at once during the step.
    listeners: i64,
    listener_hours: f64,
}

fn param(query: &str, name: &str) -> ApiResult<Option<i64>> {
    let Some(v) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    else {
        return Ok(None);
    };
    v.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            format!("{name}: {v:?} is not a whole number (unix seconds)"),
        )
    })
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<HistoryView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let q = query.unwrap_or_default();
    let now = now();
    let to = param(&q, "to")?.unwrap_or(now);
    let from = param(&q, "from")?.unwrap_or(to - 86_400);
    if from >= to {
        return Err(ApiError::bad_request("bad_query", "from must be before to"));
    }
    if to - from > MAX_RANGE {
        return Err(ApiError::bad_request(
            "bad_query",
            "the range is longer than two years",
        ));
    }
    let step = param(&q, "step")?.unwrap_or_else(|| ((to - from) / 100).max(60));
    if step < 60 {
        return Err(ApiError::bad_request(
            "bad_query",
            "step: at least 60 seconds",
        ));
    }
    let n = (to - from + step - 1) / step;
    if n > MAX_POINTS {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("that is {n} points; at most {MAX_POINTS} (use a longer step)"),
        ));
    }
    let stored = history::sessions_between(&state.db, service.id, from, to, MAX_SESSIONS).await?;
    let truncated = stored.len() as i64 == MAX_SESSIONS;
    // Intervals in ms: stored sessions, and those connected now (open until now).
    let mut spans: Vec<(i64, i64)> = stored
        .iter()
        .map(|&(start, dur)| (start * 1000, start * 1000 + dur.max(0)))
        .collect();
    let now_ms = now * 1000;
    for s in state.engine.registry().sessions(ServiceId(service.id)) {
        if s.role == SessionRole::Listener {
            let start = s
                .started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(now_ms, |d| d.as_millis() as i64);
            spans.push((start, now_ms));
        }
    }
    Ok(Json(HistoryView {
        from,
        to,
        step,
        points: bucket(&spans, from * 1000, step * 1000, n as usize),
        truncated,
    }))
}

/// Peak concurrency and listening hours per step, by a sweep over start/end events.
fn bucket(spans: &[(i64, i64)], from_ms: i64, step_ms: i64, n: usize) -> Vec<Point> {
    let mut points: Vec<Point> = (0..n)
        .map(|i| Point {
            t: (from_ms + i as i64 * step_ms) / 1000,
            listeners: 0,
            listener_hours: 0.0,
        })
        .collect();
    let end_ms = from_ms + n as i64 * step_ms;
    let mut events: Vec<(i64, i64)> = Vec::with_capacity(spans.len() * 2);
    for &(a, b) in spans {
        let (a, b) = (a.max(from_ms), b.min(end_ms));
        if b <= a {
            continue;
        }
        events.push((a, 1));
        events.push((b, -1));
        // Listening time, split over the steps it spans.
        let mut t = a;
        while t < b {
            let i = ((t - from_ms) / step_ms) as usize;
            let step_end = from_ms + (i as i64 + 1) * step_ms;
            let part = b.min(step_end) - t;
            if let Some(p) = points.get_mut(i) {
                p.listener_hours += part as f64 / 3_600_000.0;
            }
            t = step_end;
        }
    }
    // Ends before starts at the same instant: a reconnect is not two listeners.
    events.sort_unstable();
    let mut current = 0i64;
    for (t, d) in events {
        current += d;
        let i = ((t - from_ms) / step_ms) as usize;
        if let Some(p) = points.get_mut(i) {
            p.listeners = p.listeners.max(current);
        }
    }
    // A step in the middle of sessions that neither start nor end in it still has them.
    let mut open = 0i64;
    let mut starts: Vec<(i64, i64)> = Vec::new();
    for &(a, b) in spans {
        let (a, b) = (a.max(from_ms), b.min(end_ms));
        if b > a {
            starts.push((a, 1));
            starts.push((b, -1));
        }
    }
    starts.sort_unstable();
    let mut k = 0;
    for (i, p) in points.iter_mut().enumerate() {
        let step_start = from_ms + i as i64 * step_ms;
        while k < starts.len() && starts[k].0 <= step_start {
            open += starts[k].1;
            k += 1;
        }
        p.listeners = p.listeners.max(open);
        p.listener_hours = (p.listener_hours * 100.0).round() / 100.0;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_and_hours_per_step() {
        // Steps of 10 s from 0: one listener 0-25 s, another 5-8 s, a third 12-40 s.
        let spans = [(0, 25_000), (5_000, 8_000), (12_000, 40_000)];
        let p = bucket(&spans, 0, 10_000, 4);
        let peaks: Vec<i64> = p.iter().map(|p| p.listeners).collect();
        assert_eq!(peaks, [2, 2, 2, 1]);
        // A session spanning a whole step with no event in it still counts.
        let p = bucket(&[(0, 100_000)], 0, 10_000, 5);
        assert!(p.iter().all(|p| p.listeners == 1));
        assert!((p[2].listener_hours - 0.0).abs() < 0.01);
        // Back-to-back sessions are one listener, not two.
        let p = bucket(&[(0, 10_000), (10_000, 20_000)], 0, 20_000, 1);
        assert_eq!(p[0].listeners, 1);
    }
}
