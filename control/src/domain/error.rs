//! The domain layer's one error type. Each variant says what kind of failure it is, not how
//! it is shown: the HTTP layer maps them to status codes (`api::error`), jobs log them.

/// Why a domain operation did not happen. Nothing was changed when one is returned: every
/// operation writes in one transaction, committed last.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist, or the caller may not see it (the two are answered alike,
    /// so nobody learns what other tenants have).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller sees the object but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request collides with the current state (a taken name, a running job).
    #[error("{0}")]
    Conflict(String),
    /// A value is well-typed but not acceptable; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A reseller's plan (or the service's own limits) does not allow this.
    #[error("{0}")]
    OverPlan(String),
    /// A file does not fit in the customer's library.
    #[error("{0}")]
    OverQuota(String),
    /// A DVR span holds nothing to export.
    #[error("{0}")]
    NotArchived(String),
    /// What was asked for existed once and has been deleted.
    #[error("{0}")]
    Gone(String),
    /// A part the operation needs is missing on this server (e.g. FFmpeg's libraries).
    #[error("{0}")]
    Unavailable(String),
    /// The caller has asked too often (a listener's song requests); it may ask again later.
    #[error("{0}")]
    TooMany(String),
    /// The server's disk is full: a file could not be written, and nothing was stored.
    #[error("{0}")]
    NoSpace(String),
    /// The database is saturated; the caller may retry.
    #[error("the database is busy; try again")]
    Busy,
    /// Anything else: a database or I/O failure. Logged, never shown to a caller.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub fn over_plan(message: impl Into<String>) -> Self {
        Self::OverPlan(message.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// A file operation's failure: a full disk (or quota) is the operator's to fix and the
    /// caller's to know about; anything else is internal.
    pub fn io(err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded
        ) {
            tracing::error!("the server's disk is full: {err}");
            Self::NoSpace("the server's disk is full; nothing was stored".into())
        } else {
            Self::internal(err)
        }
    }

    /// The same error with `prefix` before its message (which part of a combined request).
    pub fn prefixed(self, prefix: &str) -> Self {
        self.map_message(|m| format!("{prefix}{m}"))
    }

    /// The same error with `from` in its message said as `to` (one check, two audiences).
    pub fn reworded(self, from: &str, to: &str) -> Self {
        self.map_message(|m| m.replace(from, to))
    }

    fn map_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            Self::Forbidden(m) => Self::Forbidden(f(&m)),
            Self::Conflict(m) => Self::Conflict(f(&m)),
            Self::Invalid(m) => Self::Invalid(f(&m)),
            Self::OverPlan(m) => Self::OverPlan(f(&m)),
            Self::Gone(m) => Self::Gone(f(&m)),
            Self::OverQuota(m) => Self::OverQuota(f(&m)),
            Self::TooMany(m) => Self::TooMany(f(&m)),
            other => other,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        // Operations check for duplicates and references before writing; these are the
        // races between two requests, answered as the check would have answered them.
        if crate::db::is_unique_violation(&err) {
            return Self::conflict("that name is already taken");
        }
        if crate::db::is_foreign_key_violation(&err) {
            return Self::conflict("other objects still refer to this one");
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return Self::Busy;
        }
        if crate::db::health::is_connection_error(&err) {
            tracing::warn!("database unreachable: {err}");
            return Self::Unavailable("the database is unreachable; try again shortly".into());
        }
        Self::Internal(err.into())
    }
}

/// A domain operation's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
