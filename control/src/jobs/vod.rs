//! The VOD worker: takes queued videos one at a time (a transcode uses every core; two at
//! once would each take twice as long) on a thread of lower priority than live work, so
//! live transcoding and delivery keep the CPU they need.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tidecast_engine::transcode::{VodJob, VodReport};

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::db::vod::{self, Queued};
use crate::model::Stored;
use crate::model::ladder::{Rendition, default_rungs};

/// Segment length of on-demand ladders: Apple's recommendation for VOD.
const SEGMENT_SECS: u32 = 4;
/// How much nicer than the server the transcoding thread (and FFmpeg's threads it starts) is.
const NICENESS: i32 = 10;

/// Runs the queue for as long as the server does.
pub async fn run(state: AppState, stop: CancellationToken) {
    match vod::requeue_interrupted(&state.db).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!("{n} on-demand transcode(s) cut short by the last stop: queued again")
        }
        Err(e) => tracing::error!("cannot requeue on-demand transcodes: {e}"),
    }
    while !stop.is_cancelled() {
        match vod::take_next(&state.db).await {
            Ok(Some(job)) => {
                let id = job.id;
                tokio::select! {
                    () = transcode(&state, job) => {}
                    () = stop.cancelled() => {
                        // Left "transcoding": queued again at the next start.
                        state.vod.cancel(id);
                        tracing::info!(media = id, "on-demand transcode stopped by the shutdown");
                    }
                }
            }
            Ok(None) => tokio::select! {
                () = state.vod.woken() => {}
                () = stop.cancelled() => {}
            },
            Err(e) => {
                tracing::error!("cannot read the on-demand queue: {e}");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    () = stop.cancelled() => {}
                }
            }
        }
    }
}

async fn transcode(state: &AppState, job: Queued) {
    let id = job.id;
    let started = Instant::now();
    let outcome = make_ladder(state, &job).await;
    crate::memory::release();
    let saved = match outcome {
        Ok((report, bytes)) => {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                media = id,
                owner = job.owner_id,
                "on-demand copy of {:?} ready: {} rendition(s), {:.0} s of video in {secs:.0} s \
                 ({:.1}× real time), {:.1} MB",
                job.filename,
                report.renditions.len(),
                report.duration_s,
                report.duration_s / secs.max(0.001),
                bytes as f64 / 1e6
            );
            match vod::ready(&state.db, id, i64::try_from(bytes).unwrap_or(i64::MAX)).await {
                // Deleted while it was being transcoded.
                Ok(false) => {
                    crate::vod::remove(&state.data_dir, id).await;
                    Ok(())
                }
                Ok(true) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(why) => {
            tracing::warn!(
                media = id,
                owner = job.owner_id,
                "{:?}: {why}",
                job.filename
            );
            vod::failed(&state.db, id, &why).await
        }
    };
    if let Err(e) = saved {
        tracing::error!(
            media = id,
            "cannot save the on-demand transcode's outcome: {e}"
        );
    }
}

/// Transcodes into `<id>.partial`, then puts the finished ladder in place: a stop midway
/// leaves only a partial folder, swept at the next start.
async fn make_ladder(state: &AppState, job: &Queued) -> Result<(VodReport, u64), String> {
    let transcoder = state
        .engine
        .transcoder()
        .cloned()
        .ok_or("this server runs without a transcoder (FFmpeg's libraries are missing)")?;
    let root = crate::vod::root(&state.data_dir);
    let partial = root.join(format!("{}.partial", job.id));
    let _ = tokio::fs::remove_dir_all(&partial).await;
    tokio::fs::create_dir_all(&partial)
        .await
        .map_err(|e| format!("the on-demand folder cannot be made: {e}"))?;
    let rungs: Vec<Rendition> = match &job.rungs {
        Stored::Set(rungs) => rungs.clone(),
        Stored::Unset => default_rungs(),
        // Said in the video's status rather than made with rungs nobody chose.
        Stored::Undecodable(problem) => return Err(problem.to_string()),
    };
    let vod_job = VodJob {
        input: state.data_dir.join(&job.path),
        output_dir: partial.clone(),
        renditions: rungs.iter().map(crate::domain::ladder::spec_of).collect(),
        segment_secs: SEGMENT_SECS,
        cancel: state.vod.started(job.id),
    };
    let progress = Arc::new(AtomicU32::new(0));
    let shared = Arc::clone(&progress);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    // Its own thread rather than the blocking pool: the lowered priority stays with it.
    std::thread::Builder::new()
        .name(format!("vod-{}", job.id))
        .spawn(move || {
            lower_priority();
            let report = transcoder.vod(&vod_job, &mut |p| {
                shared.store((p * 1000.0) as u32, Ordering::Relaxed);
            });
            let _ = tx.send(report);
        })
        .map_err(|e| format!("no thread for the transcode: {e}"))?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut saved = 0;
    let report = loop {
        tokio::select! {
            done = &mut rx => break done,
            _ = tick.tick() => {
                let now = i64::from(progress.load(Ordering::Relaxed));
                if now != saved {
                    saved = now;
                    let _ = vod::set_progress(&state.db, job.id, now).await;
                }
            }
        }
    };
    let result = match report {
        Ok(Ok(report)) => finish(&partial, &crate::vod::dir(&state.data_dir, job.id))
            .await
            .map(|bytes| (report, bytes))
            .map_err(|e| format!("the on-demand copy could not be saved: {e}")),
        Ok(Err(e)) => Err(format!("this video could not be transcoded: {e}")),
        Err(_) => Err("the transcode stopped unexpectedly".to_owned()),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_dir_all(&partial).await;
    }
    result
}

/// Moves the finished ladder (the transcoder wrote every playlist) into place; its size on
/// disk.
async fn finish(partial: &Path, dir: &Path) -> std::io::Result<u64> {
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::rename(partial, dir).await?;
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || size_of(&dir))
        .await
        .map_err(std::io::Error::other)
}

fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => total += size_of(&e.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

/// Makes the calling thread (and the threads it starts, which inherit it) nicer.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; on Linux the nice
    // value belongs to the thread named, here the calling one.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICENESS) != 0 {
            tracing::debug!("the transcoding thread keeps its priority");
        }
    }
}
