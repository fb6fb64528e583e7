//! nDVR: every segment of a stream kept on disk for a window of time, findable by time, and
//! intact across crashes.
//!
//! Each archive is a folder `<root>/<service id>/<stream>/` with the segment files and their
//! [`index`]. While a stream publishes, a [`Recorder`] hands each finished segment to the
//! archive's writer thread over a bounded queue: the live path never waits for the disk (a
//! full queue drops the segment from the archive, with a log line and a count). Playback
//! reads the index under a read lock.
//!
//! A service's archives (its stream, or each rendition of its ladder) share its window and
//! its disk budget: whichever goes over, the oldest segments go first. A disk that fails a
//! write (full, read-only) stops nothing live: the segment is left out, counted and logged,
//! and what is already archived stays intact (a segment's line is only written once its
//! file is complete and synced).

pub mod export;
pub mod index;
pub mod playlist;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::SystemTime;

use crate::admission::{SegmentFormat, ServiceId};
use crate::hls::uri;
use index::{Entry, Index};

/// Segments that may wait for the disk before the archive starts dropping them.
const QUEUE: usize = 64;

/// One archive: its index, and whether a recorder writes to it now.
#[derive(Debug)]
pub struct Archive {
    pub service: ServiceId,
    pub index: RwLock<Index>,
    recording: AtomicBool,
    /// Segments the archive missed because the disk did not keep up (or failed).
    pub dropped: AtomicU64,
    /// Held by the writer thread for its whole life: a publisher that comes back before the
    /// last one's queue is written waits its turn, so segments are indexed in order.
    writer: Mutex<()>,
    /// The whole-window playlist as last rendered (see [`playlist`]).
    window: Mutex<Option<Arc<playlist::Window>>>,
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

/// Declared with the grant that carries it (admission sits below the DVR).
pub use crate::admission::Retention;

/// The DVR archives of this server, under one root folder.
#[derive(Debug)]
pub struct Dvr {
    root: PathBuf,
    archives: Mutex<HashMap<PathBuf, Arc<Archive>>>,
}

/// A segment on its way to the archive (declared by the live window, which hands them over).
pub use crate::hls::live::SegmentRecord as Record;

/// Hands a publishing stream's segments to its archive; dropping it ends the recording.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::SyncSender<Record>,
    archive: Arc<Archive>,
}

impl crate::hls::live::SegmentSink for Recorder {
    /// Queues a segment for the archive; never waits.
    fn record(&self, record: Record) {
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

    /// The folder of a stream's archive: `<service id>/<slug>`, and for a rendition
    /// (`<slug>/<rendition>`) `<service id>/<slug>.<rendition>`.
    pub fn folder(&self, service: ServiceId, stream: &str) -> PathBuf {
        let safe: String = stream
            .chars()
            .map(|c| match c {
                c if c.is_ascii_alphanumeric() || c == '-' => c,
                '/' => '.',
                _ => '_',
            })
            .collect();
        self.root.join(service.0.to_string()).join(safe)
    }

    /// Where exports pin the segments they read (on the archives' file system, so pinning
    /// is a hard link); what a crash left there is swept by [`Dvr::sweep_exports`].
    pub fn exports_dir(&self) -> PathBuf {
        self.root.join(".exports")
    }

    /// Removes the pinned segments of exports a crash interrupted.
    pub fn sweep_exports(&self) {
        let _ = std::fs::remove_dir_all(self.exports_dir());
    }

    /// The archives of a service this server has open.
    fn service_archives(&self, service: ServiceId) -> Vec<Arc<Archive>> {
        self.archives
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|a| a.service == service)
            .cloned()
            .collect()
    }

    /// Bytes a service's archives take on disk (those opened since the server started:
    /// each is opened when its stream publishes or plays).
    pub fn service_bytes(&self, service: ServiceId) -> u64 {
        self.service_archives(service)
            .iter()
            .map(|a| a.index.read().unwrap_or_else(|p| p.into_inner()).bytes())
            .sum()
    }

    /// Every archive opened since the server started, for metrics.
    pub fn all(&self) -> Vec<Arc<Archive>> {
        self.archives
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Bytes all archives take on disk.
    pub fn total_bytes(&self) -> u64 {
        self.archives
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|a| a.index.read().unwrap_or_else(|p| p.into_inner()).bytes())
            .sum()
    }

