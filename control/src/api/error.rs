//! The API's one error type: every failure becomes `{"error":{"code","message"}}` with a
//! fitting status. Internal errors are logged with their cause and answered with a generic
//! 500 that leaks nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer of the REST API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The cause of a 500, logged and never sent.
    internal: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            internal: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Also what a caller gets for another tenant's object: it must not learn it exists.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// A field is present and well-typed but its value is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    /// A reseller's plan does not allow this.
    pub fn over_plan(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "plan_limit", message)
    }

    /// The same error with `prefix` before its message (which part of a combined request).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// The same error with `from` in its message said as `to` (one check, two audiences).
    pub fn reworded(mut self, from: &str, to: &str) -> Self {
        self.message = self.message.replace(from, to);
        self
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; the server log has the details".into(),
            internal: Some(err.into()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        crate::domain::Error::from(err).into()
    }
}

impl From<crate::domain::Error> for ApiError {
    fn from(err: crate::domain::Error) -> Self {
        use crate::domain::Error as E;
        match err {
            E::NotFound(what) => Self::not_found(what),
            E::Forbidden(m) => Self::forbidden(m),
            E::Conflict(m) => Self::conflict(m),
            E::Invalid(m) => Self::invalid(m),
            E::OverPlan(m) => Self::over_plan(m),
            E::Gone(m) => Self::new(StatusCode::GONE, "gone", m),
            E::NotArchived(m) => Self::new(StatusCode::NOT_FOUND, "not_archived", m),
            E::OverQuota(m) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "over_quota", m),
            E::TooMany(m) => Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", m),
            E::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            E::NoSpace(m) => Self::new(StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage", m),
            E::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is busy; try again",
            ),
            E::Internal(e) => Self::internal(e),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> Self {
        crate::domain::Error::io(err).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            tracing::error!("request failed: {cause:#}");
        }
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
