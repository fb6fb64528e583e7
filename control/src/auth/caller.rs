//! The `Caller` extractor: resolves `Authorization: Bearer <token>` to a user.
//!
//! Two kinds of bearer tokens work the same way: login-session tokens (`tcs_…`, from
//! `POST /login`, expiring) and API keys (`tck_…`, until revoked).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::auth::secret;
use crate::db::users::{Role, User};
use crate::db::{now, tokens, users};

pub const SESSION_PREFIX: &str = "tcs_";
pub const API_KEY_PREFIX: &str = "tck_";

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
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing Authorization: Bearer <token> header")
            })?;
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
        Ok(Caller { user, credential })
    }
}
