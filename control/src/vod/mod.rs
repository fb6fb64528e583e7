//! On-demand video: every video in a media library is transcoded, one at a time in the
//! background, into an HLS ladder under `<data>/vod/<media id>/` and served at
//! `/hls/vod/<public id>/index.m3u8` to whom its visibility allows (`signed`: the URLs
//! that let anyone play a private one for a while).
//!
//! The queue is the `media` table itself (`vod_status`), so nothing queued is lost to a
//! stop: a transcode the stop cut short starts again at the next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

pub mod signed;

/// Wakes the worker when a video joins the queue; stops the one it is on when deleted.
#[derive(Debug, Default)]
pub struct Queue {
    wake: Notify,
    /// The video being transcoded and its stop flag.
    current: std::sync::Mutex<Option<(i64, Arc<AtomicBool>)>>,
}

impl Queue {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A video was queued: the worker looks (now, or when it finishes the one it is on).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for the next [`Queue::wake`].
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Stops the transcode of video `id` if it is the one running.
    pub fn cancel(&self, id: i64) {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((running, stop)) = current.as_ref()
            && *running == id
        {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// The worker starts on video `id`: the flag `cancel` sets.
    pub fn started(&self, id: i64) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, Arc::clone(&stop)));
        stop
    }
}

/// Where the ladders live.
pub fn root(data: &Path) -> PathBuf {
    data.join("vod")
}

/// Where the ladder of video `id` lives once made.
pub fn dir(data: &Path, id: i64) -> PathBuf {
    root(data).join(id.to_string())
}

/// Removes what a stop left half-made (ladders being written) and the ladders of videos
/// that are gone.
pub fn sweep(data: &Path) {
    let Ok(entries) = std::fs::read_dir(root(data)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".partial") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Removes the ladder of a deleted video.
pub async fn remove(data: &Path, id: i64) {
    let dir = dir(data, id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(media = id, "the on-demand copy could not be removed: {e}");
    }
}
