//! Live sets recorded: while a live source (a DJ, the station's own encoder) is on air on a
//! station that records its sets, a task follows the mount like an uncounted listener and
//! writes what listeners hear from that source to a file, as it is sent (MP3 stays MP3,
//! ADTS AAC stays AAC, Ogg keeps its headers): no re-encode, cut on frame boundaries (the
//! mount's sources are framed). The set ends when its source disconnects; whoever embeds
//! the engine (the control plane) is told when a set starts and ends, and files it.
//!
//! Like any listener, the recorder never holds up the mount: if it falls behind (a slow
//! disk), the chunks it missed are left out of the file and counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast::error::RecvError;

use crate::admission::ServiceId;
use crate::ids::{SetId, SourceId};
use crate::mount::Mount;

/// Sets shorter than this (a DJ checking the connection) are not kept.
pub const MIN_SET: Duration = Duration::from_secs(5);

/// A set being recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfo {
    /// Unique in this process.
    pub id: SetId,
    pub service_id: ServiceId,
    pub mount: String,
    /// Who is on air (`DJ alice`, `source`).
    pub label: String,
    /// The file it is written to.
    pub path: PathBuf,
    pub started_at: SystemTime,
}

/// What happened to a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetEvent {
    Started(SetInfo),
    /// Its source left; the file is complete.
    Finished {
        set: SetInfo,
        ended_at: SystemTime,
        /// Time on air (the file's length).
        on_air: Duration,
        bytes: u64,
    },
    /// Not kept: too short, or the file could not be written (why, in a user's words).
    Dropped {
        set: SetInfo,
        why: String,
    },
}

/// Where set events go. Called on the engine's tasks: must return at once.
pub trait SetSink: Send + Sync + 'static {
    fn set_event(&self, event: SetEvent);
}

/// Where sets are written and who is told.
#[derive(Clone)]
pub struct LiveSets {
    pub dir: PathBuf,
    pub sink: Arc<dyn SetSink>,
}

impl std::fmt::Debug for LiveSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSets").field("dir", &self.dir).finish()
    }
}

/// The file extension for a source's content type.
fn extension(content_type: &str) -> Option<&'static str> {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("mpeg") || ct.contains("mp3") {
        Some("mp3")
    } else if ct.contains("aac") {
        Some("aac")
    } else if ct.contains("ogg") || ct.contains("opus") {
        Some("ogg")
    } else {
        None
    }
}

/// Records live source `source` (named `label`) on `mount` while it is connected, into
/// `sets` (none: this server keeps no live sets).
pub fn record(
    sets: Option<&LiveSets>,
    mount: &Arc<Mount>,
    source: SourceId,
    label: &str,
    content_type: &str,
) {
    let Some(sets) = sets.cloned() else {
        return;
    };
    let Some(ext) = extension(content_type) else {
        tracing::info!(mount = %mount.name(), "live set not recorded: {content_type} is not a format sets are kept in");
        return;
    };
    let id = SetId::new();
    let started_at = SystemTime::now();
    let stamp = started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let set = SetInfo {
        id,
        service_id: mount.service_id(),
        mount: mount.name().to_owned(),
        label: label.to_owned(),
        path: sets
            .dir
            .join(format!("{}-{stamp}-{id}.{ext}", mount.service_id().0)),
        started_at,
    };
    sets.sink.set_event(SetEvent::Started(set.clone()));
    let mount = Arc::clone(mount);
    let (headers, rx) = mount.follow();
    tokio::spawn(async move {
        let outcome = write(&mount, source, &set.path, &headers, rx).await;
        let event = match outcome {
            Ok((on_air, bytes)) if on_air >= MIN_SET => {
                tracing::info!(mount = %set.mount, who = %set.label, "live set recorded: {:.0} s, {:.1} MB", on_air.as_secs_f64(), bytes as f64 / 1e6);
                SetEvent::Finished {
                    set,
                    ended_at: SystemTime::now(),
                    on_air,
                    bytes,
                }
            }
            Ok((on_air, _)) => {
                let _ = tokio::fs::remove_file(&set.path).await;
                SetEvent::Dropped {
                    why: format!(
                        "the set was {:.0} s on air; sets shorter than {} s are not kept",
                        on_air.as_secs_f64(),
                        MIN_SET.as_secs()
                    ),
                    set,
                }
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&set.path).await;
                tracing::warn!(mount = %set.mount, who = %set.label, "live set not recorded: {e}");
                SetEvent::Dropped {
                    why: format!("the file could not be written: {e}"),
                    set,
                }
            }
        };
        sets.sink.set_event(event);
    });
}

/// Writes what `source` sends while it is on air; returns its time on air and the bytes.
async fn write(
    mount: &Mount,
    source: SourceId,
    path: &Path,
    headers: &[bytes::Bytes],
    mut rx: tokio::sync::broadcast::Receiver<bytes::Bytes>,
) -> std::io::Result<(Duration, u64)> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(path).await?);
    for h in headers {
        file.write_all(h).await?;
    }
    let mut changes = mount.on_air_watch();
    let mut bytes = 0u64;
    let mut on_air = Duration::ZERO;
    let mut since: Option<std::time::Instant> = None;
    let mut missed = 0u64;
    loop {
        let chunk = tokio::select! {
            got = rx.recv() => match got {
                Ok(c) => c,
                Err(RecvError::Lagged(n)) => {
                    missed += n;
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
            changed = changes.changed() => {
                if changed.is_err() || !mount.has_source_id(source) {
                    break;
                }
                continue;
            }
        };
        if !mount.has_source_id(source) {
            break;
        }
        let live = mount.is_on_air(source);
        match (live, since) {
            (true, None) => since = Some(std::time::Instant::now()),
            (false, Some(t)) => {
                on_air += t.elapsed();
                since = None;
            }
            _ => {}
        }
        if live {
            file.write_all(&chunk).await?;
            bytes += chunk.len() as u64;
        }
    }
    if let Some(t) = since {
        on_air += t.elapsed();
    }
    file.flush().await?;
    file.get_ref().sync_all().await?;
    if missed > 0 {
        tracing::warn!(mount = %mount.name(), "live set: {missed} chunk(s) left out (the disk did not keep up)");
    }
    Ok((on_air, bytes))
}
