//! A customer's media library: importing a finished upload (inspected, stored once by its
//! SHA-256, queued for an on-demand ladder when it is a video), the quota uploads reserve as
//! their bytes arrive, tag edits and deletion. Uploads through the API, recordings, live
//! sets and the demo all import through here.

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::media::{self, MediaRow, NewMedia};
use crate::db::services::Service;
use crate::media::inspect::{Inspected, inspect};
use crate::media::store::{self, Upload};

use super::access::visible_service;
use super::{Error, Result, audit_now, validate};

/// The library's size limit for `service`'s owner, in bytes.
pub fn quota_bytes(service: &Service) -> u64 {
    u64::try_from(service.limits.disk_quota_mb).unwrap_or(0) * 1024 * 1024
}

/// The error of an upload that does not fit.
pub fn over_quota(filename: &str, used: u64, quota: u64) -> Error {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    Error::OverQuota(format!(
        "{filename}: does not fit in the library ({:.1} MB used of {:.0} MB)",
        mb(used),
        mb(quota)
    ))
}

/// Takes back what an upload imported before a later file of it was refused: the request
/// as a whole did not happen.
pub async fn take_back(state: &AppState, owner: i64, added: Vec<MediaRow>) {
    for m in added {
        if let Err(e) = media::delete(&state.db, owner, m.id).await {
            tracing::error!(media = m.id, "could not take back an upload: {e}");
        }
        remove_files(state, &m).await;
    }
}

/// Removes a deleted item's files (and stops its on-demand transcode).
pub async fn remove_files(state: &AppState, m: &MediaRow) {
    let _ = tokio::fs::remove_file(state.data_dir.join(&m.path)).await;
    if m.vod_status.is_some() {
        state.vod.cancel(m.id);
        crate::vod::remove(&state.data_dir, m.id).await;
    }
    if let Some(cover) = &m.cover_path {
        let _ = tokio::fs::remove_file(state.data_dir.join(cover)).await;
    }
}

/// Adds a finished upload (its SHA-256 `sha`) to a customer's library: inspected (a file
/// that does not decode is a 422 naming it), moved into place and recorded. `true` with
/// the row when the library already had the same bytes.
pub async fn import(
    state: &AppState,
    service: &Service,
    folder: &str,
    filename: &str,
    sha: &str,
    upload: Upload,
) -> Result<(MediaRow, bool)> {
    let owner = service.owner_id;
    if let Some(existing) = media::by_hash(&state.db, owner, sha).await? {
        tracing::info!(
            owner,
            media = existing.id,
            "{filename:?} is already in the library"
        );
        return Ok((existing, true));
    }
    let path = upload.path().to_owned();
    let name = filename.to_owned();
    let found = tokio::task::spawn_blocking(move || inspect(&path, &name))
        .await
        .map_err(Error::internal)?
        .map_err(|why| {
            tracing::info!(owner, "{filename:?} refused: {why}");
            Error::invalid(format!("{filename}: {why}"))
        })?;
    store_file(state, service, folder, filename, sha, upload, found).await
}

/// Moves an inspected upload into the library and records it; `true` with the row when the
/// same file was recorded meanwhile by another upload.
async fn store_file(
    state: &AppState,
    service: &Service,
    folder: &str,
    filename: &str,
    sha: &str,
    upload: Upload,
    found: Inspected,
) -> Result<(MediaRow, bool)> {
    let owner = service.owner_id;
    let size = i64::try_from(upload.size).unwrap_or(i64::MAX);
    let path = store::library_path(owner, sha, &store::safe_ext(filename));
    upload
        .keep_as(&state.data_dir, &path)
        .await
        .map_err(Error::io)?;
    let cover_path = match &found.cover {
        Some((bytes, ext)) => {
            let rel = format!("media/{owner}/{sha}.cover.{ext}");
            match tokio::fs::write(state.data_dir.join(&rel), bytes).await {
                Ok(()) => Some(rel),
                Err(e) => {
                    tracing::warn!("cover art of {filename:?} not saved: {e}");
                    None
                }
            }
        }
        None => None,
    };
    let new = NewMedia {
        owner_id: owner,
        folder,
        filename,
        path: &path,
        sha256: sha,
        size_bytes: size,
        kind: found.kind,
        title: &found.title,
        artist: &found.artist,
        album: &found.album,
        duration_ms: found.duration_ms,
        bitrate_kbps: found.bitrate_kbps,
        loudness_mlufs: found.loudness_mlufs,
        cue_in_ms: found.cue_in_ms,
        cue_out_ms: found.cue_out_ms,
        cover_path: cover_path.as_deref(),
    };
    let id = match media::insert(state.db.pool(), &new).await {
        Ok(id) => id,
        Err(e) => {
            // The same file uploaded twice at once: the other upload recorded it (and the
            // file on disk is its file, byte for byte); this one is a duplicate.
            if let Some(existing) = media::by_hash(&state.db, owner, sha).await? {
                return Ok((existing, true));
            }
            let _ = tokio::fs::remove_file(state.data_dir.join(&path)).await;
            if let Some(c) = &cover_path {
                let _ = tokio::fs::remove_file(state.data_dir.join(c)).await;
            }
            return Err(e.into());
        }
    };
    if found.kind == "video" {
        // An on-demand ladder in the uploading service's rungs, made in the background.
        let rungs = super::ladder::vod_rungs(service);
        crate::db::vod::queue(&state.db, id, &rungs).await?;
        state.vod.wake();
    }
    let row = media::by_id(&state.db, owner, id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("media {id} vanished")))?;
    Ok((row, false))
}

