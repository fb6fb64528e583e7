//! `/api/v1/api-keys`: long-lived bearer tokens for scripts and billing systems.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::caller::API_KEY_PREFIX;
use crate::auth::{Caller, secret};
use crate::db::audit;
use crate::db::tokens::{self, ApiKey};
use crate::db::users::Role;

use super::error::{ApiError, ApiResult};
use super::extract::{List, OptionalJson, Page, PathId};
use crate::app::AppState;
use crate::domain::validate;
use crate::time::rfc3339;

#[derive(Debug, Serialize)]
pub struct KeyView {
    id: i64,
    user: i64,
    name: String,
    /// The key's first characters, to tell keys apart; the key itself is shown only once.
    prefix: String,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id,
            user: k.user_id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    view: KeyView,
    /// The key. It is not stored and cannot be shown again.
    key: String,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    OptionalJson(body): OptionalJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let name = match body.name {
        Some(n) => validate::name("name", &n)?,
        None => "API key".to_owned(),
    };
    let key = secret::token(API_KEY_PREFIX);
    let prefix: String = key.chars().take(API_KEY_PREFIX.len() + 6).collect();
    let id = tokens::insert_api_key(
        &state.db,
        caller.id(),
        &name,
        &prefix,
        &secret::digest(&key),
    )
    .await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "api_key.create",
        &format!("api key {id} ({prefix}…)"),
    )
    .await?;
    tracing::info!(user = %caller.user.username, key = %prefix, "API key created");
    let stored = tokens::api_key_by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            view: KeyView::from(&stored),
            key,
        }),
    ))
}

/// The caller's own keys; an admin sees everyone's.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
) -> ApiResult<Json<List<KeyView>>> {
    let user = (caller.role() != Role::Admin).then(|| caller.id());
    let (items, total) = tokens::list_api_keys(&state.db, user, page.limit, page.offset).await?;
    Ok(Json(List {
        items: items.iter().map(KeyView::from).collect(),
        total,
    }))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let key = tokens::api_key_by_id(&state.db, id)
        .await?
        .filter(|k| k.user_id == caller.id() || caller.role() == Role::Admin)
        .ok_or_else(|| ApiError::not_found("API key"))?;
    tokens::revoke_api_key(&state.db, key.id).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "api_key.revoke",
        &format!("api key {id} ({}…)", key.prefix),
    )
    .await?;
    tracing::info!(user = %caller.user.username, key = %key.prefix, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
