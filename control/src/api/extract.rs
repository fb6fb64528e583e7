//! Request extractors whose failures are API errors in the documented JSON shape (axum's own
//! rejections are plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::caller::{self, Caller, Credential, Suspension};
use crate::auth::secret;
use crate::db::{now, tokens, users};
use crate::domain::access;

/// Largest JSON body the API accepts.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// A JSON body. Syntax errors are 400; well-formed JSON of the wrong shape (missing or
/// unknown fields, wrong types) is 422; a body over [`MAX_JSON_BYTES`] is 413.
///
/// A missing `Content-Type` is accepted (billing modules' HTTP clients often omit it), and
/// so is curl's default form label; any other type than JSON is refused.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// Like [`ApiJson`], but an empty body means `T::default()` (for `POST`s whose fields are
/// all optional).
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than {MAX_JSON_BYTES} bytes"),
    )
}

/// Reads a request body that must be JSON (or carry no `Content-Type` at all).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if let Some(ct) = req.headers().get(axum::http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        // `curl -d '{…}'` labels JSON as a form; accepting that label is kinder than a
        // puzzling 400 for the most common way people try an API.
        let json_like = essence == "application/json"
            || essence.ends_with("+json")
            || essence == "application/x-www-form-urlencoded";
        if !json_like {
            return Err(ApiError::bad_request(
                "unsupported_media_type",
                format!("expected a JSON body (Content-Type: application/json), got {essence:?}"),
            ));
        }
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(
                "bad_body",
                format!("cannot read the request body: {rejection}"),
            )
        }
    })?;
    if bytes.len() > MAX_JSON_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses a JSON body with the API's error mapping.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
        // serde_json calls some shape errors syntax: an enum given an array ("expected
        // value"), a struct given a longer array ("trailing characters"). Well-formed JSON
        // is a 422 whatever the shape.
        serde_json::error::Category::Syntax
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
        {
            ApiError::invalid(e.to_string())
        }
        serde_json::error::Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => {
            ApiError::bad_request(
                "invalid_json",
                "the request body is empty; expected a JSON object",
            )
        }
        _ => ApiError::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON: {e}"),
        ),
    })
}

/// An integer id from the last path segment: `/users/{id}`. Ids are integers; anything else
/// is a 400.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw): axum::extract::Path<String> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(PathId)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_id",
                    format!("{raw:?} is not an id (ids are positive integers)"),
                )
            })
    }
}

/// Two integer ids from the path: `/services/{id}/djs/{dj}`.
#[derive(Debug, Clone, Copy)]
pub struct PathIds(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)): axum::extract::Path<(String, String)> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))?;
        let parse = |s: &str| s.parse::<i64>().ok().filter(|n| *n > 0);
        match (parse(&a), parse(&b)) {
            (Some(a), Some(b)) => Ok(PathIds(a, b)),
            _ => Err(ApiError::bad_request(
                "invalid_id",
                "ids are positive integers",
            )),
        }
    }
}

/// `?limit=&offset=` of list endpoints (default 100, at most 1000), plus any `owner=`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
    pub owner: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut page = Page {
            limit: 100,
            offset: 0,
            owner: None,
        };
        let query = parts.uri.query().unwrap_or_default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let number = || {
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_query",
                            format!("{key}={value:?} must be a non-negative integer"),
                        )
                    })
            };
            match &*key {
                "limit" => {
                    page.limit = number()?;
                    if !(1..=1000).contains(&page.limit) {
                        return Err(ApiError::bad_request(
                            "invalid_query",
                            "limit must be between 1 and 1000",
                        ));
                    }
                }
                "offset" => page.offset = number()?,
                "owner" => page.owner = Some(number()?),
                _ => {} // unknown parameters are ignored, as most REST APIs do
            }
        }
        Ok(page)
    }
}

/// A list answer: `{"items":[…],"total":N}`.
#[derive(Debug, serde::Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Who is calling: the bearer token (a login session or an API key) or, for the web UI, the
/// session cookie with its CSRF header on anything that changes something.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = resolve(parts, state).await?;
        // A suspended account reads but changes nothing: one rule, for every route.
        if !parts.method.is_safe() {
            access::may_change(&caller)?;
        }
        Ok(caller)
    }
}

/// A caller whose account may be suspended and who may still act: only for ending one's
/// own session (`POST /logout`), which a suspended user must be able to do.
#[derive(Debug, Clone)]
pub struct EvenSuspended(pub Caller);

impl FromRequestParts<AppState> for EvenSuspended {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await.map(EvenSuspended)
    }
}

/// The caller behind the request's bearer token or session cookie.
async fn resolve(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
            let token = caller::cookie_token(&parts.headers).ok_or_else(|| {
                ApiError::unauthorized("missing Authorization: Bearer <token> header")
            })?;
            if !token.starts_with(caller::SESSION_PREFIX) {
                return Err(ApiError::unauthorized(
                    "the session cookie is not valid; log in again",
                ));
            }
            let csrf = caller::csrf_for(&token);
            if !parts.method.is_safe() {
                let sent = parts
                    .headers
                    .get(caller::CSRF_HEADER)
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
    let (user, credential, reseller_suspended) = if token.starts_with(caller::API_KEY_PREFIX) {
        let (key_id, last_used, user, reseller_suspended) =
            users::by_api_key_hash(&state.db, &hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?;
        // Record use at most once a minute: a billing system's burst of calls must not
        // turn into a burst of writes.
        if last_used.is_none_or(|t| now() - t >= 60) {
            tokens::touch_api_key(&state.db, key_id).await?;
        }
        (user, Credential::ApiKey(key_id), reseller_suspended)
    } else {
        let (session_id, user, reseller_suspended) = users::by_session_hash(&state.db, &hash)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("the token is unknown, expired or revoked; log in again")
            })?;
        (user, Credential::Session(session_id), reseller_suspended)
    };
    let suspension = Suspension::of(&user, reseller_suspended);
    Ok(Caller {
        user,
        credential,
        csrf,
        suspension,
    })
}