/// Bytes of uploads in progress, by customer.
static IN_FLIGHT: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<i64, u64>>> =
    std::sync::LazyLock::new(Default::default);

/// One upload's share of [`IN_FLIGHT`], given back when it ends (stored or not: once
/// stored, the bytes count in the database instead).
#[derive(Debug)]
pub struct Reservation {
    owner: i64,
    bytes: u64,
}

impl Reservation {
    pub fn new(owner: i64) -> Self {
        Self { owner, bytes: 0 }
    }

    /// Takes `n` more bytes if the library (`used` stored, plus everything in flight) stays
    /// within `quota`.
    pub fn grow(&mut self, n: u64, used: u64, quota: u64) -> bool {
        let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
        let flying = map.entry(self.owner).or_default();
        if used + *flying + n > quota {
            return false;
        }
        *flying += n;
        self.bytes += n;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut map = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(flying) = map.get_mut(&self.owner) {
            *flying = flying.saturating_sub(self.bytes);
            if *flying == 0 {
                map.remove(&self.owner);
            }
        }
    }
}

/// A tag or folder edit.
#[derive(schemars::JsonSchema, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaPatch {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub folder: Option<String>,
}

/// Edits an item's tags or moves it to another folder.
pub async fn patch(
    state: &AppState,
    caller: &Caller,
    id: i64,
    mid: i64,
    input: MediaPatch,
) -> Result<MediaRow> {
    let (service, _) = visible_service(state, caller, id).await?;
    let m = media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| Error::NotFound("media item"))?;
    let tag = |name: &str, given: Option<String>, old: &str| -> Result<String> {
        match given {
            None => Ok(old.to_owned()),
            Some(v) if v.chars().count() > 255 || v.chars().any(char::is_control) => Err(
                Error::invalid(format!("{name}: at most 255 characters on one line")),
            ),
            // Empty clears a tag (an empty title is refused below).
            Some(v) if v.trim().is_empty() => Ok(String::new()),
            Some(v) => validate::text(name, &v, 255),
        }
    };
    let title = tag("title", input.title, &m.title)?;
    if title.is_empty() {
        return Err(Error::invalid("title cannot be empty"));
    }
    let artist = tag("artist", input.artist, &m.artist)?;
    let album = tag("album", input.album, &m.album)?;
    let folder = match input.folder {
        Some(f) => store::clean_folder(&f).map_err(Error::invalid)?,
        None => m.folder.clone(),
    };
    media::update_tags(
        &state.db,
        service.owner_id,
        mid,
        &title,
        &artist,
        &album,
        &folder,
    )
    .await?;
    let m = media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| Error::NotFound("media item"))?;
    Ok(m)
}

/// Deletes an item (refused while a service uses it as its watermark).
pub async fn delete(state: &AppState, caller: &Caller, id: i64, mid: i64) -> Result<()> {
    let (service, _) = visible_service(state, caller, id).await?;
    let m = media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| Error::NotFound("media item"))?;
    let (services, _) = crate::db::services::list(
        &state.db,
        crate::db::services::ServiceScope::Owner(service.owner_id),
        None,
        1000,
        0,
    )
    .await?;
    if let Some(user) = services
        .iter()
        .find(|s| super::ladder::uses_as_watermark(s, mid))
    {
        return Err(Error::conflict(format!(
            "{} is the watermark of {}; choose another watermark first",
            m.filename, user.name
        )));
    }
    if !media::delete(&state.db, service.owner_id, mid).await? {
        return Err(Error::NotFound("media item"));
    }
    remove_files(state, &m).await;
    audit_now(
        state,
        caller,
        "media.delete",
        &format!("media {mid} ({}) of user {}", m.filename, service.owner_id),
    )
    .await?;
    tracing::info!(
        owner = service.owner_id,
        media = mid,
        "deleted {:?} from the library",
        m.filename
    );
    Ok(())
}
