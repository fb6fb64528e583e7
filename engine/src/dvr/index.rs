//! A DVR archive's index: what segments the folder holds, in time order.
//!
//! On disk it is `index.log`, one line per segment appended after the segment's file is
//! written and synced: `seq start_ms duration_ms discontinuity file init`; and, whenever it
//! changes, a `stream <WxH|-> <fps|-> <codecs|->` line saying what the segments after it
//! carry (what a master playlist says of the archive; archives from before it have none,
//! and their master playlists leave those attributes out). Trimming the
//! oldest segments appends `trim <seq>` (everything up to `seq` is gone) instead of writing
//! the whole index again, so a 24-hour archive costs the same per segment as a minute's; the
//! index is compacted once it holds more dead lines than live ones. A crash can only tear the
//! last line (it has no newline) or leave a segment file without its line; opening the
//! archive drops both, deletes files no line names, and writes the index back compacted (to
//! a temporary file renamed over the old one, so the index itself is never half-written).
//! Lookups by time are binary searches over the entries in memory.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::media::StreamInfo;

/// The index file's name in an archive folder.
pub const INDEX: &str = "index.log";

/// One archived segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Running number across the archive's life (media sequence numbers of its playlists).
    pub seq: u64,
    /// Wall-clock time of its first frame, unix milliseconds.
    pub start_ms: i64,
    pub duration_ms: u32,
    /// The first segment after a break (the publisher left and came back, a new encoder).
    pub discontinuity: bool,
    /// Its file in the folder.
    pub file: String,
    /// fMP4: the init segment's file it needs.
    pub init: Option<String>,
    /// The size of its file (not in the index line: read from the disk at open).
    pub bytes: u64,
}

impl Entry {
    pub fn end_ms(&self) -> i64 {
        self.start_ms + i64::from(self.duration_ms)
    }

    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.seq,
            self.start_ms,
            self.duration_ms,
            u8::from(self.discontinuity),
            self.file,
            self.init.as_deref().unwrap_or("-")
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let mut f = line.split(' ');
        let entry = Self {
            seq: f.next()?.parse().ok()?,
            start_ms: f.next()?.parse().ok()?,
            duration_ms: f.next()?.parse().ok()?,
            discontinuity: f.next()? == "1",
            file: safe_name(f.next()?)?.to_owned(),
            init: match f.next()? {
                "-" => None,
                name => Some(safe_name(name)?.to_owned()),
            },
            bytes: 0,
        };
        f.next().is_none().then_some(entry)
    }
}

/// `stream <WxH|-> <fps|-> <codecs|->`.
fn info_line(info: &StreamInfo) -> String {
    let resolution = info
        .resolution
        .map_or("-".to_owned(), |(w, h)| format!("{w}x{h}"));
    let fps = info
        .frame_rate
        .filter(|f| f.is_finite() && *f > 0.0)
        .map_or("-".to_owned(), |f| format!("{f:.3}"));
    let codecs = if info.codecs.is_empty() || info.codecs.contains(char::is_whitespace) {
        "-"
    } else {
        &info.codecs
    };
    format!("stream {resolution} {fps} {codecs}\n")
}

/// Reads what [`info_line`] wrote (without `stream ` and the newline).
fn parse_info(text: &str) -> Option<StreamInfo> {
    let mut f = text.split(' ');
    let resolution = match f.next()? {
        "-" => None,
        r => {
            let (w, h) = r.split_once('x')?;
            Some((w.parse().ok()?, h.parse().ok()?))
        }
    };
    let frame_rate = match f.next()? {
        "-" => None,
        r => Some(
            r.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0)?,
        ),
    };
    let codecs = match f.next()? {
        "-" => String::new(),
        c => c.to_owned(),
    };
    f.next().is_none().then_some(StreamInfo {
        resolution,
        codecs,
        frame_rate,
    })
}

/// A file name the index may name: no separators, no dots at the start.
fn safe_name(name: &str) -> Option<&str> {
    (!name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then_some(name)
}

/// What opening an archive had to repair after a crash.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repairs {
    /// Index lines that were torn or unreadable.
    pub bad_lines: usize,
    /// Lines whose segment file was gone.
    pub missing_files: usize,
    /// Files no line named (a segment being written when the server died), deleted.
    pub orphans_deleted: usize,
}

/// An archive folder's index, open for appending.
#[derive(Debug)]
pub struct Index {
    dir: PathBuf,
    entries: VecDeque<Entry>,
    log: File,
    /// Lines in the log for segments trimmed since it was last compacted.
    dead_lines: usize,
    /// Bytes of the segment and init files it holds.
    bytes: u64,
    /// What the newest segments carry, if a recorder said.
    info: Option<StreamInfo>,
}

/// Dead lines the log may hold before it is compacted (or as many as live ones, if more).
const COMPACT_AFTER: usize = 1000;

