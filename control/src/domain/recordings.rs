//! Recordings: exports of a span of a video service's DVR archive into an MP4 in the
//! customer's media library (without re-encoding, with progress, run again after a stop),
//! and a radio station's choice to record its live sets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Deserialize;
use tidecast_engine::dvr::export::{self, Pinned};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::recordings::{self, Recording};
use crate::db::services::Service;
use crate::db::{media, services};
use crate::media::store::{self, Upload};
use crate::model::Kind;

use super::access::{service_of_kind, visible_service};
use super::{Error, Result, audit_now};

/// The longest span one export may take.
const MAX_SPAN_S: i64 = 24 * 3600;

/// The media folder recordings land in.
pub const FOLDER: &str = "Recordings";

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RecordingInput")]
pub struct Input {
    /// Unix seconds.
    pub from: i64,
    pub to: i64,
    /// The file's name in the library (default: the service and the time).
    pub title: Option<String>,
}

/// Starts exporting `[from, to)` of service `id`'s archive; the recording as it starts.
pub async fn export_span(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: Input,
) -> Result<(Service, Recording)> {
    let (s, _) = visible_service(state, caller, id).await?;
    if s.kind != crate::model::Kind::Video {
        return Err(Error::invalid(
            "exports are cut from a video service's DVR; a radio station records its live sets (PUT …/recordings/settings)",
        ));
    }
    if input.from < 0 || input.to <= input.from {
        return Err(Error::invalid(
            "from and to are unix seconds, from before to",
        ));
    }
    if input.to - input.from > MAX_SPAN_S {
        return Err(Error::invalid("an export is at most 24 hours"));
    }
    let title = match input.title.as_deref().map(str::trim) {
        Some("") => return Err(Error::invalid("title: empty")),
        Some(t) => store::display_name(&super::validate::text("title", t, 200)?),
        None => default_title(&s, input.from),
    };
    let span = (input.from * 1000, input.to * 1000);
    let (upload, pinned) = pin(state, &s, span).await?.ok_or_else(|| {
        Error::NotArchived(
            "nothing is archived in that span (outside the DVR window, or the stream was off)"
                .into(),
        )
    })?;
    // The MP4 is about the size of the segments it copies; it must fit the quota.
    let quota = super::media::quota_bytes(&s);
    let used = u64::try_from(media::bytes_used(state.db.pool(), s.owner_id).await?).unwrap_or(0);
    if used + pinned.bytes > quota {
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        return Err(Error::OverQuota(format!(
            "the recording (about {:.1} MB) does not fit in the library ({:.1} MB used of {:.0} MB)",
            mb(pinned.bytes),
            mb(used),
            mb(quota)
        )));
    }
    let rid =
        recordings::insert(&state.db, s.id, "export", span, "exporting", &title, None).await?;
    audit_now(
        state,
        caller,
        "recording.export",
        &format!("service {} ({}) recording {rid}: {title}", s.id, s.slug),
    )
    .await?;
    let row = recordings::by_id(&state.db, s.id, rid)
        .await?
        .ok_or_else(|| Error::NotFound("recording"))?;
    tokio::spawn(run(state.clone(), s.clone(), rid, title, upload, pinned));
    Ok((s, row))
}

