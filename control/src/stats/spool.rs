//! Rows the database could not take, kept on disk until it can.
//!
//! Listener sessions are what usage billing and reports are computed from; a database
//! outage must not lose the ones that end during it, nor a restart the ones spooled before
//! it. Each failed batch becomes one file of JSON lines, written to a temporary name, synced
//! and renamed, so a crash leaves either the whole batch or none of it. Files are replayed
//! oldest first (their names sort by time) and removed only after their transaction commits.
//! The folder is bounded: past [`CAP_BYTES`] new batches are refused and counted, never the
//! listeners slowed.

use std::fs;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The most the spool keeps on disk (about a million listener sessions).
pub const CAP_BYTES: u64 = 256 * 1024 * 1024;
const EXT: &str = "jsonl";

/// Why a batch could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the spool is full ({CAP_BYTES} bytes)")]
    Full,
    #[error("cannot write the spool: {0}")]
    Io(#[from] io::Error),
}

/// One spooled batch, read back.
#[derive(Debug)]
pub struct Batch<T> {
    pub path: PathBuf,
    pub rows: Vec<T>,
    bytes: u64,
}

/// A folder of batches of `T`, owned by one writer task.
#[derive(Debug)]
pub struct Spool<T> {
    dir: PathBuf,
    bytes: u64,
    /// Rows on disk, shared with whoever reports it (`/healthz`).
    rows: Arc<AtomicU64>,
    seq: u64,
    _rows: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> Spool<T> {
    /// Opens (creating) `dir`, counting what an earlier run left there; half-written files
    /// of a crash are removed.
    pub fn open(dir: &Path, rows: Arc<AtomicU64>) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut bytes = 0;
        let mut count = 0;
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some(EXT) => {
                    bytes += fs::metadata(&path)?.len();
                    count += fs::read(&path)?.iter().filter(|b| **b == b'\n').count() as u64;
                }
                Some("tmp") => {
                    tracing::warn!(
                        "removing {}: a statistics batch a crash left half-written",
                        path.display()
                    );
                    fs::remove_file(&path)?;
                }
                _ => {}
            }
        }
        rows.store(count, Ordering::Relaxed);
        if count > 0 {
            tracing::info!(
                rows = count,
                "statistics kept on disk during a database outage will be written once the database answers"
            );
        }
        Ok(Self {
            dir: dir.to_owned(),
            bytes,
            rows,
            seq: 0,
            _rows: PhantomData,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rows.load(Ordering::Relaxed) == 0
    }

    /// Writes `rows` as one batch, durably.
    pub fn push(&mut self, rows: &[T]) -> Result<(), SpoolError> {
        let mut text = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut text, r).map_err(io::Error::other)?;
            text.push(b'\n');
        }
        if self.bytes + text.len() as u64 > CAP_BYTES {
            return Err(SpoolError::Full);
        }
        self.seq += 1;
        let millis = chrono::Utc::now().timestamp_millis();
        // Zero-padded so that names sort as the batches were written.
        let name = format!("{millis:015}-{:08}", self.seq);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(format!("{name}.{EXT}"));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        // The rename itself must survive a power cut.
        fs::File::open(&self.dir)?.sync_all()?;
        self.bytes += text.len() as u64;
        self.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The oldest batch on disk. A file that does not decode is moved to `rejected/` with
    /// a log line (kept for inspection, never replayed in a loop) and the next one is read.
    pub fn oldest(&mut self) -> io::Result<Option<Batch<T>>> {
        loop {
            let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(EXT))
                .collect();
            names.sort();
            let Some(path) = names.into_iter().next() else {
                return Ok(None);
            };
            let text = fs::read(&path)?;
            let decoded: Result<Vec<T>, _> = text
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(serde_json::from_slice)
                .collect();
            match decoded {
                Ok(rows) => {
                    return Ok(Some(Batch {
                        path,
                        rows,
                        bytes: text.len() as u64,
                    }));
                }
                Err(e) => {
                    let lines = text.iter().filter(|b| **b == b'\n').count() as u64;
                    tracing::error!(
                        "spooled statistics in {} do not decode ({e}); moved aside to rejected/",
                        path.display()
                    );
                    self.set_aside(&path, text.len() as u64, lines)?;
                }
            }
        }
    }

    /// Forgets a batch once its rows are in the database.
    pub fn remove(&mut self, batch: Batch<T>) -> io::Result<()> {
        fs::remove_file(&batch.path)?;
        self.forget(batch.bytes, batch.rows.len() as u64);
        Ok(())
    }

    /// Moves a batch the database refused (not for being away) to `rejected/`.
    pub fn reject(&mut self, batch: Batch<T>) -> io::Result<()> {
        self.set_aside(&batch.path, batch.bytes, batch.rows.len() as u64)
    }

    fn set_aside(&mut self, path: &Path, bytes: u64, rows: u64) -> io::Result<()> {
        let aside = self.dir.join("rejected");
        fs::create_dir_all(&aside)?;
        if let Some(name) = path.file_name() {
            fs::rename(path, aside.join(name))?;
        }
        self.forget(bytes, rows);
        Ok(())
    }

    fn forget(&mut self, bytes: u64, rows: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
        let _ = self
            .rows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(rows))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_back_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let mut s: Spool<u32> = Spool::open(dir.path(), Arc::clone(&count)).unwrap();
        assert!(s.is_empty());
        s.push(&[1, 2]).unwrap();
        s.push(&[3]).unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 3);
        // A crash mid-write leaves a temporary file: it is dropped at the next open.
        fs::write(dir.path().join("999999999999999-00000001.tmp"), b"[").unwrap();

        let count = Arc::new(AtomicU64::new(0));
        let mut s: Spool<u32> = Spool::open(dir.path(), Arc::clone(&count)).unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 3);
        let b = s.oldest().unwrap().unwrap();
        assert_eq!(b.rows, vec![1, 2]);
        s.remove(b).unwrap();
        let b = s.oldest().unwrap().unwrap();
        assert_eq!(b.rows, vec![3]);
        s.remove(b).unwrap();
        assert!(s.oldest().unwrap().is_none());
        assert!(s.is_empty());
        assert!(!dir.path().join("999999999999999-00000001.tmp").exists());
    }

    #[test]
    fn an_undecodable_batch_is_set_aside_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("000000000000001-00000001.jsonl"), b"nope\n").unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let mut s: Spool<u32> = Spool::open(dir.path(), Arc::clone(&count)).unwrap();
        s.push(&[7]).unwrap();
        let b = s.oldest().unwrap().unwrap();
        assert_eq!(b.rows, vec![7]);
        assert!(
            dir.path()
                .join("rejected/000000000000001-00000001.jsonl")
                .exists()
        );
        s.remove(b).unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }
}
