//! `/api/v1/services/{id}/media`: the customer's media library (shared by its services).
//!
//! `POST` (multipart, one or more `file` parts, optional `folder` part or `?folder=`)
//! streams each file to disk while hashing it, never holding it in memory, and stops the
//! moment the library would go over the service's `disk_quota_mb` (413). Each file is then
//! inspected (tags, cover art, duration, loudness, cue points); a file that cannot be decoded
//! is refused with a 422 naming it. The request is all or nothing: on any refusal, files
//! already imported by it are taken out again. A file already in the library (same SHA-256)
//! is not stored twice: the existing item comes back with `"duplicate": true`.
//!
//! Videos get an on-demand copy, addressed by the item's `public_id`; an upload is
//! `unlisted` unless `?visibility=` says otherwise (see `model::media::Visibility`), and
//! `…/signed-url` hands out an expiring URL that plays it whatever its visibility.

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Caller;
use crate::db::audit;
use crate::db::media::MediaRow;
use crate::db::services::Service;
use crate::domain::media::{self, MediaPatch, Origin, Reservation, import, over_quota};
use crate::media::store::{self, Upload};
use crate::model::media::Visibility;

use super::error::{ApiError, ApiResult};
use super::extract::{List, Page, PathId, PathIds};
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::time::rfc3339;

/// No single file may be larger than this, whatever the quota.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Files per request.
const MAX_FILES: usize = 100;
/// A `folder` part longer than this is refused before it is read further.
const MAX_FOLDER_BYTES: usize = 1024;

#[derive(Debug, Serialize)]
pub struct MediaView {
    id: i64,
    /// The id in its player and HLS URLs (unguessable; the integer id is not a URL).
    public_id: String,
    /// Who may play its on-demand copy: `public`, `unlisted` or `private`.
    visibility: Visibility,
    filename: String,
    folder: String,
    kind: String,
    title: String,
    artist: String,
    album: String,
    duration_s: f64,
    bitrate_kbps: Option<i64>,
    size_bytes: i64,
    /// Integrated loudness (EBU R128), if the file has sound.
    loudness_lufs: Option<f64>,
    cue_in_s: f64,
    cue_out_s: f64,
    has_cover: bool,
    /// A video's on-demand copy (an HLS ladder), made in the background after upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    vod: Option<VodView>,
    /// `ready`: imported, playable.
    status: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
    created_at: String,
}

/// Where a video's on-demand copy is.
#[derive(Debug, Serialize)]
pub struct VodView {
    /// `queued`, `transcoding`, `ready` or `failed`.
    status: String,
    /// 0 ..= 1 while transcoding.
    progress: f64,
    /// Why it failed, in the user's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Its master playlist (served once `ready`, to whom `visibility` allows).
    hls_path: String,
    /// Its player page.
    player_path: String,
}

fn view(m: &MediaRow, duplicate: bool) -> MediaView {
    MediaView {
        id: m.id,
        public_id: m.public_id.clone(),
        visibility: m.visibility,
        filename: m.filename.clone(),
        folder: m.folder.clone(),
        kind: m.kind.clone(),
        title: m.title.clone(),
        artist: m.artist.clone(),
        album: m.album.clone(),
        duration_s: m.duration_ms as f64 / 1000.0,
        bitrate_kbps: m.bitrate_kbps,
        size_bytes: m.size_bytes,
        loudness_lufs: m.loudness_mlufs.map(|l| l as f64 / 1000.0),
        cue_in_s: m.cue_in_ms as f64 / 1000.0,
        cue_out_s: m.cue_out_ms as f64 / 1000.0,
        has_cover: m.cover_path.is_some(),
        vod: m.vod_status.as_ref().map(|status| VodView {
            status: status.clone(),
            progress: m.vod_progress_permille as f64 / 1000.0,
            error: m.vod_error.clone(),
            hls_path: format!("/hls/vod/{}/index.m3u8", m.public_id),
            player_path: format!("/player/vod/{}", m.public_id),
        }),
        status: "ready",
        duplicate,
        created_at: rfc3339(m.created_at),
    }
}

/// What one request imported so far (taken out again if a later file is refused).
struct Imported<'a> {
    state: &'a AppState,
    owner: i64,
    added: Vec<MediaRow>,
    items: Vec<MediaView>,
    done: bool,
}

