//! Logging in and out as business operations: the credential check, the sessions it makes
//! (their lifetimes), "log in as" (who may, audited) and ending a session. How a session
//! reaches the client (a bearer token in the answer, or an HttpOnly cookie with its CSRF
//! value) is the HTTP side's (`api::login`).
//!
//! Invariants: only a SHA-256 digest of a session token is stored; a wrong username and a
//! wrong password are answered alike, after the same (deliberately slow) hash; nobody logs
//! in as an admin or as themselves, and customers log in as nobody; a login the throttle
//! refuses (`auth::throttle`) is refused before the database or the hash is asked.

use std::net::IpAddr;

use crate::app::AppState;
use crate::auth::caller::{Credential, SESSION_PREFIX};
use crate::auth::throttle::{LOGINS, RetryAfter};
use crate::auth::{Caller, password, secret};
use crate::db::users::{self, Role, User};
use crate::db::{now, tokens};

use super::access::visible_user;
use super::{Error, Result, audit_in};

/// What a session is for; it decides how long the session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A bearer token for a script or app.
    Token,
    /// The web UI's browser session (it asks to log in again after it).
    Browser,
    /// An admin or reseller seeing what one of its users sees.
    LoginAs,
}

impl SessionKind {
    /// How long a session of this kind lasts, in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Token => 7 * 24 * 3600,
            Self::Browser => 12 * 3600,
            Self::LoginAs => 2 * 3600,
        }
    }
}

/// A session just made: the token (shown once; only its digest is stored) and when it ends.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub expires_at: i64,
    /// Its lifetime in seconds (a cookie's Max-Age).
    pub seconds: i64,
}

/// Starts a session of `kind` for `user` (through `exec`: the pool, or the transaction that
/// also writes its audit line).
async fn start_session<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    exec: E,
    user: &User,
    kind: SessionKind,
) -> Result<Session> {
    let token = secret::token(SESSION_PREFIX);
    let seconds = kind.seconds();
    let expires_at = now() + seconds;
    tokens::insert_session(exec, user.id, &secret::digest(&token), expires_at).await?;
    Ok(Session {
        token,
        expires_at,
        seconds,
    })
}

/// Why a login was refused. The first two are answered alike ("wrong username or
/// password").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The username or password is longer than any stored one can be: refused before it
    /// reaches the (deliberately slow) hash, and not worth logging.
    TooLong,
    /// No such user, or the password does not match (which one is not said).
    WrongCredentials,
    /// Too many attempts from this address (or on this account from it) lately: not
    /// checked at all; try again after the given time.
    Throttled(RetryAfter),
}

/// Checks a username and password from `remote`: the user and a new session of `kind`,
/// or why not.
pub async fn login(
    state: &AppState,
    remote: IpAddr,
    username: &str,
    given_password: String,
    kind: SessionKind,
) -> Result<Result<(User, Session), Refused>> {
    if username.len() > 256 || given_password.len() > 1024 {
        return Ok(Err(Refused::TooLong));
    }
    let attempt = match LOGINS.begin(remote, username) {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(Err(Refused::Throttled(wait))),
    };
    let user = users::by_username(state.db.pool(), username).await?;
    let ok = password::verify(
        given_password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    let Some(user) = user.filter(|_| ok) else {
        LOGINS.failed(attempt);
        return Ok(Err(Refused::WrongCredentials));
    };
    LOGINS.succeeded(attempt);
    let session = start_session(state.db.pool(), &user, kind).await?;
    Ok(Ok((user, session)))
}

/// Ends the caller's session. An API key is not a session: it is revoked as a key.
pub async fn logout(state: &AppState, caller: &Caller) -> Result<()> {
    match caller.credential {
        Credential::Session(id) => Ok(tokens::revoke_session(&state.db, id).await?),
        Credential::ApiKey(_) => Err(Error::invalid(
            "this request used an API key; revoke keys with DELETE /api/v1/api-keys/{id}",
        )),
    }
}

/// An admin (or a reseller, for its own customers) opens a short session as user `id` to
/// see what they see. Written to the audit log.
pub async fn login_as(state: &AppState, caller: &Caller, id: i64) -> Result<(User, Session)> {
    let target = visible_user(state, caller, id).await?;
    if target.id == caller.id() {
        return Err(Error::invalid("you are already logged in as yourself"));
    }
    if target.role() == Role::Admin {
        return Err(Error::forbidden("nobody may log in as an admin"));
    }
    if caller.role() == Role::Customer {
        return Err(Error::forbidden(
            "only admins and resellers may log in as a customer",
        ));
    }
    let mut tx = state.db.pool().begin().await?;
    audit_in(
        &mut tx,
        caller,
        "user.login_as",
        &format!("user {} ({})", target.id, target.username),
    )
    .await?;
    let session = start_session(&mut *tx, &target, SessionKind::LoginAs).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.user.username, target = %target.username, "logged in as another user");
    Ok((target, session))
}
