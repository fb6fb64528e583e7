//! `tidecast backup --to FILE` and `tidecast restore --from FILE`.
//!
//! A backup is a gzipped tar:
//! - `manifest.json`: format, Tidecast version, schema version, rows and SHA-256 of each
//!   table file;
//! - `db/<table>.jsonl`: the database, read in one snapshot (a read transaction), so it is
//!   consistent while the server runs;
//! - `files/…`: the media library and the on-demand ladders, and with `--dvr` the DVR
//!   archives.
//!
//! It is written to `FILE.partial` and renamed when complete, so a stopped backup never
//! looks like a good one.
//!
//! Restore goes only into an empty data folder (and, for PostgreSQL, an empty database).
//! It reads the whole archive into a folder beside the target first: checksums, the gzip
//! trailer (a cut-off file fails here), format and schema versions (a backup from a newer
//! Tidecast is refused). Only then does it write the database in one transaction and move
//! the folder into place. A refusal leaves nothing behind.

mod tables;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{Backend, Db};

/// The archive layout this Tidecast writes and reads.
const FORMAT: u32 = 1;
/// Data-folder subfolders a backup carries (DVR only when asked).
const FOLDERS: &[&str] = &["media", "vod"];

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    tidecast: String,
    /// The newest migration the database had run.
    schema: i64,
    created_at: i64,
    backend: String,
    dvr: bool,
    tables: Vec<TableEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TableEntry {
    name: String,
    rows: u64,
    sha256: String,
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Progress lines for long work: at most one every two seconds.
struct Progress {
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            last: Instant::now(),
        }
    }

    fn say(&mut self, msg: impl FnOnce() -> String) {
        if self.last.elapsed().as_secs_f64() >= 2.0 {
            self.last = Instant::now();
            eprintln!("{}", msg());
        }
    }
}

