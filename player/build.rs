//! Builds the web UI and the players from `web/` (npm packages, bundled by esbuild) into
//! `OUT_DIR` and generates the table `lib.rs` embeds, so the binary serves them offline.
//!
//! `npm ci` runs only when `web/node_modules` is missing or older than the lock file; npm
//! and Node.js must be installed (`scripts/run.sh` and `scripts/test.sh` install them).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Bundles esbuild makes: (entry point, output name).
const ENTRIES: &[(&str, &str)] = &[("src/ui/ui.jsx", "ui"), ("src/player/player.js", "player")];

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let web = manifest.join("web");
    let out = PathBuf::from(env("OUT_DIR")).join("assets");
    for watched in ["src", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    install(&web);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", out.display())));
    bundle(&web, &out);
    // hls.js as published (light build: no subtitles or DRM, which the players do not use);
    // loaded only by browsers without native HLS.
    copy(
        &web.join("node_modules/hls.js/dist/hls.light.min.js"),
        &out.join("hls.js"),
    );
    generate(&out);
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")))
}

fn fail(msg: &str) -> ! {
    panic!("building the web UI: {msg}");
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn install(web: &Path) {
    let stamp = web.join("node_modules/.package-lock.json");
    let lock = web.join("package-lock.json");
    let fresh = matches!((modified(&stamp), modified(&lock)), (Some(s), Some(l)) if s >= l);
    if fresh {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run npm ({e}); the UI's libraries come from the npm registry at build \
                 time: install Node.js and npm (Debian: apt install nodejs npm)"
            ))
        });
    if !status.success() {
        fail(&format!("`npm ci` in {} failed ({status})", web.display()));
    }
}

fn bundle(web: &Path, out: &Path) {
    let mut cmd = Command::new(web.join("node_modules/.bin/esbuild"));
    for (entry, name) in ENTRIES {
        cmd.arg(format!("{name}={entry}"));
    }
    let status = cmd
        .args([
            "--bundle",
            "--minify",
            "--format=esm",
            // Safari 15 is the oldest the players promise (iOS 15 phones; esbuild knows 14 mis-handles destructuring).
            "--target=es2020,safari15,chrome90,firefox90",
            "--jsx=automatic",
            "--jsx-import-source=preact",
            "--log-level=warning",
            "--legal-comments=none",
        ])
        .arg(format!("--outdir={}", out.display()))
        .current_dir(web)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run esbuild: {e}")));
    if !status.success() {
        fail(&format!("esbuild failed ({status})"));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| fail(&format!("cannot copy {}: {e}", from.display())));
}

/// FNV-1a: a content hash for cache-busting URLs (not security).
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn generate(out: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", out.display())))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".gz"))
        .collect();
    names.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for name in &names {
        let path = out.join(name);
        let body = std::fs::read(&path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
        fnv(&mut hash, name.as_bytes());
        fnv(&mut hash, &body);
        let gz = out.join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&body)
            .and_then(|_| enc.finish())
            .and_then(|z| std::fs::write(&gz, z))
            .unwrap_or_else(|e| fail(&format!("cannot gzip {name}: {e}")));
        let _ = writeln!(
            table,
            "    Asset {{ name: {name:?}, content_type: {ct:?}, body: include_bytes!({p:?}), gzip: include_bytes!({g:?}) }},",
            ct = content_type(name),
            p = path.display().to_string(),
            g = gz.display().to_string(),
        );
    }
    table.push_str("];\n");
    let _ = writeln!(table, "pub const VERSION: &str = \"{:012x}\";", hash >> 16);
    let table_rs = out.join("assets.rs");
    std::fs::write(&table_rs, table)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", table_rs.display())));
}
