//! What a recording of a span of an archive is made of: its segments, pinned by hard links
//! in a folder of their own so the window can move on (and trim the originals) while the
//! export runs, grouped into the parts a remux reads (a new part at each break, and for
//! fMP4 at each init segment).

use std::path::{Path, PathBuf};

use crate::transcode::{RemuxJob, RemuxPart};

use super::Archive;

/// A pinned span, ready to remux.
#[derive(Debug)]
pub struct Pinned {
    pub job: RemuxJob,
    /// Wall-clock span of the segments taken (unix ms): whole segments, so it starts at or
    /// before the span asked for and ends at or after it.
    pub start_ms: i64,
    pub end_ms: i64,
    pub bytes: u64,
    /// The folder of links, removed when the export is done.
    pub dir: PathBuf,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Links the segments of `archive` overlapping `[from_ms, to_ms)` into `dir` (created) and
/// plans the remux into `output`; `None` if the archive holds nothing in that span.
pub fn pin(
    archive: &Archive,
    from_ms: i64,
    to_ms: i64,
    dir: &Path,
    output: PathBuf,
) -> std::io::Result<Option<Pinned>> {
    let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
    let entries: Vec<_> = index.range(from_ms, to_ms).cloned().collect();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir)?;
    let pinned_dir = dir.to_owned();
    let link = |name: &str| -> std::io::Result<PathBuf> {
        let to = pinned_dir.join(name);
        if !to.exists() {
            std::fs::hard_link(index.dir().join(name), &to)?;
        }
        Ok(to)
    };
    let mut parts: Vec<RemuxPart> = Vec::new();
    let mut init: Option<&str> = None;
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        let new_init = e.init.is_some() && e.init.as_deref() != init;
        if i == 0 || e.discontinuity || new_init {
            let mut files = Vec::new();
            if let Some(name) = e.init.as_deref() {
                files.push(link(name)?);
            }
            parts.push(RemuxPart {
                files,
                continues: i > 0 && !e.discontinuity,
            });
            init = e.init.as_deref();
        }
        if let Some(part) = parts.last_mut() {
            part.files.push(link(&e.file)?);
        }
        bytes += e.bytes;
    }
    let duration_ms: i64 = entries.iter().map(|e| i64::from(e.duration_ms)).sum();
    Ok(Some(Pinned {
        job: RemuxJob {
            parts,
            output,
            duration_s: duration_ms as f64 / 1000.0,
        },
        start_ms: first.start_ms,
        end_ms: last.end_ms(),
        bytes,
        dir: pinned_dir,
    }))
}
