//! `GET /api/v1/services/{id}/stats/history?from=&to=&step=[&mount=]`: listeners over time
//! for charts. Each point is a step: the most listeners connected at once during it, the
//! listening hours, sessions started and bytes sent in it.
//!
//! Steps of whole hours are answered from the hourly rollups (`stats::rollup`: a year is
//! 8,760 rows per service), with the range widened to whole hours. Shorter steps are swept
//! from the sessions themselves, for at most 31 days.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::now;
use crate::stats::rollup::{self, HOUR, HourRow};

use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use crate::app::AppState;
use crate::domain::access::visible_service;

/// At most this many points per answer (a chart is a few hundred pixels wide).
const MAX_POINTS: i64 = 2000;
/// Longest range, in seconds: the longest retention.
pub const MAX_RANGE: i64 = 2 * 366 * 86_400;
/// Longest range swept from sessions (steps under an hour).
const MAX_FINE_RANGE: i64 = 31 * 86_400;
/// Sessions read for one fine-grained answer at most; past it the answer says `truncated`.
const MAX_SESSIONS: i64 = 500_000;

#[derive(Debug, Serialize)]
pub struct HistoryView {
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub mount: Option<String>,
    pub points: Vec<Point>,
    /// More sessions than one answer reads: the later points count only part of them.
    pub truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct Point {
    /// Start of the step (unix seconds).
    pub t: i64,
    /// Most listeners at once during the step.
    pub listeners: i64,
    pub listener_hours: f64,
    /// Sessions that started in the step.
    pub sessions: i64,
    /// Bytes sent by the sessions that ended in the step.
    pub bytes: i64,
}

/// One query parameter, decoded (the first, if it is given twice).
pub fn raw_param(query: &str, name: &str) -> ApiResult<Option<String>> {
    Ok(url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned()))
}

/// A whole-number query parameter.
pub fn int_param(query: &str, name: &str) -> ApiResult<Option<i64>> {
    let Some(v) = raw_param(query, name)? else {
        return Ok(None);
    };
    v.trim().parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            format!("{name}: {v:?} is not a whole number (unix seconds)"),
        )
    })
}

/// A report's range: `from`/`to` (unix s; by default the `default_span` seconds up to now)
/// and an optional `mount`.
#[derive(Debug, Clone)]
pub struct Range {
    pub from: i64,
    pub to: i64,
    pub mount: Option<String>,
}

impl Range {
    pub fn parse(query: &str, default_span: i64) -> ApiResult<Self> {
        let latest = now() + 366 * 86_400;
        let to = int_param(query, "to")?.unwrap_or_else(now);
        // Bounds first, so the arithmetic below cannot overflow on extreme values.
        if !(0..=latest).contains(&to) {
            return Err(ApiError::bad_request(
                "bad_query",
                "from and to must be unix seconds between 1970 and a year from now",
            ));
        }
        let from = int_param(query, "from")?.unwrap_or((to - default_span).max(0));
        if from < 0 {
            return Err(ApiError::bad_request(
                "bad_query",
                "from and to must be unix seconds between 1970 and a year from now",
            ));
        }
        if from >= to {
            return Err(ApiError::bad_request("bad_query", "from must be before to"));
        }
        if to - from > MAX_RANGE {
            return Err(ApiError::bad_request(
                "bad_query",
                "the range is longer than two years (the longest retention)",
            ));
        }
        let mount = match raw_param(query, "mount")? {
            None => None,
            Some(m) if m.is_empty() => None,
            Some(m) if m.len() > 200 || m.chars().any(char::is_control) => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    "mount: not a mount name",
                ));
            }
            // Stored by name; `/name`, as Icecast writes mounts, is the same one.
            Some(m) => match m.strip_prefix('/').unwrap_or(&m) {
                "" => None,
                name => Some(name.to_owned()),
            },
        };
        Ok(Self { from, to, mount })
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<HistoryView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let q = query.unwrap_or_default();
    let range = Range::parse(&q, 86_400)?;
    let step = int_param(&q, "step")?;
    Ok(Json(series(&state, service.id, range, step).await?))
}

