//! The `Caller` extractor: resolves `Authorization: Bearer <token>` to a user.
//!
//! Two kinds of bearer tokens work the same way: login-session tokens (`tcs_…`, from
//! `POST /login`, expiring) and API keys (`tck_…`, until revoked).
//!
//! The web UI logs in with `"cookie": true` instead: the session token goes into an
//! HttpOnly, SameSite=Strict cookie that scripts cannot read, and every request that
//! changes something must also carry `X-CSRF-Token`, a value derived from the session that
//! only our own pages learn (from the login answer or `GET /me`). A forged form or a
//! cross-site `fetch` has the cookie withheld by SameSite and cannot know the header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::auth::secret;
use crate::db::users::{Role, User};
use crate::db::{now, tokens, users};

pub const SESSION_PREFIX: &str = "tcs_";
pub const API_KEY_PREFIX: &str = "tck_";
/// The web UI's session cookie.
pub const SESSION_COOKIE: &str = "tidecast_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF value of a cookie session: a digest of its token (so nothing more is stored).
pub fn csrf_for(token: &str) -> String {
    secret::digest(&format!("csrf:{token}"))
}

/// The web UI's page asks this before it renders: the user of a valid cookie session
/// and the session's CSRF value, so a logged-in page needs no extra request (and a
/// logged-out one makes no failing request).
pub async fn cookie_session(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Option<(User, String)> {
    let token = cookie_token(headers).filter(|t| t.starts_with(SESSION_PREFIX))?;
    let (_, user) = users::by_session_hash(&state.db, &secret::digest(&token))
        .await
        .ok()
        .flatten()?;
    Some((user, csrf_for(&token)))
}

/// The session token in the request's `Cookie` header, if any.
fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(i64),
    ApiKey(i64),
}

/// The authenticated user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub credential: Credential,
    /// For a cookie session: the CSRF value its pages must send (shown by `GET /me`).
    pub csrf: Option<String>,
}

impl Caller {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn role(&self) -> Role {
        self.user.role()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, csrf) = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => {
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| {
                        h.strip_prefix("Bearer ")
                            .or_else(|| h.strip_prefix("bearer "))
                    })
                    .map(str::trim)
                    .ok_or_else(|| {
                        ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
                    })?;
                (token.to_owned(), None)
            }
            None => {
                let token = cookie_token(&parts.headers).ok_or_else(|| {
                    ApiError::unauthorized("missing Authorization: Bearer <token> header")
                })?;
                if !token.starts_with(SESSION_PREFIX) {
                    return Err(ApiError::unauthorized(
                        "the session cookie is not valid; log in again",
                    ));
                }
                let csrf = csrf_for(&token);
                if !parts.method.is_safe() {
                    let sent = parts
                        .headers
                        .get(CSRF_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !secret::equal(sent, &csrf) {
                        return Err(ApiError::forbidden(
                            "this request did not come from a Tidecast page (missing or wrong X-CSRF-Token); reload the page",
                        ));
                    }
                }
                (token, Some(csrf))
            }
        };
        let token = token.as_str();
        let hash = secret::digest(token);
        let (user, credential) = if token.starts_with(API_KEY_PREFIX) {
            let (key_id, last_used, user) = users::by_api_key_hash(&state.db, &hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?;
            // Record use at most once a minute: a billing system's burst of calls must not
            // turn into a burst of writes.
            if last_used.is_none_or(|t| now() - t >= 60) {
                tokens::touch_api_key(&state.db, key_id).await?;
            }
            (user, Credential::ApiKey(key_id))
        } else {
            let (session_id, user) =
                users::by_session_hash(&state.db, &hash)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "the token is unknown, expired or revoked; log in again",
                        )
                    })?;
            (user, Credential::Session(session_id))
        };
        Ok(Caller {
            user,
            credential,
            csrf,
        })
    }
}
