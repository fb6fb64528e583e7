//! The start-up sweep of the media library against the database.
//!
//! An upload is renamed into `<data>/media/<owner>/` and then given its row; a crash between
//! the two leaves a file no library item refers to, counted by nobody and never deleted. At
//! start, such files are moved (not deleted: the operator decides) to
//! `<data>/media/lost+found/<owner>/`, with a log line saying so.
//!
//! Invariants: only files directly in an owner's folder (`media/<number>/`) are looked at;
//! a file a row refers to (as media or cover art) is never touched; a file younger than
//! [`GRACE`] is left alone, so an upload that another process sharing the folder is
//! finishing right now is not taken away from it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::db::Db;
use crate::db::media;

/// How old an untracked file must be before it is moved.
pub const GRACE: Duration = Duration::from_secs(60 * 60);

/// Where untracked files go.
pub fn lost_and_found(data: &Path) -> PathBuf {
    data.join("media").join("lost+found")
}

/// Moves every untracked library file older than [`GRACE`] to [`lost_and_found`]; how many.
pub async fn sweep(db: &Db, data: &Path) -> anyhow::Result<usize> {
    let known: HashSet<String> = media::all_paths(db).await?.into_iter().collect();
    let data = data.to_owned();
    let moved =
        tokio::task::spawn_blocking(move || sweep_files(&data, &known, SystemTime::now())).await?;
    Ok(moved)
}

fn sweep_files(data: &Path, known: &HashSet<String>, now: SystemTime) -> usize {
    let Ok(owners) = std::fs::read_dir(data.join("media")) else {
        return 0;
    };
    let mut moved = 0;
    for owner in owners.flatten() {
        let name = owner.file_name();
        let Some(owner_id) = name.to_str().filter(|n| n.parse::<i64>().is_ok()) else {
            continue; // .incoming, lost+found, anything an operator put there
        };
        let Ok(files) = std::fs::read_dir(owner.path()) else {
            continue;
        };
        for file in files.flatten() {
            let Ok(meta) = file.metadata() else { continue };
            let Some(file_name) = file.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let relative = format!("media/{owner_id}/{file_name}");
            if !meta.is_file() || age < GRACE || known.contains(&relative) {
                continue;
            }
            let dest_dir = lost_and_found(data).join(owner_id);
            let moved_ok = std::fs::create_dir_all(&dest_dir)
                .and_then(|()| std::fs::rename(file.path(), dest_dir.join(&file_name)));
            match moved_ok {
                Ok(()) => moved += 1,
                Err(e) => tracing::warn!(
                    "the library file {relative}, which no media item refers to, could not be moved to {}: {e}",
                    dest_dir.display()
                ),
            }
        }
    }
    if moved > 0 {
        tracing::warn!(
            "moved {moved} file(s) that no library item refers to (uploads cut off by a crash or a restore) from the media library to {}; delete them there if nobody needs them",
            lost_and_found(data).display()
        );
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_old_untracked_files_of_owner_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path();
        let owner = data.join("media").join("7");
        std::fs::create_dir_all(&owner).expect("mkdir");
        std::fs::create_dir_all(data.join("media").join(".incoming")).expect("mkdir");
        for f in ["tracked.mp3", "tracked.cover.jpg", "orphan.mp3"] {
            std::fs::write(owner.join(f), b"x").expect("write");
        }
        std::fs::write(data.join("media").join(".incoming").join("x.part"), b"x").expect("write");
        let known: HashSet<String> = ["media/7/tracked.mp3", "media/7/tracked.cover.jpg"]
            .into_iter()
            .map(String::from)
            .collect();
        // Within the grace period nothing moves.
        assert_eq!(sweep_files(data, &known, SystemTime::now()), 0);
        let later = SystemTime::now() + GRACE + Duration::from_secs(1);
        assert_eq!(sweep_files(data, &known, later), 1);
        assert!(owner.join("tracked.mp3").is_file() && owner.join("tracked.cover.jpg").is_file());
        assert!(!owner.join("orphan.mp3").exists());
        assert!(lost_and_found(data).join("7").join("orphan.mp3").is_file());
        assert!(
            data.join("media")
                .join(".incoming")
                .join("x.part")
                .is_file()
        );
        // The lost+found folder itself is not swept again.
        assert_eq!(sweep_files(data, &known, later), 0);
    }
}