pub async fn backup(config: &Config, to: &Path, dvr: bool) -> anyhow::Result<()> {
    if config.database_url.starts_with("sqlite:") && !sqlite_path(&config.database_url).exists() {
        bail!(
            "there is no database at {} (is --data right?)",
            sqlite_path(&config.database_url).display()
        );
    }
    let db = Db::connect(&config.database_url).await?;
    let schema = tables::schema_version(&db).await?;
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::Builder::new()
        .prefix(".tidecast-backup-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    // The database, in one snapshot.
    let mut conn = db.pool().acquire().await?;
    let begin = match db.backend() {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    sqlx::query(begin).execute(&mut *conn).await?;
    let present = tables::present(&mut conn, db.backend()).await?;
    if let Some(unknown) = present
        .iter()
        .find(|t| !tables::TABLES.contains(&t.as_str()))
    {
        bail!(
            "the database has a table this Tidecast does not know ({unknown}): back it up with the Tidecast that made it"
        );
    }
    let mut entries = Vec::new();
    for table in tables::TABLES {
        if !present.iter().any(|t| t == table) {
            continue;
        }
        let path = work.path().join(format!("{table}.jsonl"));
        let mut out = BufWriter::new(File::create(&path)?);
        let rows = tables::export(&mut conn, db.backend(), table, &mut out).await?;
        out.flush()?;
        drop(out);
        let sha = hex(Sha256::digest(std::fs::read(&path)?));
        eprintln!("database: {table}, {rows} rows");
        entries.push(TableEntry {
            name: (*table).to_owned(),
            rows,
            sha256: sha,
        });
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    drop(conn);
    db.close().await;
    let manifest = Manifest {
        format: FORMAT,
        tidecast: env!("CARGO_PKG_VERSION").to_owned(),
        schema,
        created_at: crate::db::now(),
        backend: format!("{:?}", db.backend()).to_lowercase(),
        dvr,
        tables: entries,
    };
    let data = config.data.clone();
    let to = to.to_owned();
    let work_dir = work.path().to_owned();
    let (files, bytes) =
        tokio::task::spawn_blocking(move || write_archive(&manifest, &work_dir, &data, dvr, &to))
            .await??;
    eprintln!("backup done: {files} files, {} MB", bytes / 1_000_000);
    Ok(())
}

fn write_archive(
    manifest: &Manifest,
    work: &Path,
    data: &Path,
    dvr: bool,
    to: &Path,
) -> anyhow::Result<(u64, u64)> {
    let partial = to.with_extension("partial");
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let result = (|| -> anyhow::Result<(u64, u64)> {
        let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        let json = serde_json::to_vec_pretty(manifest)?;
        append_bytes(&mut tar, "manifest.json", &json)?;
        for t in &manifest.tables {
            tar.append_path_with_name(
                work.join(format!("{}.jsonl", t.name)),
                format!("db/{}.jsonl", t.name),
            )?;
        }
        let mut folders: Vec<&str> = FOLDERS.to_vec();
        if dvr {
            folders.push("dvr");
        }
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut progress = Progress::new();
        for folder in folders {
            let root = data.join(folder);
            if !root.exists() {
                continue;
            }
            for path in walk(&root)? {
                let rel = path.strip_prefix(data).unwrap_or(&path);
                if skip(rel) {
                    continue;
                }
                // A file deleted since the walk (a user deleted it) is not an error.
                let Ok(mut f) = File::open(&path) else {
                    continue;
                };
                let len = f.metadata()?.len();
                let mut header = tar::Header::new_gnu();
                header.set_size(len);
                header.set_mode(0o644);
                header.set_mtime(0);
                tar.append_data(&mut header, Path::new("files").join(rel), &mut f)?;
                files += 1;
                bytes += len;
                progress.say(|| format!("files: {files} copied, {} MB", bytes / 1_000_000));
            }
        }
        let gz = tar.into_inner()?;
        let mut out = gz.finish()?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok((files, bytes))
    })();
    match result {
        Ok(counts) => {
            std::fs::rename(&partial, to)
                .with_context(|| format!("cannot move the backup to {}", to.display()))?;
            Ok(counts)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    tar.append_data(&mut header, name, bytes)?;
    Ok(())
}

/// Work in progress the server will sweep or finish: not part of a backup.
fn skip(rel: &Path) -> bool {
    rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == ".incoming" || s == ".exports" || s.ends_with(".partial") || s.ends_with(".part")
    })
}

/// Every file below `root`, in a stable order.
fn walk(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = read.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    Ok(out)
}

fn sqlite_path(url: &str) -> PathBuf {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    PathBuf::from(rest.split('?').next().unwrap_or_default())
}

pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let data = &config.data;
    if data.exists() && std::fs::read_dir(data)?.next().is_some() {
        bail!(
            "{} is not empty: restore only into an empty (or new) data folder; nothing was changed",
            data.display()
        );
    }
    let sqlite = config.database_url.starts_with("sqlite:");
    let db_rel = if sqlite {
        let path = sqlite_path(&config.database_url);
        let rel = path.strip_prefix(data).map(Path::to_owned).map_err(|_| {
            anyhow::anyhow!(
                "the SQLite database {} is outside the data folder {}: restore puts it inside (drop --database-url)",
                path.display(),
                data.display()
            )
        })?;
        Some(rel)
    } else {
        None
    };
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let parent = data
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.restoring-"))
        .tempdir_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    // Everything read and checked before anything is written where it stays.
    let from_owned = from.to_owned();
    let stage = staging.path().to_owned();
    let manifest = tokio::task::spawn_blocking(move || unpack(&from_owned, &stage)).await??;
    eprintln!(
        "backup from Tidecast {} ({} database, {}), checked",
        manifest.tidecast,
        manifest.backend,
        crate::time::rfc3339(manifest.created_at)
    );
    let url = match &db_rel {
        Some(rel) => format!("sqlite://{}", staging.path().join(rel).display()),
        None => config.database_url.clone(),
    };
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let mut tx = db.pool().begin().await?;
    if let Some(table) = tables::all_empty(&mut tx).await? {
        bail!(
            "the database already holds data (table {table}): restore only into an empty database; nothing was changed"
        );
    }
    for t in &manifest.tables {
        let file = File::open(staging.path().join(".db").join(format!("{}.jsonl", t.name)))?;
        let rows =
            tables::import(&mut tx, db.backend(), &t.name, BufReader::new(file).lines()).await?;
        if rows != t.rows {
            bail!("{}: {rows} rows read, the manifest says {}", t.name, t.rows);
        }
        eprintln!("database: {}, {rows} rows", t.name);
    }
    tx.commit().await?;
    db.close().await;
    std::fs::remove_dir_all(staging.path().join(".db"))?;
    let staged = staging.keep();
    if data.exists() {
        std::fs::remove_dir(data)?;
    }
    std::fs::rename(&staged, data)
        .with_context(|| format!("cannot move the restored files into {}", data.display()))?;
    eprintln!("restore done into {}", data.display());
    Ok(())
}

/// Reads the archive into `stage`: tables into `stage/.db/`, files into place. Fails on a
/// newer format or schema, a table that does not match its checksum, or a cut-off file.
fn unpack(from: &Path, stage: &Path) -> anyhow::Result<Manifest> {
    let file = File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let gz = flate2::read::GzDecoder::new(BufReader::new(file));
    let mut archive = tar::Archive::new(gz);
    let truncated = |e: std::io::Error| {
        anyhow::anyhow!(
            "{} is damaged or cut short ({e}): nothing was restored",
            from.display()
        )
    };
    let mut entries = archive.entries().map_err(truncated)?;
    let mut first = entries
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} is empty: not a Tidecast backup", from.display()))?
        .map_err(truncated)?;
    if first.path().map_err(truncated)?.as_os_str() != "manifest.json" {
        bail!(
            "{} is not a Tidecast backup (no manifest first)",
            from.display()
        );
    }
    let mut json = Vec::new();
    first.read_to_end(&mut json).map_err(truncated)?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .with_context(|| format!("{} has an unreadable manifest", from.display()))?;
    let ours = crate::db::latest_migration();
    if manifest.format > FORMAT || manifest.schema > ours {
        bail!(
            "this backup was made by a newer Tidecast ({}, format {}, schema {}); this one ({}) reads format {FORMAT} up to schema {ours}: upgrade Tidecast to restore it",
            manifest.tidecast,
            manifest.format,
            manifest.schema,
            env!("CARGO_PKG_VERSION")
        );
    }
    let db_dir = stage.join(".db");
    std::fs::create_dir_all(&db_dir)?;
    let mut progress = Progress::new();
    let mut files = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(truncated)?;
        let path = entry.path().map_err(truncated)?.into_owned();
        if let Ok(table) = path.strip_prefix("db") {
            let name = table.to_string_lossy().into_owned();
            let Some(t) = manifest
                .tables
                .iter()
                .find(|t| format!("{}.jsonl", t.name) == name)
            else {
                bail!(
                    "{} holds a table the manifest does not list ({name})",
                    from.display()
                );
            };
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(truncated)?;
            if hex(Sha256::digest(&bytes)) != t.sha256 {
                bail!(
                    "{}: table {} does not match its checksum: the file is damaged; nothing was restored",
                    from.display(),
                    t.name
                );
            }
            std::fs::write(db_dir.join(&name), bytes)?;
        } else if path.starts_with("files") {
            let rel = path.strip_prefix("files").unwrap_or(&path).to_owned();
            if rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                bail!(
                    "{} holds a file outside the data folder ({})",
                    from.display(),
                    path.display()
                );
            }
            let dest = stage.join(&rel);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            entry.unpack(&dest).map_err(truncated)?;
            files += 1;
            progress.say(|| format!("files: {files} read"));
        }
    }
    // The gzip trailer (CRC and length) is checked only when the stream is read to its end.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(truncated)?;
    for t in &manifest.tables {
        if !db_dir.join(format!("{}.jsonl", t.name)).exists() {
            bail!(
                "{} is cut short: table {} is missing; nothing was restored",
                from.display(),
                t.name
            );
        }
    }
    eprintln!("read {files} files");
    Ok(manifest)
}
