//! `GET /api/v1/system`: the admin dashboard's view of the server — CPU, memory and disk,
//! services on air and listeners now, and problems worth a look (dead air, a transcoder
//! dropping frames or falling behind, suspended services).
//!
//! Server figures come from Linux's /proc and statvfs; elsewhere they are `null`.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tidecast_engine::{ServiceId, SessionRole};

use crate::auth::Caller;
use crate::db::services::{self, ServiceScope};
use crate::db::users::Role;

use super::error::{ApiError, ApiResult};
use crate::app::AppState;

#[derive(Debug, Serialize)]
pub struct SystemView {
    version: &'static str,
    uptime_s: u64,
    server: Server,
    services: usize,
    live: usize,
    listeners: usize,
    problems: Vec<Problem>,
}

#[derive(Debug, Default, Serialize)]
struct Server {
    cores: usize,
    /// Busy share of all cores over a quarter of a second, 0-100.
    cpu_percent: Option<f64>,
    load_1m: Option<f64>,
    memory_total_bytes: Option<u64>,
    memory_available_bytes: Option<u64>,
    /// This process's resident memory.
    process_rss_bytes: Option<u64>,
    disk_total_bytes: Option<u64>,
    disk_free_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Problem {
    service: i64,
    name: String,
    /// `dead_air`, `transcoder_drops`, `transcoder_restarts`, `suspended` or
    /// `unreadable_settings`.
    kind: &'static str,
    message: String,
}

pub async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SystemView>> {
    if caller.role() != Role::Admin {
        return Err(ApiError::forbidden("only admins see the server's figures"));
    }
    let (all, _) = services::list(&state.db, ServiceScope::All, None, i64::MAX, 0).await?;
    let mut live = 0;
    let mut listeners = 0;
    let mut problems = Vec::new();
    for s in &all {
        let mounts: Vec<_> = state
            .engine
            .mounts()
            .for_service(ServiceId(s.id))
            .iter()
            .map(|m| m.status())
            .collect();
        let hls = state.engine.hls().get(&s.slug);
        listeners += mounts.iter().map(|m| m.listeners).sum::<usize>()
            + hls.as_ref().map_or(0, |h| h.viewers.count());
        if state
            .engine
            .registry()
            .count(ServiceId(s.id), SessionRole::Source)
            > 0
            || mounts.iter().any(|m| m.on_air.is_some())
        {
            live += 1;
        }
        for message in s.problems() {
            problems.push(Problem {
                service: s.id,
                name: s.name.clone(),
                kind: "unreadable_settings",
                message,
            });
        }
        if s.is_suspended() {
            problems.push(Problem {
                service: s.id,
                name: s.name.clone(),
                kind: "suspended",
                message: "suspended: listeners and sources are refused".into(),
            });
        }
        for m in &mounts {
            if let Some(since) = m.silent_since {
                let secs = since.elapsed().map_or(0, |d| d.as_secs());
                problems.push(Problem {
                    service: s.id,
                    name: s.name.clone(),
                    kind: "dead_air",
                    message: format!("/{} has been silent for {secs} s", m.name),
                });
            }
        }
        if let Some(ladder) = hls.as_ref().and_then(|h| h.ladder()) {
            let dropped = ladder.stats.dropped_in.load(Relaxed)
                + ladder
                    .renditions
                    .iter()
                    .map(|(_, r)| r.dropped.load(Relaxed))
                    .sum::<u64>();
            if dropped > 0 {
                problems.push(Problem {
                    service: s.id,
                    name: s.name.clone(),
                    kind: "transcoder_drops",
                    message: format!(
                        "the transcoder dropped {dropped} frames (the server may be short of CPU)"
                    ),
                });
            }
            let restarts = ladder.stats.restarts.load(Relaxed);
            if restarts > 0 {
                problems.push(Problem {
                    service: s.id,
                    name: s.name.clone(),
                    kind: "transcoder_restarts",
                    message: format!("the transcoder restarted {restarts} times"),
                });
            }
        }
    }
    Ok(Json(SystemView {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        server: server(&state.data_dir).await,
        services: all.len(),
        live,
        listeners,
        problems,
    }))
}

async fn server(data: &std::path::Path) -> Server {
    let mut s = Server {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..Server::default()
    };
    let first = cpu_times().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    if let (Some((busy0, total0)), Some((busy1, total1))) = (first, cpu_times().await)
        && total1 > total0
    {
        let pct = (busy1 - busy0) as f64 * 100.0 / (total1 - total0) as f64;
        s.cpu_percent = Some((pct * 10.0).round() / 10.0);
    }
    if let Ok(text) = tokio::fs::read_to_string("/proc/loadavg").await {
        s.load_1m = text.split_whitespace().next().and_then(|v| v.parse().ok());
    }
    if let Ok(text) = tokio::fs::read_to_string("/proc/meminfo").await {
        let kb = |key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        s.memory_total_bytes = kb("MemTotal:");
        s.memory_available_bytes = kb("MemAvailable:");
    }
    if let Ok(text) = tokio::fs::read_to_string("/proc/self/status").await {
        s.process_rss_bytes = text
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v * 1024);
    }
    if let Ok(fs) = rustix::fs::statvfs(data) {
        s.disk_total_bytes = Some(fs.f_blocks.saturating_mul(fs.f_frsize));
        s.disk_free_bytes = Some(fs.f_bavail.saturating_mul(fs.f_frsize));
    }
    s
}

/// (busy, total) jiffies of all cores, from the first line of /proc/stat.
async fn cpu_times() -> Option<(u64, u64)> {
    let text = tokio::fs::read_to_string("/proc/stat").await.ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}
