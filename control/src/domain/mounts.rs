//! A radio station's mounts as business operations. The primary mount is named after the
//! service's slug; extra mounts (other formats and bitrates, fed by the transcoder, or by a
//! source of their own) have names of their own, in the namespace they share with slugs.
//!
//! Invariants: an extra mount's bitrate is within the service's limit (and 320 kbps); a
//! fallback is another mount of the same service (never the mount itself); removing a mount
//! clears every fallback that named it, in the same transaction; a live mount is told its
//! new fallback after the write.

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::mounts::{self, MountRow};
use crate::db::services::Service;
use crate::model::Kind;
use crate::time::double_option;

use super::access::service_of_kind;
use super::{Error, Result, commit_audited, validate};

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMount {
    pub path: String,
    pub format: Format,
    pub bitrate_kbps: i64,
    pub fallback: Option<String>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchMount {
    pub format: Option<Format>,
    pub bitrate_kbps: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    pub fallback: Option<Option<String>>,
}

/// The audio format an extra mount is encoded in.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Mp3,
    Aac,
    Opus,
}

impl Format {
    /// The value the `format` column stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Aac => "aac",
            Self::Opus => "opus",
        }
    }
}

/// The radio service `id` as the caller sees it.
pub async fn radio(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    service_of_kind(
        state,
        caller,
        id,
        Kind::Radio,
        "mounts are for radio services",
    )
    .await
}

/// An extra mount's bitrate: within the service's limit, and at most 320 kbps.
fn check_bitrate(service: &Service, kbps: i64) -> Result<i64> {
    let max = service.limits.max_bitrate_kbps.min(320);
    validate::range("bitrate_kbps", kbps, 8, max)
}

async fn mount(state: &AppState, id: i64, mid: i64) -> Result<MountRow> {
    mounts::by_id(&state.db, id, mid)
        .await?
        .ok_or(Error::NotFound("mount"))
}

/// Station `id` (its primary mount) and its extra mounts.
pub async fn list(state: &AppState, caller: &Caller, id: i64) -> Result<(Service, Vec<MountRow>)> {
    let service = radio(state, caller, id).await?;
    let extra = mounts::for_service(&state.db, id).await?;
    Ok((service, extra))
}

/// Adds an extra mount to station `id`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: CreateMount,
) -> Result<MountRow> {
    let service = radio(state, caller, id).await?;
    let name = body.path.trim_start_matches('/').to_owned();
    validate::slug(&name).map_err(|_| {
        Error::invalid("path must be /name: 2-63 lowercase letters, digits and inner hyphens")
    })?;
    let bitrate = check_bitrate(&service, body.bitrate_kbps)?;
    if let Some(fb) = &body.fallback {
        check_fallback(state, &service, &name, fb).await?;
    }
    if mounts::name_taken(state.db.pool(), &name).await? {
        return Err(Error::conflict(format!("mount /{name} is taken")));
    }
    let fallback = body.fallback.as_deref().map(|f| f.trim_start_matches('/'));
    let mut tx = state.db.pool().begin().await?;
    let mid = mounts::insert(&mut *tx, id, &name, body.format.as_str(), bitrate, fallback).await?;
    commit_audited(
        tx,
        caller,
        "mount.create",
        &format!("mount {mid} (/{name}) of service {id}"),
    )
    .await?;
    mount(state, id, mid).await
}

/// Changes an extra mount's format, bitrate or fallback; what the request leaves out stays.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: i64,
    mid: i64,
    body: PatchMount,
) -> Result<MountRow> {
    let service = radio(state, caller, id).await?;
    let row = mount(state, id, mid).await?;
    let format = body
        .format
        .map_or(row.format.clone(), |f| f.as_str().to_owned());
    let bitrate = check_bitrate(&service, body.bitrate_kbps.unwrap_or(row.bitrate_kbps))?;
    let fallback = body.fallback.unwrap_or(row.fallback.clone());
    if let Some(fb) = &fallback {
        check_fallback(state, &service, &row.name, fb).await?;
    }
    let fallback = fallback.as_deref().map(|f| f.trim_start_matches('/'));
    let mut tx = state.db.pool().begin().await?;
    mounts::update(&mut *tx, mid, &format, bitrate, fallback).await?;
    push_fallback(state, &row.name, fallback);
    commit_audited(
        tx,
        caller,
        "mount.update",
        &format!("mount {mid} (/{}) of service {id}", row.name),
    )
    .await?;
    mount(state, id, mid).await
}

/// Removes an extra mount; fallbacks that named it are cleared in the same transaction.
pub async fn delete(state: &AppState, caller: &Caller, id: i64, mid: i64) -> Result<()> {
    let service = radio(state, caller, id).await?;
    let row = mount(state, id, mid).await?;
    let mut tx = state.db.pool().begin().await?;
    mounts::clear_fallbacks_to(&mut *tx, &row.name).await?;
    sqlx::query("UPDATE services SET fallback = NULL WHERE id = $1 AND fallback = $2")
        .bind(id)
        .bind(&row.name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM mounts WHERE id = $1")
        .bind(mid)
        .execute(&mut *tx)
        .await?;
    commit_audited(
        tx,
        caller,
        "mount.delete",
        &format!("mount {mid} (/{}) of service {id}", row.name),
    )
    .await?;
    if service.fallback.as_deref() == Some(row.name.as_str()) {
        push_fallback(state, &service.slug, None);
    }
    // A source already on the removed mount plays on until it disconnects; admission
    // refuses it from then on.
    Ok(())
}

/// Checks that `fallback` is another mount of `service` (not `of` itself).
pub async fn check_fallback(
    state: &AppState,
    service: &Service,
    of: &str,
    fallback: &str,
) -> Result<()> {
    let fallback = fallback.trim_start_matches('/');
    if fallback == of {
        return Err(Error::invalid("a mount cannot be its own fallback"));
    }
    let ours = fallback == service.slug
        || mounts::for_service(&state.db, service.id)
            .await?
            .iter()
            .any(|m| m.name == fallback);
    if ours {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "fallback {fallback:?} is not a mount of this service"
        )))
    }
}

/// Tells a live mount its new fallback at once (otherwise it learns at its next source).
pub fn push_fallback(state: &AppState, name: &str, fallback: Option<&str>) {
    if let Some(m) = state.engine.mounts().get(name) {
        m.set_fallback(fallback.map(|f| f.trim_start_matches('/').to_owned()));
    }
}