fn default_title(s: &Service, from: i64) -> String {
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp(from, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H-%M-%S");
    store::display_name(&format!("{} {at} UTC", s.name))
}

/// Pins the span's segments and makes the file the MP4 goes to; `None` if the archive holds
/// nothing there.
async fn pin(state: &AppState, s: &Service, span: (i64, i64)) -> Result<Option<(Upload, Pinned)>> {
    let dvr = state
        .engine
        .dvr()
        .cloned()
        .ok_or_else(|| Error::conflict("this server keeps no DVR archives"))?;
    if state.engine.transcoder().is_none() {
        return Err(Error::conflict(
            "this server runs without a transcoder: recordings cannot be exported",
        ));
    }
    let Some(archive) = super::dvr::best_archive(&dvr, s, span.0, span.1) else {
        return Ok(None);
    };
    let mut upload = Upload::create(&state.data_dir)
        .await
        .map_err(Error::internal)?;
    upload.release();
    let dir = dvr
        .exports_dir()
        .join(crate::auth::secret::random_b64(12).replace(['/', '+'], "_"));
    let output = upload.path().to_owned();
    let pinned =
        tokio::task::spawn_blocking(move || export::pin(&archive, span.0, span.1, &dir, output))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
    Ok(pinned.map(|p| (upload, p)))
}

/// Runs an export to its end: remux, then import into the library.
async fn run(state: AppState, s: Service, rid: i64, title: String, upload: Upload, pinned: Pinned) {
    let outcome = export(&state, &s, rid, &title, upload, pinned).await;
    let saved = match outcome {
        Ok(media_id) => recordings::done(&state.db, rid, media_id).await,
        Err(why) => {
            tracing::warn!(service = s.id, recording = rid, "DVR export failed: {why}");
            recordings::failed(&state.db, rid, &why).await
        }
    };
    if let Err(e) = saved {
        tracing::error!(recording = rid, "cannot save the export's outcome: {e}");
    }
}

async fn export(
    state: &AppState,
    s: &Service,
    rid: i64,
    title: &str,
    mut upload: Upload,
    pinned: Pinned,
) -> std::result::Result<i64, String> {
    let transcoder = state
        .engine
        .transcoder()
        .cloned()
        .ok_or("this server runs without a transcoder")?;
    let _ = recordings::set_span(&state.db, rid, pinned.start_ms, pinned.end_ms).await;
    let progress = Arc::new(AtomicU32::new(0));
    let shared = Arc::clone(&progress);
    let started = std::time::Instant::now();
    let media_s = pinned.job.duration_s;
    let mut work = tokio::task::spawn_blocking(move || {
        let report = transcoder.remux(&pinned.job, &mut |p| {
            shared.store((p * 1000.0) as u32, Ordering::Relaxed);
        });
        drop(pinned);
        report
    });
    // Progress reaches the database once a second while the remux runs.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut saved = 0;
    let report = loop {
        tokio::select! {
            done = &mut work => break done,
            _ = tick.tick() => {
                // Importing (hashing, inspecting) is the last stretch: the remux shows as 95%.
                let now = i64::from(progress.load(Ordering::Relaxed)) * 95 / 100;
                if now != saved {
                    saved = now;
                    let _ = recordings::set_progress(&state.db, rid, now).await;
                }
            }
        }
    };
    let report = report
        .map_err(|e| format!("the export stopped: {e}"))?
        .map_err(|e| format!("the archive could not be copied: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let sha = upload
        .hash_written()
        .await
        .map_err(|e| format!("the MP4 could not be read back: {e}"))?;
    tracing::info!(
        service = s.id,
        recording = rid,
        "exported {:.1} s of the archive ({:.1} MB) in {secs:.1} s ({:.0}× real time)",
        report.duration_s,
        upload.size as f64 / 1e6,
        media_s / secs.max(0.001)
    );
    let filename = format!("{title}.mp4");
    // An export of the archive is the owner's until the owner shares it.
    let origin = crate::domain::media::Origin {
        folder: FOLDER,
        filename: &filename,
        visibility: crate::model::media::Visibility::Private,
    };
    let (row, _) = crate::domain::media::import(state, s, origin, &sha, upload)
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.id)
}

/// Starts again the exports a server stop interrupted (their pinned segments and partial
/// files were swept at start); one whose span has left the archive fails, saying so.
pub async fn resume(state: &AppState) {
    for r in recordings::unfinished(&state.db, "export").await {
        let service = match services::by_id(state.db.pool(), r.service_id).await {
            Ok(Some(s)) => s,
            _ => continue,
        };
        match pin(state, &service, (r.from_ms, r.to_ms)).await {
            Ok(Some((upload, pinned))) => {
                tracing::info!(
                    recording = r.id,
                    "export interrupted by the last stop: running it again"
                );
                tokio::spawn(run(state.clone(), service, r.id, r.label, upload, pinned));
            }
            Ok(None) => {
                let _ = recordings::failed(
                    &state.db,
                    r.id,
                    "the server stopped during the export, and the span has left the DVR window since",
                )
                .await;
            }
            Err(e) => {
                let _ = recordings::failed(&state.db, r.id, &e.to_string()).await;
            }
        }
    }
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RecordingSettingsInput")]
pub struct SettingsInput {
    pub record_sets: bool,
}

pub async fn station(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    let why = "recording live sets is for radio stations; a video service exports from its DVR";
    service_of_kind(state, caller, id, Kind::Radio, why).await
}

/// Turns recording a station's live sets on or off (from the next source that connects).
pub async fn set_record_sets(
    state: &AppState,
    caller: &Caller,
    id: i64,
    input: SettingsInput,
) -> Result<()> {
    let s = station(state, caller, id).await?;
    services::set_record_sets(&state.db, s.id, input.record_sets).await?;
    audit_now(
        state,
        caller,
        "service.record_sets",
        &format!("service {} ({}): {}", s.id, s.slug, input.record_sets),
    )
    .await?;
    tracing::info!(
        service = s.id,
        "live sets {} (from the next source that connects)",
        if input.record_sets {
            "recorded"
        } else {
            "no longer recorded"
        }
    );
    Ok(())
}
