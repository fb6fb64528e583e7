//! `GET /api/v1/services/{id}/usage` and `GET /api/v1/usage` (every service the caller
//! sees, for billing systems to pull): data transferred this month (or `?period=YYYY-MM`)
//! and disk, each with its limit.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::services::{self, Service, ServiceScope};
use crate::db::users::Role;
use crate::usage::{Period, disk, transfer};

use super::error::{ApiError, ApiResult};
use super::extract::{List, Page, PathId};
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::time::rfc3339;

#[derive(Debug, Serialize)]
pub struct UsageView {
    service: i64,
    slug: String,
    owner: i64,
    period: String,
    from: String,
    to: String,
    transfer: TransferView,
    disk: DiskView,
}

#[derive(Debug, Serialize)]
struct TransferView {
    bytes: i64,
    gb: f64,
    /// `null`: no limit.
    limit_bytes: Option<i64>,
    limit_gb: Option<f64>,
    /// `report` or `suspend` (until the month ends) past the limit.
    action: crate::model::TransferAction,
    exceeded: bool,
    /// The limit suspended the service this month.
    suspended: bool,
}

#[derive(Debug, Serialize)]
struct DiskView {
    /// The owner's media library (shared by its services) and on-demand ladders.
    media_bytes: i64,
    /// This service's DVR archives (as far as the server has opened them since it started).
    dvr_bytes: i64,
    used_bytes: i64,
    limit_bytes: i64,
}

/// `?period=YYYY-MM`, else this month.
fn period(query: Option<&str>) -> ApiResult<Period> {
    let Some(v) = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("period="))
    else {
        return Ok(Period::now());
    };
    let bad = || {
        ApiError::bad_request(
            "bad_query",
            format!("period: {v:?} is not a month like 2026-11"),
        )
    };
    let (y, m) = v.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=9999).contains(&y) || !(1..=12).contains(&m) || v.len() != 7 {
        return Err(bad());
    }
    let start = chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .ok_or_else(bad)?;
    Ok(Period::containing(start))
}

async fn usage(state: &AppState, s: &Service, p: &Period) -> ApiResult<UsageView> {
    let bytes = transfer(&state.db, s.id, p).await?;
    let (media, dvr) = disk(&state.db, &state.engine, s).await?;
    let limit = (s.limits.transfer_bytes > 0).then_some(s.limits.transfer_bytes);
    Ok(UsageView {
        service: s.id,
        slug: s.slug.clone(),
        owner: s.owner_id,
        period: p.name.clone(),
        from: rfc3339(p.start),
        to: rfc3339(p.end),
        transfer: TransferView {
            bytes,
            gb: bytes as f64 / 1e9,
            limit_bytes: limit,
            limit_gb: limit.map(|l| l as f64 / 1e9),
            action: s.limits.transfer_action,
            exceeded: limit.is_some_and(|l| bytes >= l),
            suspended: s.transfer_suspended.as_deref() == Some(p.name.as_str()),
        },
        disk: DiskView {
            media_bytes: media,
            dvr_bytes: dvr,
            used_bytes: media + dvr,
            limit_bytes: s.limits.disk_quota_mb * 1024 * 1024,
        },
    })
}

pub async fn service(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<UsageView>> {
    let p = period(query.as_deref())?;
    let (s, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(usage(&state, &s, &p).await?))
}

pub async fn all(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<List<UsageView>>> {
    let p = period(query.as_deref())?;
    let scope = match caller.role() {
        Role::Admin => ServiceScope::All,
        Role::Reseller => ServiceScope::Reseller(caller.id()),
        Role::Customer => ServiceScope::Owner(caller.id()),
    };
    let (rows, total) =
        services::list(&state.db, scope, page.owner, page.limit, page.offset).await?;
    let mut items = Vec::with_capacity(rows.len());
    for s in &rows {
        items.push(usage(&state, s, &p).await?);
    }
    Ok(Json(List { items, total }))
}
