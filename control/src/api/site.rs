//! Site-wide things the web UI shows: announcements (admins write, everyone logged in
//! reads on their dashboard) and system settings (admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::users::Role;
use crate::db::{audit, site};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, PathId};
use crate::app::AppState;
use crate::domain::validate;
use crate::time::rfc3339;

/// Longest announcement, in characters.
const MAX_MESSAGE: usize = 2000;

fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("only admins may do this"));
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct AnnouncementView {
    id: i64,
    message: String,
    level: String,
    created_at: String,
}

pub async fn announcements(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<List<AnnouncementView>>> {
    let items: Vec<AnnouncementView> = site::announcements(&state.db)
        .await?
        .into_iter()
        .map(|a| AnnouncementView {
            id: a.id,
            message: a.message,
            level: a.level,
            created_at: rfc3339(a.created_at),
        })
        .collect();
    let total = items.len() as i64;
    Ok(Json(List { items, total }))
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementInput {
    message: String,
    #[serde(default = "info")]
    level: String,
}

fn info() -> String {
    "info".into()
}

pub async fn announce(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AnnouncementInput>,
) -> ApiResult<(StatusCode, Json<AnnouncementView>)> {
    admin_only(&caller)?;
    let message = body.message.trim();
    if message.is_empty() {
        return Err(ApiError::invalid("message: write something to announce"));
    }
    if message.chars().count() > MAX_MESSAGE {
        return Err(ApiError::invalid(format!(
            "message: at most {MAX_MESSAGE} characters"
        )));
    }
    if !matches!(body.level.as_str(), "info" | "warning") {
        return Err(ApiError::invalid("level: info or warning"));
    }
    let id = site::announce(&state.db, message, &body.level, caller.id()).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "announcement.create",
        &format!("announcement {id}"),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AnnouncementView {
            id,
            message: message.to_owned(),
            level: body.level,
            created_at: rfc3339(crate::db::now()),
        }),
    ))
}

pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    if !site::withdraw(&state.db, id).await? {
        return Err(ApiError::not_found("announcement"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "announcement.delete",
        &format!("announcement {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<crate::model::site::SiteSettings>> {
    Ok(Json(site::load(&state.db).await?))
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SystemSettingsInput")]
pub struct SettingsInput {
    site_name: Option<String>,
    customers_create_services: Option<bool>,
    stats_retention_days: Option<i64>,
}

pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SettingsInput>,
) -> ApiResult<Json<crate::model::site::SiteSettings>> {
    admin_only(&caller)?;
    let mut tx = state.db.pool().begin().await?;
    if let Some(name) = body.site_name {
        let name = validate::name("site_name", &name)?;
        site::put_setting(
            &mut *tx,
            "site_name",
            &serde_json::to_string(&name).map_err(ApiError::internal)?,
        )
        .await?;
    }
    if let Some(on) = body.customers_create_services {
        site::put_setting(
            &mut *tx,
            "customers_create_services",
            if on { "true" } else { "false" },
        )
        .await?;
    }
    if let Some(days) = body.stats_retention_days {
        if !crate::model::site::RETENTION_DAYS.contains(&days) {
            return Err(ApiError::invalid(format!(
                "stats_retention_days: {days} is outside {}..={} days",
                crate::model::site::RETENTION_DAYS.start(),
                crate::model::site::RETENTION_DAYS.end()
            )));
        }
        site::put_setting(&mut *tx, "stats_retention_days", &days.to_string()).await?;
    }
    audit(
        &mut *tx,
        Some(caller.id()),
        "settings.update",
        "system settings",
    )
    .await?;
    tx.commit().await?;
    Ok(Json(site::load(&state.db).await?))
}