impl Imported<'_> {
    async fn undo(&mut self) {
        let added = std::mem::take(&mut self.added);
        media::take_back(self.state, self.owner, added).await;
    }
}

impl Drop for Imported<'_> {
    fn drop(&mut self) {
        if !self.done && !self.added.is_empty() {
            // The client went away mid-request: the files it did send stay (they are whole
            // and recorded), and the log says so.
            tracing::info!(
                owner = self.owner,
                "upload interrupted after {} file(s) were imported",
                self.added.len()
            );
        }
    }
}

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    uri: axum::http::Uri,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<List<MediaView>>)> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let mut folder = query_folder(&uri)?;
    let visibility = query_visibility(&uri)?;
    let mut imported = Imported {
        state: &state,
        owner: service.owner_id,
        added: Vec::new(),
        items: Vec::new(),
        done: false,
    };
    let result = receive(
        &state,
        &service,
        &mut multipart,
        (&mut folder, visibility),
        &mut imported,
    )
    .await;
    if let Err(e) = result {
        imported.undo().await;
        imported.done = true;
        drain(&mut multipart).await;
        return Err(e);
    }
    imported.done = true;
    if imported.items.is_empty() {
        return Err(ApiError::invalid(
            "no files: send one or more multipart parts named \"file\"",
        ));
    }
    let names: Vec<String> = imported.items.iter().map(|i| i.filename.clone()).collect();
    audit(
        state.db.pool(),
        Some(caller.id()),
        "media.upload",
        &format!(
            "{} file(s) for user {}: {}",
            names.len(),
            service.owner_id,
            names.join(", ")
        ),
    )
    .await?;
    let items = std::mem::take(&mut imported.items);
    let total = items.len() as i64;
    Ok((StatusCode::CREATED, Json(List { items, total })))
}

/// Reads (and discards) what the client is still sending after a refusal, up to a limit:
/// a client that is still writing its body when the answer comes and the connection closes
/// gets a reset instead of the answer (browsers and curl show "connection reset", not the
/// reason).
async fn drain(multipart: &mut Multipart) {
    const DRAIN_BYTES: usize = 64 * 1024 * 1024;
    const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                left = left.saturating_sub(chunk.len());
                if left == 0 {
                    return;
                }
            }
        }
    })
    .await;
}

fn query_folder(uri: &axum::http::Uri) -> ApiResult<String> {
    let query = uri.query().unwrap_or_default();
    let given = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "folder")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    store::clean_folder(&given).map_err(ApiError::invalid)
}

/// `?visibility=` of an upload; unlisted when not given.
fn query_visibility(uri: &axum::http::Uri) -> ApiResult<Visibility> {
    let query = uri.query().unwrap_or_default();
    match url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "visibility") {
        None => Ok(Visibility::default()),
        Some((_, v)) => Visibility::parse(&v).ok_or_else(|| {
            ApiError::invalid(format!(
                "visibility {v:?}: one of \"public\", \"unlisted\", \"private\""
            ))
        }),
    }
}

async fn receive(
    state: &AppState,
    service: &Service,
    multipart: &mut Multipart,
    (folder, visibility): (&mut String, Visibility),
    imported: &mut Imported<'_>,
) -> ApiResult<()> {
    let quota = media::quota_bytes(service);
    let mut files = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_multipart)? {
        match field.name() {
            Some("folder") => {
                // Read with a cap: a field's size is whatever the client sends.
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > MAX_FOLDER_BYTES {
                        return Err(ApiError::invalid("folder: at most 200 characters"));
                    }
                }
                let text = String::from_utf8(text)
                    .map_err(|_| ApiError::invalid("folder: not UTF-8 text"))?;
                *folder = store::clean_folder(&text).map_err(ApiError::invalid)?;
                continue;
            }
            Some("file") => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "unexpected part {:?}: send files as parts named \"file\"",
                    other.unwrap_or("")
                )));
            }
        }
        files += 1;
        if files > MAX_FILES {
            return Err(ApiError::invalid(format!(
                "at most {MAX_FILES} files per upload"
            )));
        }
        let filename = store::display_name(field.file_name().unwrap_or("upload"));
        let used =
            u64::try_from(crate::db::media::bytes_used(state.db.pool(), service.owner_id).await?)
                .unwrap_or(0);
        let mut upload = Upload::create(&state.data_dir).await?;
        // Bytes of uploads in progress count too, so parallel uploads cannot each fill the
        // same free space.
        let mut held = Reservation::new(service.owner_id);
        while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
            let n = chunk.len() as u64;
            if upload.size + n > MAX_FILE_BYTES || !held.grow(n, used, quota) {
                return Err(over_quota(&filename, used, quota).into());
            }
            upload.write(&chunk).await?;
        }
        if upload.size == 0 {
            return Err(ApiError::invalid(format!("{filename}: the file is empty")));
        }
        let sha = upload.finish().await?;
        let origin = Origin {
            folder,
            filename: &filename,
            visibility,
        };
        let (row, duplicate) = import(state, service, origin, &sha, upload).await?;
        if duplicate {
            imported.items.push(view(&row, true));
            continue;
        }
        tracing::info!(owner = service.owner_id, media = row.id, kind = %row.kind, "imported {filename:?} ({:.1} s)", row.duration_ms as f64 / 1000.0);
        imported.items.push(view(&row, false));
        imported.added.push(row);
    }
    Ok(())
}

