//! The server process's own figures (memory, file descriptors, threads, async tasks), read
//! at `/metrics` scrape time: what a soak watches for leaks and an operator for limits.

/// One figure of the process, under its Prometheus name.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    pub name: &'static str,
    pub help: &'static str,
    pub value: u64,
}

/// Reads the figures this platform offers (`/proc/self` on Linux, the current Tokio
/// runtime); one that cannot be read is left out rather than shown as 0.
pub fn figures() -> Vec<Figure> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let read = [
        (
            "process_resident_memory_bytes",
            "Resident memory",
            field("VmRSS:").map(|kb| kb * 1024),
        ),
        (
            "process_open_fds",
            "Open file descriptors (sockets included)",
            std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
        ),
        (
            "process_max_fds",
            "The soft limit on open file descriptors (what the connection caps are measured against)",
            soft_open_files_limit(),
        ),
        (
            "process_threads",
            "Operating-system threads",
            field("Threads:"),
        ),
        (
            "tidecast_runtime_tasks",
            "Async tasks alive (spawned and not yet finished)",
            tokio::runtime::Handle::try_current()
                .ok()
                .map(|h| h.metrics().num_alive_tasks() as u64),
        ),
    ];
    read.into_iter()
        .filter_map(|(name, help, value)| value.map(|value| Figure { name, help, value }))
        .collect()
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