impl Index {
    /// Opens (or creates) the archive in `dir`, repairing what a crash left.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Repairs)> {
        std::fs::create_dir_all(dir)?;
        let mut repairs = Repairs::default();
        let mut entries: VecDeque<Entry> = VecDeque::new();
        let mut info: Option<StreamInfo> = None;
        if let Ok(file) = File::open(dir.join(INDEX)) {
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            // Entries up to this seq were trimmed (their files are gone on purpose).
            let mut trimmed: Option<u64> = None;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                // A line without its newline was being written when the server died.
                let Some(text) = line.strip_suffix('\n') else {
                    repairs.bad_lines += 1;
                    continue;
                };
                if let Some(rest) = text.strip_prefix("stream ") {
                    match parse_info(rest) {
                        Some(i) => info = Some(i),
                        None => repairs.bad_lines += 1,
                    }
                    continue;
                }
                if let Some(seq) = text.strip_prefix("trim ").and_then(|t| t.parse().ok()) {
                    trimmed = Some(seq);
                    while entries.front().is_some_and(|e| e.seq <= seq) {
                        entries.pop_front();
                    }
                    continue;
                }
                let parsed = Entry::parse(text).filter(|e| {
                    entries.back().is_none_or(|b| e.seq > b.seq)
                        && trimmed.is_none_or(|t| e.seq > t)
                });
                match parsed {
                    Some(e) => entries.push_back(e),
                    None => repairs.bad_lines += 1,
                }
            }
            // Files are looked for once the trim lines said which segments are gone.
            entries.retain_mut(|e| match std::fs::metadata(dir.join(&e.file)) {
                Ok(m) if m.is_file() => {
                    e.bytes = m.len();
                    true
                }
                _ => {
                    repairs.missing_files += 1;
                    false
                }
            });
        }
        // Files no entry names: a segment (or init) written but never indexed.
        let named: std::collections::HashSet<&str> = entries
            .iter()
            .flat_map(|e| std::iter::once(e.file.as_str()).chain(e.init.as_deref()))
            .collect();
        for item in std::fs::read_dir(dir)?.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name == INDEX || name.starts_with('.') || named.contains(name.as_ref()) {
                continue;
            }
            if item.path().is_file() && std::fs::remove_file(item.path()).is_ok() {
                repairs.orphans_deleted += 1;
            }
        }
        rewrite(dir, &entries, info.as_ref())?;
        let log = OpenOptions::new().append(true).open(dir.join(INDEX))?;
        let inits: std::collections::HashSet<&str> =
            entries.iter().filter_map(|e| e.init.as_deref()).collect();
        let init_bytes: u64 = inits
            .iter()
            .filter_map(|n| std::fs::metadata(dir.join(n)).ok())
            .map(|m| m.len())
            .sum();
        let bytes = entries.iter().map(|e| e.bytes).sum::<u64>() + init_bytes;
        Ok((
            Self {
                dir: dir.to_owned(),
                entries,
                log,
                dead_lines: 0,
                bytes,
                info,
            },
            repairs,
        ))
    }

    /// Bytes of the segment and init files the archive holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts an init file written for the segments to come.
    pub fn add_init_bytes(&mut self, bytes: u64) {
        self.bytes += bytes;
    }

    /// When the oldest segment starts (unix ms).
    pub fn first_start_ms(&self) -> Option<i64> {
        self.entries.front().map(|e| e.start_ms)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// What the newest segments carry, if a recorder said.
    pub fn info(&self) -> Option<&StreamInfo> {
        self.info.as_ref()
    }

    /// Records what the segments from now on carry (a line, only when it changed).
    pub fn set_info(&mut self, info: &StreamInfo) -> std::io::Result<()> {
        if self.info.as_ref() == Some(info) {
            return Ok(());
        }
        let before = self.log.metadata()?.len();
        if let Err(e) = self
            .log
            .write_all(info_line(info).as_bytes())
            .and_then(|()| self.log.sync_data())
        {
            let _ = self.log.set_len(before);
            return Err(e);
        }
        if self.info.is_some() {
            self.dead_lines += 1;
        }
        self.info = Some(info.clone());
        Ok(())
    }

    /// The number the next segment gets.
    pub fn next_seq(&self) -> u64 {
        self.entries.back().map_or(0, |e| e.seq + 1)
    }

    /// Records a segment whose file is already written and synced.
    pub fn append(&mut self, entry: Entry) -> std::io::Result<()> {
        // A line the disk only half took (it is full) is cut off again, so the next line
        // does not land on its end and both be lost.
        let before = self.log.metadata()?.len();
        if let Err(e) = self
            .log
            .write_all(entry.line().as_bytes())
            .and_then(|()| self.log.sync_data())
        {
            let _ = self.log.set_len(before);
            return Err(e);
        }
        self.bytes += entry.bytes;
        self.entries.push_back(entry);
        Ok(())
    }

    /// Forgets segments that ended before `cutoff_ms` and deletes their files (and init
    /// files nothing needs any more).
    pub fn trim_before(&mut self, cutoff_ms: i64) -> std::io::Result<usize> {
        let n = self
            .entries
            .iter()
            .take_while(|e| e.end_ms() < cutoff_ms)
            .count();
        self.trim_oldest(n)
    }

    /// Forgets the `n` oldest segments and deletes their files (and init files nothing
    /// needs any more): a `trim` line in the log, which is compacted when it has shed
    /// enough lines.
    pub fn trim_oldest(&mut self, n: usize) -> std::io::Result<usize> {
        let gone: Vec<Entry> = self.entries.drain(..n.min(self.entries.len())).collect();
        let Some(last) = gone.last() else {
            return Ok(0);
        };
        // The marker first: a crash after it leaves files the next open deletes as
        // orphans. On a full disk the marker may not fit: the files go anyway (that is what
        // frees the disk), and the next open drops their lines as missing.
        let before = self.log.metadata()?.len();
        if let Err(e) = self
            .log
            .write_all(format!("trim {}\n", last.seq).as_bytes())
            .and_then(|()| self.log.sync_data())
        {
            let _ = self.log.set_len(before);
            tracing::warn!(archive = %self.dir.display(), "DVR: trimming without its index line ({e})");
        }
        for e in &gone {
            if std::fs::remove_file(self.dir.join(&e.file)).is_ok() {
                self.bytes = self.bytes.saturating_sub(e.bytes);
            }
            if let Some(init) = &e.init
                && self.entries.front().and_then(|k| k.init.as_ref()) != Some(init)
            {
                let path = self.dir.join(init);
                if let Ok(m) = std::fs::metadata(&path)
                    && std::fs::remove_file(&path).is_ok()
                {
                    self.bytes = self.bytes.saturating_sub(m.len());
                }
            }
        }
        self.dead_lines += gone.len() + 1;
        if self.dead_lines > self.entries.len().max(COMPACT_AFTER) {
            rewrite(&self.dir, &self.entries, self.info.as_ref())?;
            self.log = OpenOptions::new().append(true).open(self.dir.join(INDEX))?;
            self.dead_lines = 0;
        }
        Ok(gone.len())
    }

    /// The segments that overlap `[from_ms, to_ms)`, in order.
    pub fn range(&self, from_ms: i64, to_ms: i64) -> impl Iterator<Item = &Entry> + Clone {
        let first = self.entries.partition_point(|e| e.end_ms() <= from_ms);
        self.entries
            .range(first..)
            .take_while(move |e| e.start_ms < to_ms)
    }
}

