//! `tidecast rescan`: every file of every media library measured again (kind, duration,
//! bitrate, loudness, cue points; titles and artists stay as the customer left them), with a progress bar, e.g. after an upgrade that measures better or
//! after files were replaced on disk. Missing and unreadable files are listed, not deleted:
//! the operator decides.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::db::media::{self, Measured};

use super::inspect::inspect;

/// What a rescan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub total: u64,
    pub updated: u64,
    pub missing: Vec<String>,
    pub unreadable: Vec<String>,
}

/// Rescans every library file under `data`.
pub async fn run(db: &Db, data: &Path) -> anyhow::Result<Summary> {
    let total = u64::try_from(media::count_all(db).await?).unwrap_or(0);
    let mut summary = Summary {
        total,
        ..Summary::default()
    };
    let mut bar = Progress::new(total);
    let mut after = 0;
    loop {
        let page = media::page_all(db, after, 200).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in page {
            bar.step(&row.filename);
            let path = data.join(&row.path);
            let name = format!("{} (media {}, user {})", row.filename, row.id, row.owner_id);
            if !path.is_file() {
                tracing::warn!(
                    media = row.id,
                    "rescan: {name} is missing from {}",
                    path.display()
                );
                summary.missing.push(name);
                continue;
            }
            let filename = row.filename.clone();
            let found = tokio::task::spawn_blocking(move || inspect(&path, &filename)).await?;
            let found = match found {
                Ok(f) => f,
                Err(why) => {
                    tracing::warn!(media = row.id, "rescan: {name} cannot be read: {why}");
                    summary.unreadable.push(format!("{name}: {why}"));
                    continue;
                }
            };
            media::update_measured(
                db,
                row.id,
                &Measured {
                    kind: found.kind,
                    duration_ms: found.duration_ms,
                    bitrate_kbps: found.bitrate_kbps,
                    loudness_mlufs: found.loudness_mlufs,
                    cue_in_ms: found.cue_in_ms,
                    cue_out_ms: found.cue_out_ms,
                },
            )
            .await?;
            summary.updated += 1;
        }
    }
    bar.finish();
    Ok(summary)
}

/// A progress bar on a terminal; elsewhere (a log file, CI) a line every few seconds.
struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = Instant::now();
        Self {
            total,
            done: 0,
            started: now,
            last: now,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn step(&mut self, name: &str) {
        self.done += 1;
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let eta = if self.done > 1 {
            let per = self.started.elapsed().as_secs_f64() / (self.done - 1) as f64;
            format!(
                ", about {} s left",
                (per * (self.total.saturating_sub(self.done) + 1) as f64).round()
            )
        } else {
            String::new()
        };
        if self.tty {
            // Files uploaded during the scan can make it run past the count it started with.
            let filled = ((pct / 4) as usize).min(25);
            let short: String = name.chars().take(40).collect();
            eprint!(
                "\r[{}{}] {pct:>3}% {}/{}{eta}  {short:<40}",
                "#".repeat(filled),
                ".".repeat(25 - filled),
                self.done,
                self.total
            );
            let _ = std::io::stderr().flush();
        } else if self.last.elapsed() >= Duration::from_secs(5) || self.done == 1 {
            self.last = Instant::now();
            eprintln!("rescan: {}/{} files ({pct}%){eta}", self.done, self.total);
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