/// The points of `range` in steps of `step` seconds (by default about a hundred points).
pub async fn series(
    state: &AppState,
    service: i64,
    range: Range,
    step: Option<i64>,
) -> ApiResult<HistoryView> {
    let Range { from, to, mount } = range;
    let step = step.unwrap_or_else(|| {
        let s = ((to - from) / 100).max(60);
        if s >= HOUR { s / HOUR * HOUR } else { s }
    });
    if step < 60 {
        return Err(ApiError::bad_request(
            "bad_query",
            "step: at least 60 seconds",
        ));
    }
    if step > MAX_RANGE {
        return Err(ApiError::bad_request(
            "bad_query",
            "step: at most two years",
        ));
    }
    let whole_hours = step % HOUR == 0;
    let (from, to) = if whole_hours {
        (
            from.div_euclid(HOUR) * HOUR,
            (to + HOUR - 1).div_euclid(HOUR) * HOUR,
        )
    } else {
        (from, to)
    };
    let n = (to - from + step - 1) / step;
    if n > MAX_POINTS {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("that is {n} points; at most {MAX_POINTS} (use a longer step)"),
        ));
    }
    let key = mount.as_deref().unwrap_or("");
    let mut truncated = false;
    let rows: Vec<HourRow> = if whole_hours {
        rollup::service_steps(&state.db, &state.engine, service, key, from, to, step).await?
    } else {
        if to - from > MAX_FINE_RANGE {
            return Err(ApiError::bad_request(
                "bad_query",
                "steps under an hour cover at most 31 days; use a step of whole hours (3600, 86400, …) for longer ranges",
            ));
        }
        let mut spans =
            rollup::stored_spans(&state.db, Some(service), from, to, MAX_SESSIONS).await?;
        truncated = spans.len() as i64 == MAX_SESSIONS;
        spans.extend(rollup::open_spans(&state.engine, Some(service)));
        rollup::roll_steps(from, to, step, &spans)
            .into_iter()
            .filter(|r| r.mount == key)
            .collect()
    };
    Ok(HistoryView {
        from,
        to,
        step,
        mount,
        points: points(&rows, from, step, n as usize),
        truncated,
    })
}

/// Rows (hours, or steps) folded into `n` points of `step` seconds from `from`.
fn points(rows: &[HourRow], from: i64, step: i64, n: usize) -> Vec<Point> {
    let mut points: Vec<Point> = (0..n)
        .map(|i| Point {
            t: from + i as i64 * step,
            listeners: 0,
            listener_hours: 0.0,
            sessions: 0,
            bytes: 0,
        })
        .collect();
    let mut ms = vec![0i64; n];
    for r in rows {
        let i = (r.hour - from).div_euclid(step);
        let Some(p) = usize::try_from(i).ok().and_then(|i| points.get_mut(i)) else {
            continue;
        };
        p.listeners = p.listeners.max(r.peak);
        p.sessions += r.sessions;
        p.bytes += r.bytes;
        ms[i as usize] += r.listen_ms;
    }
    for (p, ms) in points.iter_mut().zip(ms) {
        p.listener_hours = (ms as f64 / 36_000.0).round() / 100.0;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, peak: i64, listen_ms: i64) -> HourRow {
        HourRow {
            hour,
            peak,
            listen_ms,
            sessions: 1,
            bytes: 10,
            ..HourRow::default()
        }
    }

    #[test]
    fn hours_fold_into_steps() {
        let rows = [
            row(0, 3, 3_600_000),
            row(3600, 5, 1_800_000),
            row(7200, 1, 0),
        ];
        let p = points(&rows, 0, 2 * HOUR, 2);
        assert_eq!(p[0].listeners, 5, "the most at once of its hours");
        assert!((p[0].listener_hours - 1.5).abs() < 1e-9);
        assert_eq!((p[0].sessions, p[0].bytes), (2, 20));
        assert_eq!((p[1].t, p[1].listeners), (7200, 1));
    }
}
