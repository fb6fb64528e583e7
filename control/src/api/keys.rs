//! `/api/v1/api-keys`: long-lived bearer tokens for scripts and billing systems (the rules
//! are `domain::keys`').

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::tokens::ApiKey;
use crate::domain::keys::{self as domain, CreateKey};
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{List, OptionalJson, Page, PathId};

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
    let made = domain::create(&state, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            view: KeyView::from(&made.stored),
            key: made.key,
        }),
    ))
}

/// The caller's own keys; an admin sees everyone's.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
) -> ApiResult<Json<List<KeyView>>> {
    let (items, total) = domain::list(&state, &caller, page.limit, page.offset).await?;
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
    domain::revoke(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
