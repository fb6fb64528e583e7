//! Live DJ sets recorded into the media library: the engine writes each set of a station
//! that records them (`record_sets`) to `<data>/sets/` and says when it starts and ends; a
//! recording row shows it `recording`, then the file joins the customer's library (folder
//! `Live sets`, named after the DJ and the time) and the row is `done` with its media id.
//! A set a server stop cut short is filed at the next start with what was written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidecast_engine::live_sets::{SetEvent, SetInfo, SetSink};
use tokio::sync::mpsc;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::db::recordings;
use crate::db::services;
use crate::media::store::{self, Upload};

/// The media folder sets land in.
pub const FOLDER: &str = "Live sets";

/// The engine's side: events queued for [`run`].
#[derive(Debug)]
pub struct Sink(mpsc::UnboundedSender<SetEvent>);

impl SetSink for Sink {
    fn set_event(&self, event: SetEvent) {
        let _ = self.0.send(event);
    }
}

/// The sink to give the engine and the queue [`run`] drains.
pub fn channel() -> (Arc<Sink>, mpsc::UnboundedReceiver<SetEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Sink(tx)), rx)
}

/// Where the engine writes sets.
pub fn folder(data: &Path) -> PathBuf {
    data.join("sets")
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Files the engine's sets as their events come.
pub async fn run(
    state: AppState,
    mut rx: mpsc::UnboundedReceiver<SetEvent>,
    stop: CancellationToken,
) {
    // Engine set id → recording row.
    let mut rows: std::collections::HashMap<tidecast_engine::ids::SetId, i64> =
        std::collections::HashMap::new();
    loop {
        // At shutdown (the engine has stopped by then) the events already sent are still
        // written: the sets it finished are kept.
        let event = tokio::select! {
            e = rx.recv() => e,
            () = stop.cancelled() => rx.try_recv().ok(),
        };
        let Some(event) = event else { break };
        match event {
            SetEvent::Started(set) => match started(&state, &set).await {
                Ok(rid) => {
                    rows.insert(set.id, rid);
                }
                Err(e) => {
                    tracing::error!(service = set.service_id.0, "cannot note a live set: {e}")
                }
            },
            SetEvent::Finished { set, ended_at, .. } => {
                let Some(rid) = rows.remove(&set.id) else {
                    continue;
                };
                let _ = recordings::set_span(
                    &state.db,
                    rid,
                    unix_ms(set.started_at),
                    unix_ms(ended_at),
                )
                .await;
                let state = state.clone();
                // Importing decodes the whole file once: off this queue.
                tokio::spawn(async move {
                    file(
                        &state,
                        rid,
                        set.service_id.0,
                        &set.label,
                        set.started_at,
                        set.path,
                    )
                    .await;
                });
            }
            SetEvent::Dropped { set, why } => {
                if let Some(rid) = rows.remove(&set.id) {
                    let _ = recordings::failed(&state.db, rid, &why).await;
                }
            }
        }
    }
}

async fn started(state: &AppState, set: &SetInfo) -> sqlx::Result<i64> {
    let at = unix_ms(set.started_at);
    let relative = set
        .path
        .strip_prefix(state.data_dir.as_path())
        .unwrap_or(&set.path)
        .to_string_lossy()
        .into_owned();
    recordings::insert(
        &state.db,
        set.service_id.0,
        "live_set",
        (at, at),
        "recording",
        &set.label,
        Some(&relative),
    )
    .await
}

/// Moves a finished set's file into the library and marks its row.
async fn file(
    state: &AppState,
    rid: i64,
    service_id: i64,
    label: &str,
    started_at: std::time::SystemTime,
    path: PathBuf,
) {
    let outcome = import(state, service_id, label, started_at, path).await;
    let saved = match outcome {
        Ok(media_id) => recordings::done(&state.db, rid, media_id).await,
        Err(why) => {
            tracing::warn!(
                service = service_id,
                recording = rid,
                "live set not kept: {why}"
            );
            recordings::failed(&state.db, rid, &why).await
        }
    };
    if let Err(e) = saved {
        tracing::error!(recording = rid, "cannot save the live set's outcome: {e}");
    }
}

async fn import(
    state: &AppState,
    service_id: i64,
    label: &str,
    started_at: std::time::SystemTime,
    path: PathBuf,
) -> Result<i64, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("mp3")
        .to_owned();
    // Removed when dropped, whatever happens below, unless the library keeps it.
    let mut upload = Upload::adopt(path);
    let service = services::by_id(state.db.pool(), service_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the station was deleted")?;
    let sha = upload
        .hash_written()
        .await
        .map_err(|e| format!("the recorded file could not be read: {e}"))?;
    let quota = u64::try_from(service.limits.disk_quota_mb).unwrap_or(0) * 1024 * 1024;
    let used = crate::db::media::bytes_used(state.db.pool(), service.owner_id)
        .await
        .map_err(|e| e.to_string())?;
    let used = u64::try_from(used).unwrap_or(0);
    if used + upload.size > quota {
        return Err(format!(
            "the set ({:.1} MB) does not fit in the library ({:.1} MB used of {:.0} MB)",
            upload.size as f64 / 1048576.0,
            used as f64 / 1048576.0,
            quota as f64 / 1048576.0
        ));
    }
    let at = chrono::DateTime::<chrono::Utc>::from(started_at).format("%Y-%m-%d %H-%M");
    let filename = store::display_name(&format!("{label} {at} UTC.{ext}"));
    // A DJ's set is the station's until its owner shares it.
    let origin = crate::domain::media::Origin {
        folder: FOLDER,
        filename: &filename,
        visibility: crate::model::media::Visibility::Private,
    };
    let (row, _) = crate::domain::media::import(state, &service, origin, &sha, upload)
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.id)
}

/// Files the sets a server stop cut short (with what was written), at start.
pub async fn resume(state: &AppState) {
    for r in recordings::unfinished(&state.db, "live_set").await {
        let path = r.file.as_deref().map(|f| state.data_dir.join(f));
        match path.filter(|p| p.is_file()) {
            Some(path) => {
                tracing::info!(
                    recording = r.id,
                    "a live set was cut short by the last stop: keeping what was recorded"
                );
                let at = std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(u64::try_from(r.from_ms).unwrap_or(0));
                file(state, r.id, r.service_id, &r.label, at, path).await;
            }
            None => {
                let _ = recordings::failed(
                    &state.db,
                    r.id,
                    "the server stopped during the set and nothing of it was written",
                )
                .await;
            }
        }
    }
}