    /// Deletes the oldest segments of a service's archives until they fit `max_bytes`.
    fn enforce_budget(&self, service: ServiceId, max_bytes: u64) {
        let archives = self.service_archives(service);
        loop {
            let sizes: Vec<(u64, Option<i64>)> = archives
                .iter()
                .map(|a| {
                    let ix = a.index.read().unwrap_or_else(|p| p.into_inner());
                    (ix.bytes(), ix.first_start_ms())
                })
                .collect();
            if sizes.iter().map(|(b, _)| b).sum::<u64>() <= max_bytes {
                return;
            }
            // The archive whose oldest segment is oldest gives it up.
            let Some(oldest) = sizes
                .iter()
                .enumerate()
                .filter_map(|(i, (_, first))| first.map(|f| (f, i)))
                .min()
                .map(|(_, i)| &archives[i])
            else {
                return;
            };
            let mut ix = oldest.index.write().unwrap_or_else(|p| p.into_inner());
            match ix.trim_oldest(1) {
                Ok(1) => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(archive = %ix.dir().display(), "DVR: cannot trim the archive to its disk quota: {e}");
                    return;
                }
            }
        }
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
            service,
            index: RwLock::new(index),
            recording: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            writer: Mutex::new(()),
            window: Mutex::new(None),
        });
        map.insert(dir, Arc::clone(&archive));
        Ok(archive)
    }

    /// Starts recording a stream into its archive under the service's `retention`.
    pub fn recorder(
        self: &Arc<Self>,
        service: ServiceId,
        stream: &str,
        retention: Retention,
    ) -> std::io::Result<Recorder> {
        let archive = self.archive(service, stream)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        archive.recording.store(true, Ordering::Relaxed);
        let writer = Arc::clone(&archive);
        let dvr = Arc::clone(self);
        std::thread::Builder::new()
            .name("dvr-writer".into())
            .spawn(move || {
                let _turn = writer.writer.lock().unwrap_or_else(|p| p.into_inner());
                writer.recording.store(true, Ordering::Relaxed);
                write_loop(&dvr, &writer, &rx, retention);
            })?;
        Ok(Recorder { tx, archive })
    }
}

/// The archive's writer: each segment's file written and synced, then indexed; the window
/// and the disk budget kept. Ends when its recorder is dropped (the publisher left) and the
/// queue is empty.
fn write_loop(dvr: &Dvr, archive: &Archive, rx: &mpsc::Receiver<Record>, retention: Retention) {
    let window = retention.window;
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
            let name = uri::dvr_init_file(seq);
            match write_synced(&dir.join(&name), bytes) {
                Ok(()) => {
                    init = Some(name);
                    archive
                        .index
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .add_init_bytes(bytes.len() as u64);
                }
                Err(e) => {
                    let _ = std::fs::remove_file(dir.join(&name));
                    failed(archive, &dir, "an init segment", &e);
                    // Its segments cannot play without it: wait for the next one.
                    init = None;
                    continue;
                }
            }
        }
        if r.format == SegmentFormat::Fmp4 && init.is_none() {
            archive.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let file = uri::dvr_segment_file(seq, start_ms, r.format);
        if let Err(e) = write_synced(&dir.join(&file), &r.data) {
            // A half-written file would only be swept at the next open: it goes now.
            let _ = std::fs::remove_file(dir.join(&file));
            failed(archive, &dir, "a segment", &e);
            // What follows the hole starts a new run.
            first = true;
            continue;
        }
        let entry = Entry {
            seq,
            start_ms,
            duration_ms: (r.duration * 1000.0).round() as u32,
            discontinuity: r.discontinuity || first,
            file,
            init: init.clone(),
            bytes: r.data.len() as u64,
        };
        {
            let mut index = archive.index.write().unwrap_or_else(|p| p.into_inner());
            // What the stream carries goes in before the segment that first carries it; if
            // the line cannot be written the segment still is (its master playlist just
            // says less).
            if let Some(info) = &r.info
                && let Err(e) = index.set_info(info)
            {
                tracing::warn!(archive = %dir.display(), "DVR: cannot note what the stream carries: {e}");
            }
            let file = entry.file.clone();
            if let Err(e) = index.append(entry) {
                let _ = std::fs::remove_file(dir.join(file));
                failed(archive, &dir, "the index", &e);
                first = true;
                continue;
            }
            first = false;
            let now_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            if let Err(e) = index.trim_before(now_ms - window.as_millis() as i64) {
                tracing::warn!(archive = %dir.display(), "DVR: cannot trim the archive: {e}");
            }
        }
        dvr.enforce_budget(archive.service, retention.max_bytes);
    }
    archive.recording.store(false, Ordering::Relaxed);
}

/// A write the disk refused: counted, and logged the first time and then now and then (a
/// full disk fails every segment).
fn failed(archive: &Archive, dir: &Path, what: &str, e: &std::io::Error) {
    let n = archive.dropped.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::error!(archive = %dir.display(), "DVR: cannot write {what} ({e}); {n} segment(s) left out of the archive so far; live is not affected");
    }
}

fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_data()
}