fn bad_multipart(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad_request(
        "invalid_upload",
        format!("the upload is not valid multipart: {e}"),
    )
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    page: Page,
    uri: axum::http::Uri,
) -> ApiResult<Json<List<MediaView>>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let has_folder = uri
        .query()
        .is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "folder"));
    let folder = if has_folder {
        Some(query_folder(&uri)?)
    } else {
        None
    };
    let (rows, total) = crate::db::media::list(
        &state.db,
        service.owner_id,
        folder.as_deref(),
        page.limit,
        page.offset,
    )
    .await?;
    Ok(Json(List {
        items: rows.iter().map(|m| view(m, false)).collect(),
        total,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
) -> ApiResult<Json<MediaView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let m = crate::db::media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("media item"))?;
    Ok(Json(view(&m, false)))
}

/// `PATCH …/media/{mid}`: the fields a customer may edit.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
    super::extract::ApiJson(input): super::extract::ApiJson<MediaPatch>,
) -> ApiResult<Json<MediaView>> {
    let m = media::patch(&state, &caller, id, mid, input).await?;
    Ok(Json(view(&m, false)))
}

/// The item's cover art (from its tags).
pub async fn cover(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
) -> ApiResult<Response> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let m = crate::db::media::by_id(&state.db, service.owner_id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("media item"))?;
    let path = m
        .cover_path
        .ok_or_else(|| ApiError::not_found("cover art"))?;
    cover_file(&state, &path).await
}

/// A stored cover picture (`path` relative to the data folder) as an image response.
pub async fn cover_file(state: &AppState, path: &str) -> ApiResult<Response> {
    let bytes = tokio::fs::read(state.data_dir.join(path))
        .await
        .map_err(|_| ApiError::not_found("cover art"))?;
    let mime = if path.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    Ok(([(header::CONTENT_TYPE, mime)], Body::from(bytes)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
) -> ApiResult<StatusCode> {
    media::delete(&state, &caller, id, mid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A URL that plays an item whatever its visibility, until `expires_at`.
#[derive(Debug, Serialize)]
pub struct SignedUrlView {
    /// The master playlist, signed (players pass the signature on by themselves).
    url: String,
    /// The player page, signed.
    player_url: String,
    expires_at: String,
}

/// `GET|POST …/media/{mid}/signed-url?ttl=<seconds>` (default an hour, at most a week).
pub async fn signed_url(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult<Json<SignedUrlView>> {
    let query = uri.query().unwrap_or_default();
    let ttl = match url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "ttl") {
        None => None,
        Some((_, v)) => Some(
            // Malformed like any other integer query parameter (`extract::Page`): 400;
            // a number out of range is the domain's 422.
            v.parse::<i64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("ttl={v:?} must be a number of seconds"),
                )
            })?,
        ),
    };
    let link = media::signed_link(&state, &caller, id, mid, ttl).await?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let base = state.links.http_base(host);
    let (pid, q) = (&link.public_id, link.signed.query());
    Ok(Json(SignedUrlView {
        url: format!("{base}/hls/vod/{pid}/index.m3u8?{q}"),
        player_url: format!("{base}/player/vod/{pid}?{q}"),
        expires_at: rfc3339(link.signed.expires),
    }))
}
