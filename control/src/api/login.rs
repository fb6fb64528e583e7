//! `POST /api/v1/login` and `POST /api/v1/logout`: bearer tokens for people.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::caller::{Credential, SESSION_COOKIE, SESSION_PREFIX, csrf_for};
use crate::auth::{Caller, password, secret};
use crate::db::{now, tokens, users};

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::users::UserView;
use crate::app::AppState;
use crate::time::rfc3339;

/// How long a login token lasts.
const SESSION_SECONDS: i64 = 7 * 24 * 3600;
/// How long a browser session lasts (the UI asks to log in again after it).
const COOKIE_SESSION_SECONDS: i64 = 12 * 3600;
/// How long a session made by "log in as" lasts.
const LOGIN_AS_SECONDS: i64 = 2 * 3600;

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
    /// The web UI: the session goes into an HttpOnly cookie, the answer carries `csrf`.
    #[serde(default)]
    cookie: bool,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    /// Absent for cookie sessions: their token is kept out of scripts' reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    token_type: &'static str,
    expires_at: String,
    /// Cookie sessions: the `X-CSRF-Token` value to send with every change.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
    user: UserView,
}

/// A new session for `user`: a bearer token in the answer, or (`cookie`) an HttpOnly
/// cookie plus its CSRF value.
pub async fn start_session(
    state: &AppState,
    user: &crate::db::users::User,
    cookie: bool,
    seconds: i64,
) -> ApiResult<Response> {
    let token = secret::token(SESSION_PREFIX);
    let expires_at = now() + seconds;
    tokens::insert_session(&state.db, user.id, &secret::digest(&token), expires_at).await?;
    let mut body = LoginResponse {
        token: None,
        token_type: if cookie { "Cookie" } else { "Bearer" },
        expires_at: rfc3339(expires_at),
        csrf: None,
        user: UserView::from(user),
    };
    if !cookie {
        body.token = Some(token);
        return Ok(Json(body).into_response());
    }
    body.csrf = Some(csrf_for(&token));
    let set = session_cookie(state, &token, seconds);
    Ok(([(header::SET_COOKIE, set)], Json(body)).into_response())
}

fn session_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    let secure = state
        .links
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    // Over-long input is refused before it reaches the (deliberately slow) hash.
    if body.username.len() > 256 || body.password.len() > 1024 {
        return Err(ApiError::unauthorized("wrong username or password"));
    }
    let user = users::by_username(state.db.pool(), &body.username).await?;
    let ok = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    let Some(user) = user.filter(|_| ok) else {
        tracing::warn!(username = %body.username, %remote, "login failed: wrong username or password");
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    let seconds = if body.cookie {
        COOKIE_SESSION_SECONDS
    } else {
        SESSION_SECONDS
    };
    let resp = start_session(&state, &user, body.cookie, seconds).await?;
    tracing::info!(username = %user.username, %remote, "logged in");
    Ok(resp)
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    match caller.credential {
        Credential::Session(id) => {
            tokens::revoke_session(&state.db, id).await?;
            if caller.csrf.is_some() {
                let clear = session_cookie(&state, "", 0);
                return Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response());
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Credential::ApiKey(_) => Err(ApiError::invalid(
            "this request used an API key; revoke keys with DELETE /api/v1/api-keys/{id}",
        )),
    }
}

/// `POST /api/v1/users/{id}/login-as`: an admin (or a reseller, for its own customers)
/// opens a short session as that user to see what they see. Written to the audit log.
pub async fn login_as(
    State(state): State<AppState>,
    caller: Caller,
    super::extract::PathId(id): super::extract::PathId,
) -> ApiResult<Response> {
    let target = crate::domain::access::visible_user(&state, &caller, id).await?;
    if target.id == caller.id() {
        return Err(ApiError::invalid("you are already logged in as yourself"));
    }
    if target.role() == crate::db::users::Role::Admin {
        return Err(ApiError::forbidden("nobody may log in as an admin"));
    }
    if caller.role() == crate::db::users::Role::Customer {
        return Err(ApiError::forbidden(
            "only admins and resellers may log in as a customer",
        ));
    }
    crate::db::audit(
        state.db.pool(),
        Some(caller.id()),
        "user.login_as",
        &format!("user {} ({})", target.id, target.username),
    )
    .await?;
    tracing::info!(by = %caller.user.username, target = %target.username, "logged in as another user");
    start_session(&state, &target, caller.csrf.is_some(), LOGIN_AS_SECONDS).await
}
