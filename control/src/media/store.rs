//! Where library files live and how an upload gets there: streamed to a temporary file under
//! `<data>/media/.incoming` while its SHA-256 is computed, then renamed into
//! `<data>/media/<owner>/<sha256>.<ext>`. A temporary file is removed however the upload
//! ends (error, refused, client gone), and leftovers of a crash are swept at start.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The folder of files being uploaded.
fn incoming(data: &Path) -> PathBuf {
    data.join("media").join(".incoming")
}

/// Removes what a crash left in the upload folder.
pub fn sweep_incoming(data: &Path) {
    let dir = incoming(data);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut n = 0;
    for e in entries.flatten() {
        if std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    if n > 0 {
        tracing::info!(folder = %dir.display(), "removed {n} unfinished upload(s) left by the last run");
    }
}

/// A file being uploaded; removed when dropped unless [`Upload::keep_as`] moved it into the
/// library.
#[derive(Debug)]
pub struct Upload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    hasher: Sha256,
    pub size: u64,
}

impl Upload {
    pub async fn create(data: &Path) -> std::io::Result<Self> {
        let dir = incoming(data);
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{}.part", crate::auth::secret::random_b64(12)));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Self {
            path,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Takes a file another writer made (a recorded live set) through the same way into the
    /// library: removed when dropped unless kept. Its measure is taken by
    /// [`Upload::hash_written`].
    pub fn adopt(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk).await,
            None => Err(std::io::Error::other("the upload is closed")),
        }
    }

    /// Flushes the file to disk and returns its SHA-256 (hex).
    pub async fn finish(&mut self) -> std::io::Result<String> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        let digest = std::mem::take(&mut self.hasher).finalize();
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Closes this handle so another writer (FFmpeg making a recording) can fill the file at
    /// [`Upload::path`]; [`Upload::hash_written`] then takes its measure.
    pub fn release(&mut self) {
        self.file = None;
    }

    /// Syncs what another writer put in the file and returns its SHA-256 (hex), with
    /// [`Upload::size`] set.
    pub async fn hash_written(&mut self) -> std::io::Result<String> {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(&self.path).await?;
        f.sync_all().await?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        self.size = size;
        let digest = hasher.finalize();
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Moves the file to `relative` (under the data folder); it is no longer temporary.
    pub async fn keep_as(mut self, data: &Path, relative: &str) -> std::io::Result<()> {
        let dest = data.join(relative);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&self.path, &dest).await?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Where a library file goes, relative to the data folder.
pub fn library_path(owner: i64, sha256: &str, ext: &str) -> String {
    format!("media/{owner}/{sha256}.{ext}")
}

/// The extension to keep from an uploaded name: lowercase letters and digits, at most 5;
/// else `bin` (the content decides what the file is, never its name).
pub fn safe_ext(filename: &str) -> String {
    Path::new(filename)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

/// The name to show for an upload: its last path component, one line, at most 255
/// characters.
pub fn display_name(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let s: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if s.trim().is_empty() {
        "upload".into()
    } else {
        s.trim().to_owned()
    }
}

/// A library folder as given (`jingles/station ids`): segments of letters, digits, spaces,
/// `-`, `_` and `.`, no `..`, at most 8 deep and 200 characters. `""` is the top.
pub fn clean_folder(input: &str) -> Result<String, String> {
    let trimmed = input.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.len() > 200 {
        return Err("folder: at most 200 characters".into());
    }
    let segments: Vec<&str> = trimmed.split('/').map(str::trim).collect();
    if segments.len() > 8 {
        return Err("folder: at most 8 levels deep".into());
    }
    for seg in &segments {
        if seg.is_empty()
            || *seg == "."
            || *seg == ".."
            || !seg
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        {
            return Err(format!(
                "folder: {seg:?} is not a folder name (letters, digits, spaces, - _ .)"
            ));
        }
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_uploads_are_made_safe() {
        assert_eq!(safe_ext("Song.MP3"), "mp3");
        assert_eq!(safe_ext("../../etc/passwd"), "bin");
        assert_eq!(safe_ext("x.tar.gz"), "gz");
        assert_eq!(safe_ext("x.ph p"), "bin");
        assert_eq!(display_name("C:\\music\\a.mp3"), "a.mp3");
        assert_eq!(display_name("../../a\n.mp3"), "a.mp3");
        assert_eq!(
            clean_folder(" /jingles/ids/ ").as_deref(),
            Ok("jingles/ids")
        );
        assert!(clean_folder("a/../b").is_err());
        assert!(clean_folder("a//b").is_err());
        assert_eq!(clean_folder("").as_deref(), Ok(""));
    }
}
