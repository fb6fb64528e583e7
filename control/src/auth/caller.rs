//! The `Caller`: the user behind a request, resolved from `Authorization: Bearer <token>`
//! or the web UI's session cookie (the extractor is `api::extract`'s).
//!
//! Two kinds of bearer tokens work the same way: login-session tokens (`tcs_…`, from
//! `POST /login`, expiring) and API keys (`tck_…`, until revoked).
//!
//! The web UI logs in with `"cookie": true` instead: the session token goes into an
//! HttpOnly, SameSite=Strict cookie that scripts cannot read, and every request that
//! changes something must also carry `X-CSRF-Token`, a value derived from the session that
//! only our own pages learn (from the login answer or `GET /me`). A forged form or a
//! cross-site `fetch` has the cookie withheld by SameSite and cannot know the header.

use crate::auth::secret;
use crate::db::users::{Role, User};
use crate::db::{Db, users};

pub const SESSION_PREFIX: &str = "tcs_";
pub const API_KEY_PREFIX: &str = "tck_";
/// The web UI's session cookie.
pub const SESSION_COOKIE: &str = "tidecast_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF value of a cookie session: a digest of its token (so nothing more is stored).
pub fn csrf_for(token: &str) -> String {
    secret::digest(&format!("csrf:{token}"))
}

/// The web UI's page asks this before it renders: the user of a valid cookie session,
/// the session's CSRF value and whether the account is suspended, so a logged-in page needs
/// no extra request (and a logged-out one makes no failing request).
pub async fn cookie_session(
    db: &Db,
    headers: &axum::http::HeaderMap,
) -> Option<(User, String, Option<Suspension>)> {
    let token = cookie_token(headers).filter(|t| t.starts_with(SESSION_PREFIX))?;
    let (_, user, reseller_suspended) = users::by_session_hash(db, &secret::digest(&token))
        .await
        .ok()
        .flatten()?;
    let suspension = Suspension::of(&user, reseller_suspended);
    Some((user, csrf_for(&token), suspension))
}

/// The session token in the request's `Cookie` header, if any.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
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

/// Why a caller's account is suspended (see `domain::access::may_change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suspension {
    /// The account itself.
    #[serde(rename = "account")]
    Own,
    /// The reseller the customer belongs to.
    Reseller,
}

impl Suspension {
    /// A user's suspension: its own, else its reseller's (`reseller_suspended`).
    pub fn of(user: &User, reseller_suspended: bool) -> Option<Self> {
        if user.suspended_by().is_some() {
            Some(Self::Own)
        } else {
            reseller_suspended.then_some(Self::Reseller)
        }
    }
}

/// The authenticated user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub credential: Credential,
    /// For a cookie session: the CSRF value its pages must send (shown by `GET /me`).
    pub csrf: Option<String>,
    /// Set when the account, or its reseller's, is suspended: it may read, not change.
    pub suspension: Option<Suspension>,
}

impl Caller {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn role(&self) -> Role {
        self.user.role()
    }
}
