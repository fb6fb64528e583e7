//! The server process's own figures (memory, file descriptors, threads, async tasks), read
//! at `/metrics` scrape time: what a soak watches for leaks and an operator for limits.

/// One reading of the process's resources.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources {
    pub resident_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    /// The soft limit on open files (what the connection caps are measured against).
    pub max_fds: Option<u64>,
    pub threads: Option<u64>,
    /// Tokio tasks alive on the runtime (spawned and not yet finished).
    pub tasks: Option<u64>,
}

impl Resources {
    /// Reads `/proc/self` (Linux; `None` elsewhere) and the current Tokio runtime.
    pub fn read() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Self {
            resident_bytes: field("VmRSS:").map(|kb| kb * 1024),
            threads: field("Threads:"),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: soft_open_files_limit(),
            tasks: tokio::runtime::Handle::try_current()
                .ok()
                .map(|h| h.metrics().num_alive_tasks() as u64),
        }
    }
}

/// The soft "Max open files" of `/proc/self/limits` (`None` when unlimited or unreadable).
fn soft_open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
