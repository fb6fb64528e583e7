//! API keys as business operations: long-lived bearer tokens for scripts and billing
//! systems.
//!
//! Invariants: only the key's SHA-256 digest is stored, so the key itself is shown once, at
//! creation; its first characters (the prefix) tell keys apart. A user sees and revokes its
//! own keys; an admin sees and revokes everyone's (another user's key is a 404 otherwise).

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::caller::{API_KEY_PREFIX, Credential};
use crate::auth::{Caller, secret};
use crate::db::tokens::{self, ApiKey};
use crate::db::users::Role;

use super::{Error, Result, commit_audited, validate};

/// What a request may set (everything optional: an empty body is a key named "API key").
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: Option<String>,
}

/// A key just made: its row and the key itself (not stored, never shown again).
#[derive(Debug)]
pub struct Created {
    pub stored: ApiKey,
    pub key: String,
}

/// Makes an API key for the caller. Only a login may: a key that could mint keys would let
/// whoever stole one keep access after it is revoked.
pub async fn create(state: &AppState, caller: &Caller, body: CreateKey) -> Result<Created> {
    if matches!(caller.credential, Credential::ApiKey(_)) {
        return Err(Error::forbidden(
            "an API key cannot create API keys; log in with your password to make one",
        ));
    }
    let name = match body.name {
        Some(n) => validate::name("name", &n)?,
        None => "API key".to_owned(),
    };
    let key = secret::token(API_KEY_PREFIX);
    let prefix: String = key.chars().take(API_KEY_PREFIX.len() + 6).collect();
    let mut tx = state.db.pool().begin().await?;
    let id = tokens::insert_api_key(&mut *tx, caller.id(), &name, &prefix, &secret::digest(&key))
        .await?;
    commit_audited(
        tx,
        caller,
        "api_key.create",
        &format!("api key {id} ({prefix}…)"),
    )
    .await?;
    tracing::info!(user = %caller.user.username, key = %prefix, "API key created");
    let stored = tokens::api_key_by_id(&state.db, id)
        .await?
        .ok_or(Error::NotFound("API key"))?;
    Ok(Created { stored, key })
}

/// A page of the caller's own keys (an admin's: everyone's) and how many there are.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ApiKey>, i64)> {
    let user = (caller.role() != Role::Admin).then(|| caller.id());
    Ok(tokens::list_api_keys(&state.db, user, limit, offset).await?)
}

/// Revokes a key of the caller's (an admin: anyone's).
pub async fn revoke(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    let key = tokens::api_key_by_id(&state.db, id)
        .await?
        .filter(|k| k.user_id == caller.id() || caller.role() == Role::Admin)
        .ok_or(Error::NotFound("API key"))?;
    let mut tx = state.db.pool().begin().await?;
    tokens::revoke_api_key(&mut *tx, key.id).await?;
    commit_audited(
        tx,
        caller,
        "api_key.revoke",
        &format!("api key {id} ({}…)", key.prefix),
    )
    .await?;
    tracing::info!(user = %caller.user.username, key = %key.prefix, "API key revoked");
    Ok(())
}
