//! `POST /api/v1/login` and `POST /api/v1/logout`: bearer tokens for people.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::caller::{Credential, SESSION_PREFIX};
use crate::auth::{Caller, password, secret};
use crate::db::{now, tokens, users};

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::state::AppState;
use super::time::rfc3339;
use super::users::UserView;

/// How long a login token lasts.
const SESSION_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    token: String,
    token_type: &'static str,
    expires_at: String,
    user: UserView,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    // Over-long input is refused before it reaches the (deliberately slow) hash.
    if body.username.len() > 256 || body.password.len() > 1024 {
        return Err(ApiError::unauthorized("wrong username or password"));
    }
    let user = users::by_username(&state.db, &body.username).await?;
    let ok = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    let Some(user) = user.filter(|_| ok) else {
        tracing::warn!(username = %body.username, %remote, "login failed: wrong username or password");
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    let token = secret::token(SESSION_PREFIX);
    let expires_at = now() + SESSION_SECONDS;
    tokens::insert_session(&state.db, user.id, &secret::digest(&token), expires_at).await?;
    tracing::info!(username = %user.username, %remote, "logged in");
    Ok(Json(LoginResponse {
        token,
        token_type: "Bearer",
        expires_at: rfc3339(expires_at),
        user: UserView::from(&user),
    }))
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    match caller.credential {
        Credential::Session(id) => {
            tokens::revoke_session(&state.db, id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Credential::ApiKey(_) => Err(ApiError::invalid(
            "this request used an API key; revoke keys with DELETE /api/v1/api-keys/{id}",
        )),
    }
}