/// Writes the index anew: a temporary file, synced, renamed over the old one.
fn rewrite(
    dir: &Path,
    entries: &VecDeque<Entry>,
    info: Option<&StreamInfo>,
) -> std::io::Result<()> {
    let tmp = dir.join(".index.tmp");
    {
        let mut f = File::create(&tmp)?;
        let mut text = info.map(info_line).unwrap_or_default();
        for e in entries {
            text.push_str(&e.line());
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(INDEX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(dir: &Path, seq: u64, start_ms: i64) -> Entry {
        let file = format!("{start_ms}.ts");
        std::fs::write(dir.join(&file), b"segment").expect("write");
        Entry {
            seq,
            start_ms,
            duration_ms: 2000,
            discontinuity: seq == 3,
            file,
            init: None,
            bytes: 7,
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_are_found_by_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut ix, _) = Index::open(dir.path()).expect("open");
        for i in 0..5 {
            ix.append(seg(dir.path(), i, 1_000_000 + i as i64 * 2000))
                .expect("append");
        }
        drop(ix);
        let (ix, repairs) = Index::open(dir.path()).expect("reopen");
        assert_eq!(repairs, Repairs::default());
        assert_eq!(ix.entries().len(), 5);
        assert_eq!(ix.next_seq(), 5);
        assert!(ix.entries()[3].discontinuity);
        let hit: Vec<u64> = ix.range(1_003_500, 1_006_000).map(|e| e.seq).collect();
        assert_eq!(hit, [1, 2]);
        assert_eq!(ix.range(0, 1_000_000).count(), 0);
        assert_eq!(ix.range(2_000_000, 3_000_000).count(), 0);
    }

    #[test]
    fn a_crash_mid_write_is_repaired_at_open() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut ix, _) = Index::open(dir.path()).expect("open");
        for i in 0..3 {
            ix.append(seg(dir.path(), i, i as i64 * 2000))
                .expect("append");
        }
        drop(ix);
        // The server died while writing segment 3 (file there, no line), with a torn line
        // for a segment whose file never landed, and one indexed file lost.
        std::fs::write(dir.path().join("6000.ts"), b"half a seg").expect("write");
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.path().join(INDEX))
            .expect("log");
        log.write_all(b"3 6000 2000 0 6000.").expect("torn");
        std::fs::remove_file(dir.path().join("2000.ts")).expect("lose one");
        let (ix, repairs) = Index::open(dir.path()).expect("reopen");
        assert_eq!(
            repairs,
            Repairs {
                bad_lines: 1,
                missing_files: 1,
                orphans_deleted: 1
            }
        );
        let seqs: Vec<u64> = ix.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [0, 2]);
        assert!(!dir.path().join("6000.ts").exists());
        // And the repaired index opens clean.
        drop(ix);
        let (_, again) = Index::open(dir.path()).expect("reopen");
        assert_eq!(again, Repairs::default());
    }

    #[test]
    fn trimming_deletes_old_segments() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut ix, _) = Index::open(dir.path()).expect("open");
        for i in 0..10 {
            ix.append(seg(dir.path(), i, i as i64 * 2000))
                .expect("append");
        }
        assert_eq!(ix.bytes(), 70);
        assert_eq!(ix.trim_before(7000).expect("trim"), 3);
        assert_eq!(ix.bytes(), 49);
        assert!(!dir.path().join("0.ts").exists() && dir.path().join("6000.ts").exists());
        assert_eq!(ix.trim_oldest(2).expect("trim"), 2);
        // Appends after a trim line keep working.
        ix.append(seg(dir.path(), 10, 20_000)).expect("append");
        drop(ix);
        let (ix, repairs) = Index::open(dir.path()).expect("reopen");
        assert_eq!(repairs, Repairs::default());
        assert_eq!(ix.entries().front().map(|e| e.seq), Some(5));
        assert_eq!(ix.entries().back().map(|e| e.seq), Some(10));
        assert_eq!(ix.bytes(), 42);
    }

    #[test]
    fn a_long_archive_trims_without_rewriting_the_index_each_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut ix, _) = Index::open(dir.path()).expect("open");
        for i in 0..3000 {
            ix.append(seg(dir.path(), i, i as i64 * 2000))
                .expect("append");
            ix.trim_before(i as i64 * 2000 - 100_000).expect("trim");
        }
        // Compacted now and then, never more than live + COMPACT_AFTER dead lines.
        let lines = std::fs::read_to_string(dir.path().join(INDEX))
            .expect("index")
            .lines()
            .count();
        assert!(lines < 52 + 2 * COMPACT_AFTER + 2, "{lines} lines");
        drop(ix);
        let (ix, repairs) = Index::open(dir.path()).expect("reopen");
        assert_eq!(repairs, Repairs::default());
        assert_eq!(ix.entries().len(), 52);
    }

    #[test]
    fn what_the_stream_carries_survives_a_reopen_and_a_compaction() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut ix, _) = Index::open(dir.path()).expect("open");
        assert_eq!(ix.info(), None);
        let info = StreamInfo {
            resolution: Some((320, 180)),
            codecs: "avc1.42C00D,mp4a.40.2".into(),
            frame_rate: Some(30.0),
        };
        ix.set_info(&StreamInfo::default()).expect("info");
        ix.append(seg(dir.path(), 0, 0)).expect("append");
        ix.set_info(&info).expect("info");
        ix.set_info(&info).expect("unchanged: no line");
        ix.append(seg(dir.path(), 1, 2000)).expect("append");
        let text = std::fs::read_to_string(dir.path().join(INDEX)).expect("index");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("stream "))
                .collect::<Vec<_>>(),
            [
                "stream - - -",
                "stream 320x180 30.000 avc1.42C00D,mp4a.40.2"
            ]
        );
        drop(ix);
        let (ix, repairs) = Index::open(dir.path()).expect("reopen");
        assert_eq!(repairs, Repairs::default());
        assert_eq!(ix.info(), Some(&info));
        // The reopen compacted the log: one line says it.
        let text = std::fs::read_to_string(dir.path().join(INDEX)).expect("index");
        assert_eq!(
            text.lines().next(),
            Some("stream 320x180 30.000 avc1.42C00D,mp4a.40.2")
        );
        assert_eq!(text.lines().count(), 3);
        assert!(parse_info("640x x -").is_none());
    }

    #[test]
    fn lines_naming_paths_outside_the_folder_are_refused() {
        assert!(Entry::parse("1 0 2000 0 ../../etc/passwd -").is_none());
        assert!(Entry::parse("1 0 2000 0 .hidden -").is_none());
        assert!(Entry::parse("1 0 2000 0 a.ts - extra").is_none());
        assert!(Entry::parse("1 0 2000 0 a.ts init-1.mp4").is_some());
    }
}
