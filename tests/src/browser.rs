//! Browser scenarios (tests/browser/*.mjs): Debian's headless Chromium driven by
//! playwright-core against a running server. Each script takes one JSON argument and
//! prints one JSON report line.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// `target/screenshots/<name>`: where a scenario saves its screenshots (CI keeps them).
pub fn screenshots(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target
    let target = exe
        .parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.parent())
        .unwrap()
        .to_path_buf();
    target.join("screenshots").join(name)
}

/// Runs `tests/browser/<script>` with `config`; returns its report (whether or not it
/// passed: the caller asserts, so a failure shows the report).
pub fn run(script: &str, config: &Value) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        dir.join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium and `npm ci --prefix tests/browser` (scripts/test.sh installs both)"
    );
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(config.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        panic!(
            "{script} printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Panics with the report unless every step passed and no page logged an error.
pub fn assert_passed(report: &Value, logs: &str) {
    let failed: Vec<&Value> = report["steps"]
        .as_array()
        .map(|s| s.iter().filter(|s| s["ok"] != true).collect())
        .unwrap_or_default();
    assert!(
        report["ok"] == true && failed.is_empty(),
        "a browser step failed: {failed:#?}\nreport: {report:#}\nserver log:\n{logs}"
    );
    assert_eq!(
        report["consoleErrors"],
        serde_json::json!([]),
        "pages logged errors: {report:#}"
    );
}
