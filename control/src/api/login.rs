//! `POST /api/v1/login`, `POST /api/v1/logout` and `POST /api/v1/users/{id}/login-as`:
//! sessions for people. The credential check and the sessions are `domain::login`'s; this
//! side hands a session to the client: a bearer token in the answer, or (the web UI) an
//! HttpOnly cookie plus its CSRF value.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::caller::{SESSION_COOKIE, csrf_for};
use crate::auth::throttle::LOGINS;
use crate::db::users::User;
use crate::domain::login::{self as domain, Refused, Session, SessionKind};
use crate::logsafe::Escaped;
use crate::time::rfc3339;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, EvenSuspended, PathId};
use super::users::UserView;

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

/// Hands `session` of `user` to the client: a bearer token in the answer, or (`cookie`) an
/// HttpOnly cookie plus its CSRF value.
fn answer(state: &AppState, user: &User, session: Session, cookie: bool) -> Response {
    let mut body = LoginResponse {
        token: None,
        token_type: if cookie { "Cookie" } else { "Bearer" },
        expires_at: rfc3339(session.expires_at),
        csrf: None,
        user: UserView::from(user),
    };
    if !cookie {
        body.token = Some(session.token);
        return Json(body).into_response();
    }
    body.csrf = Some(csrf_for(&session.token));
    let set = session_cookie(state, &session.token, session.seconds);
    ([(header::SET_COOKIE, set)], Json(body)).into_response()
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
    let kind = if body.cookie {
        SessionKind::Browser
    } else {
        SessionKind::Token
    };
    let username = &body.username;
    let refused = match domain::login(&state, remote.ip(), username, body.password, kind).await? {
        Ok((user, session)) => {
            tracing::info!(username = %Escaped(&user.username), %remote, "logged in");
            return Ok(answer(&state, &user, session, body.cookie));
        }
        Err(refused) => refused,
    };
    // One line per address per minute, with a count: a flood of guesses must not flood
    // the log (nor bury other lines in it).
    let logged = || LOGINS.log_due(remote.ip());
    match refused {
        Refused::TooLong => Err(ApiError::unauthorized("wrong username or password")),
        Refused::WrongCredentials => {
            if let Some(n) = logged() {
                tracing::warn!(username = %Escaped(username), %remote, failures = n, "login failed: wrong username or password ({n} failed or refused login(s) from this address since its last line)");
            }
            Err(ApiError::unauthorized("wrong username or password"))
        }
        Refused::Throttled(wait) => {
            if let Some(n) = logged() {
                tracing::warn!(username = %Escaped(username), %remote, failures = n, "login refused: too many attempts from this address ({n} failed or refused login(s) from it since its last line)");
            }
            let secs = wait.seconds();
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many login attempts; try again in {secs} s"),
            );
            Ok(([(header::RETRY_AFTER, secs.to_string())], error).into_response())
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    EvenSuspended(caller): EvenSuspended,
) -> ApiResult<Response> {
    domain::logout(&state, &caller).await?;
    if caller.csrf.is_some() {
        let clear = session_cookie(&state, "", 0);
        return Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/users/{id}/login-as`: an admin (or a reseller, for its own customers)
/// opens a short session as that user to see what they see (a cookie session when the
/// caller uses one). Written to the audit log.
pub async fn login_as(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let (target, session) = domain::login_as(&state, &caller, id).await?;
    Ok(answer(&state, &target, session, caller.csrf.is_some()))
}
