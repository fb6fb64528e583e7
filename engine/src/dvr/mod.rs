//! nDVR: every segment of a stream kept on disk for a window of time, findable by time, and
//! intact across crashes.
//!
//! Each archive is a folder `<root>/<service id>/<stream>/` with the segment files and their
//! [`index`]. While a stream publishes, a [`Recorder`] hands each finished segment to the
//! archive's writer thread over a bounded queue: the live path never waits for the disk (a
//! full queue drops the segment from the archive, with a log line and a count). Playback
//! reads the index under a read lock.

pub mod index;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::admission::ServiceId;
use index::{Entry, Index};

/// Segments that may wait for the disk before the archive starts dropping them.
const QUEUE: usize = 64;

/// One archive: its index, and whether a recorder writes to it now.
#[derive(Debug)]
pub struct Archive {
    pub index: RwLock<Index>,
    recording: AtomicBool,
    /// Segments the archive missed because the disk did not keep up (or failed).
    pub dropped: AtomicU64,
}

impl Archive {
    /// Whether a publisher is being recorded into it now (its playlist is live).
    pub fn is_recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    pub fn dir(&self) -> PathBuf {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .dir()
            .to_owned()
    }
}

/// The DVR archives of this server, under one root folder.
#[derive(Debug)]
pub struct Dvr {
    root: PathBuf,
    archives: Mutex<HashMap<PathBuf, Arc<Archive>>>,
}

/// A finished segment for the archive.
#[derive(Debug)]
pub struct Record {
    pub started_at: SystemTime,
    pub duration: f64,
    pub discontinuity: bool,
    pub data: Bytes,
    /// fMP4: the init segment this segment starts using.
    pub init: Option<Bytes>,
    /// `ts` or `m4s`.
    pub ext: &'static str,
}

/// Hands a publishing stream's segments to its archive; dropping it ends the recording.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::SyncSender<Record>,
    archive: Arc<Archive>,
}

impl Recorder {
    /// Queues a segment for the archive; never waits.
    pub fn record(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            let n = self.archive.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(archive = %self.archive.dir().display(), "DVR: the disk is not keeping up; {n} segment(s) left out of the archive (live is not affected)");
            }
        }
    }
}

impl Dvr {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            archives: Mutex::default(),
        }
    }

    /// The folder of a stream's archive (`<slug>` or `<slug>/<rendition>`).
    pub fn folder(&self, service: ServiceId, stream: &str) -> PathBuf {
        let safe: String = stream
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join(service.0.to_string()).join(safe)
    }

    /// A stream's archive, opened (and repaired) from disk the first time.
    pub fn archive(&self, service: ServiceId, stream: &str) -> std::io::Result<Arc<Archive>> {
        let dir = self.folder(service, stream);
        let mut map = self.archives.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = map.get(&dir) {
            return Ok(Arc::clone(a));
        }
        let (index, repairs) = Index::open(&dir)?;
        if repairs != index::Repairs::default() {
            tracing::warn!(archive = %dir.display(), "DVR archive repaired after an unclean stop: {} torn index line(s), {} missing file(s), {} unfinished segment(s) removed", repairs.bad_lines, repairs.missing_files, repairs.orphans_deleted);
        }
        let archive = Arc::new(Archive {
            index: RwLock::new(index),
            recording: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        map.insert(dir, Arc::clone(&archive));
        Ok(archive)
    }

    /// Starts recording a stream into its archive, keeping `window` of it.
    pub fn recorder(
        &self,
        service: ServiceId,
        stream: &str,
        window: Duration,
    ) -> std::io::Result<Recorder> {
        let archive = self.archive(service, stream)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        archive.recording.store(true, Ordering::Relaxed);
        let writer = Arc::clone(&archive);
        std::thread::Builder::new()
            .name("dvr-writer".into())
            .spawn(move || write_loop(&writer, &rx, window))?;
        Ok(Recorder { tx, archive })
    }
}

/// The archive's writer: each segment's file written and synced, then indexed; the window
/// trimmed. Ends when its recorder is dropped (the publisher left) and the queue is empty.
fn write_loop(archive: &Archive, rx: &mpsc::Receiver<Record>, window: Duration) {
    let dir = archive.dir();
    // The first segment of a recording follows a break in the archive.
    let mut first = true;
    let mut init: Option<String> = None;
    while let Ok(r) = rx.recv() {
        let start_ms = r
            .started_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let seq = archive
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .next_seq();
        if let Some(bytes) = &r.init {
            let name = format!("init-{seq}.mp4");
            match write_synced(&dir.join(&name), bytes) {
                Ok(()) => init = Some(name),
                Err(e) => {
                    tracing::error!(archive = %dir.display(), "DVR: cannot write an init segment: {e}");
                    continue;
                }
            }
        }
        let file = format!("{seq}-{start_ms}.{}", r.ext);
        if let Err(e) = write_synced(&dir.join(&file), &r.data) {
            archive.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(archive = %dir.display(), "DVR: cannot write a segment ({e}); live is not affected");
            continue;
        }
        let entry = Entry {
            seq,
            start_ms,
            duration_ms: (r.duration * 1000.0).round() as u32,
            discontinuity: r.discontinuity || first,
            file,
            init: init.clone(),
        };
        first = false;
        let mut index = archive.index.write().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = index.append(entry) {
            tracing::error!(archive = %dir.display(), "DVR: cannot index a segment: {e}");
        }
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if let Err(e) = index.trim_before(now_ms - window.as_millis() as i64) {
            tracing::warn!(archive = %dir.display(), "DVR: cannot trim the archive: {e}");
        }
    }
    archive.recording.store(false, Ordering::Relaxed);
}

fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_data()
}
