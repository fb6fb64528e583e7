//! A customer's media library: importing a finished upload (inspected, stored once by its
//! SHA-256, queued for an on-demand ladder when it is a video), the quota uploads reserve as
//! their bytes arrive, tag and visibility edits, deletion, and who may play an item's
//! on-demand copy. Uploads through the API, recordings, live sets and the demo all import
//! through here.
//!
//! Playback invariants: an item is addressed by its public id (an integer id plays only
//! for the owner's side, so ids cannot be walked); a `private` item plays only for a
//! caller who sees its owner (the owner, its reseller, an admin) or with a valid signature;
//! whatever may not play is answered as missing, so nothing confirms an id exists.

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::media::{self, MediaRow, NewMedia};
use crate::db::services::Service;
use crate::media::inspect::{Inspected, inspect};
use crate::media::store::{self, Upload};
use crate::model::media::Visibility;
use crate::vod::signed::{self, Signed};

use super::access::{sees_user, visible_service};
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

/// Where a file comes from: what it may be named and who may play it at first.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub folder: &'a str,
    pub filename: &'a str,
    pub visibility: Visibility,
}

/// Adds a finished upload (its SHA-256 `sha`) to a customer's library: inspected (a file
/// that does not decode is a 422 naming it), moved into place and recorded. `true` with
/// the row when the library already had the same bytes (as it was: its visibility too).
pub async fn import(
    state: &AppState,
    service: &Service,
    origin: Origin<'_>,
    sha: &str,
    upload: Upload,
) -> Result<(MediaRow, bool)> {
    let filename = origin.filename;
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
    store_file(state, service, origin, sha, upload, found).await
}

/// Moves an inspected upload into the library and records it; `true` with the row when the
/// same file was recorded meanwhile by another upload.
async fn store_file(
    state: &AppState,
    service: &Service,
    origin: Origin<'_>,
    sha: &str,
    upload: Upload,
    found: Inspected,
) -> Result<(MediaRow, bool)> {
    let Origin {
        folder,
        filename,
        visibility,
    } = origin;
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
        visibility,
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

/// A tag, folder or visibility edit.
#[derive(schemars::JsonSchema, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaPatch {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub folder: Option<String>,
    /// Who may play its on-demand copy.
    pub visibility: Option<Visibility>,
}

/// Edits an item's tags or visibility, or moves it to another folder.
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
    if let Some(v) = input.visibility
        && v != m.visibility
    {
        media::set_visibility(&state.db, service.owner_id, mid, v).await?;
        audit_now(
            state,
            caller,
            "media.visibility",
            &format!("media {mid} ({}) is now {}", m.filename, v.as_str()),
        )
        .await?;
    }
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

/// How long a signed URL lasts unless asked otherwise, and at most.
pub const SIGNED_TTL_DEFAULT_S: i64 = 3600;
pub const SIGNED_TTL_MAX_S: i64 = 7 * 24 * 3600;

/// A URL that plays an item whatever its visibility, until `expires` (unix seconds).
#[derive(Debug, Clone)]
pub struct SignedLink {
    pub public_id: String,
    pub signed: Signed,
}

/// Signs item `mid` of service `id`'s owner for `ttl_s` seconds (the caller must see the
/// service: another tenant's item is not found).
pub async fn signed_link(
    state: &AppState,
    caller: &Caller,
    id: i64,
    mid: i64,
    ttl_s: Option<i64>,
) -> Result<SignedLink> {
    let ttl = ttl_s.unwrap_or(SIGNED_TTL_DEFAULT_S);
    if !(1..=SIGNED_TTL_MAX_S).contains(&ttl) {
        return Err(Error::invalid(format!(
            "ttl: between 1 and {SIGNED_TTL_MAX_S} seconds (a week)"
        )));
    }
    let (service, _) = visible_service(state, caller, id).await?;
    let m = media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| Error::NotFound("media item"))?;
    if m.vod_status.is_none() {
        return Err(Error::invalid(format!(
            "{} has no on-demand copy (only videos do)",
            m.filename
        )));
    }
    let key = state.vod_keys.get(&state.db).await?;
    let signed = signed::sign(key, &m.public_id, crate::db::now() + ttl);
    Ok(SignedLink {
        public_id: m.public_id,
        signed,
    })
}

/// What a request for an on-demand item (its player page, playlists, segments) gets.
#[derive(Debug)]
pub enum Playback {
    /// It plays. `carry`: the signature the playlists pass on to the player's next
    /// requests; `shared`: anyone may play it, so caches may keep it.
    Play {
        item: Box<MediaRow>,
        carry: Option<Signed>,
        shared: bool,
    },
    /// A signature of ours for this item whose time is past.
    Expired,
    /// Not there, not ready, or not for this request (all answered alike).
    Hidden,
}

/// Whether the on-demand copy of the item addressed by `id` (its public id; or its integer
/// id, for the owner's side only) plays for a request with `query`. `viewer` is asked
/// only when it matters: who is logged in, if anyone.
pub async fn playback(
    state: &AppState,
    id: &str,
    query: &str,
    viewer: impl AsyncFnOnce() -> Option<Caller>,
) -> Result<Playback> {
    let by_public_id = media::is_public_id(id);
    let item = if by_public_id {
        media::by_public_id(&state.db, id).await?
    } else {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => media::any_by_id(&state.db, n).await?,
            _ => None,
        }
    };
    let Some(item) = item.filter(|m| m.vod_status.as_deref() == Some("ready")) else {
        return Ok(Playback::Hidden);
    };
    if by_public_id && item.visibility != Visibility::Private {
        return Ok(Playback::Play {
            item: Box::new(item),
            carry: None,
            shared: true,
        });
    }
    // A signature counts only on the public id it was made for.
    let signature = Signed::from_query(query).filter(|_| by_public_id);
    let mut expired = false;
    if let Some(s) = signature {
        let key = state.vod_keys.get(&state.db).await?;
        match signed::check(key, &item.public_id, &s, crate::db::now()) {
            signed::Check::Valid => {
                return Ok(Playback::Play {
                    item: Box::new(item),
                    carry: Some(s),
                    shared: false,
                });
            }
            signed::Check::Expired => expired = true,
            signed::Check::Wrong => {}
        }
    }
    if let Some(caller) = viewer().await {
        let owner = crate::db::users::by_id(state.db.pool(), item.owner_id).await?;
        if owner.is_some_and(|o| sees_user(&caller, &o)) {
            return Ok(Playback::Play {
                item: Box::new(item),
                carry: None,
                shared: false,
            });
        }
    }
    Ok(if expired {
        Playback::Expired
    } else {
        Playback::Hidden
    })
}
