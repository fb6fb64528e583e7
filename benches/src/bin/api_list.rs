//! API benchmark: `GET /api/v1/services` with 1,000 services in the database, on SQLite and
//! PostgreSQL. Load comes from `wrk` (a separate process, as in the peer benchmarks);
//! reports requests/s and latency percentiles as wrk measured them.
//!
//! Run with `benches/run.sh api` (builds release, installs wrk), or by hand:
//! `TIDECAST_BIN=target/release/tidecast target/release/api_list [--seconds 10] [--connections 16] [--runs 3] [--backend sqlite|postgres]`.
//! Each figure is the median of `--runs` wrk runs against the same server.

#![allow(clippy::unwrap_used)] // a benchmark driver: failing loudly is the point

use std::process::Command;

use anyhow::{Context, bail};
use tidecast_tests::{Backend, Server, Store, json};

const SERVICES: usize = 1000;

#[derive(Debug)]
struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes_per_req: f64,
}

fn parse_ms(s: &str) -> f64 {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("us") {
        v.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse().unwrap_or(f64::NAN)
    } else if let Some(v) = s.strip_suffix('s') {
        v.parse::<f64>().unwrap_or(f64::NAN) * 1000.0
    } else {
        f64::NAN
    }
}

fn wrk(url: &str, token: &str, seconds: u32, connections: u32) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") {
        bail!("wrk failed or saw errors:\n{text}");
    }
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context("no Requests/sec")?;
    let p50 = parse_ms(&field("50%").context("no p50")?);
    let p99 = parse_ms(&field("99%").context("no p99")?);
    // "123456 requests in 10.00s, 1.23GB read"
    let summary = text
        .lines()
        .find(|l| l.contains("requests in"))
        .unwrap_or_default();
    let requests: f64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN);
    let read = summary
        .split(',')
        .nth(1)
        .unwrap_or_default()
        .trim()
        .trim_end_matches(" read");
    let bytes = read
        .strip_suffix("GB")
        .map(|v| v.parse::<f64>().unwrap_or(0.0) * 1e9)
        .or_else(|| {
            read.strip_suffix("MB")
                .map(|v| v.parse::<f64>().unwrap_or(0.0) * 1e6)
        })
        .or_else(|| {
            read.strip_suffix("KB")
                .map(|v| v.parse::<f64>().unwrap_or(0.0) * 1e3)
        })
        .unwrap_or(f64::NAN);
    Ok(WrkResult {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        bytes_per_req: bytes / requests,
    })
}

async fn seed(srv: &Server, token: &str) {
    let mut owners = Vec::new();
    for i in 0..10 {
        owners.push(
            srv.create_user(token, &format!("customer{i}"), "customer", json!({}))
                .await,
        );
    }
    for i in 0..SERVICES {
        let kind = if i % 2 == 0 { "radio" } else { "video" };
        let body = json!({"owner": owners[i % owners.len()], "name": format!("Station {i}"), "kind": kind});
        let (status, resp) = srv.post("/api/v1/services", token, body).await;
        assert_eq!(status.as_u16(), 201, "{resp}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u32| -> u32 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 16);
    let runs = arg("--runs", 3).max(1);
    if std::env::var_os("TIDECAST_BIN").is_none() {
        bail!("set TIDECAST_BIN to a release build of tidecast (benches/run.sh does)");
    }
    println!("{runs} runs of {seconds} s each, {connections} connections, medians:");
    println!("| database | request | req/s | p50 ms | p99 ms | bytes/req |");
    println!("|---|---|---:|---:|---:|---:|");
    let only = args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let backends = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| {
            only.as_deref()
                .is_none_or(|o| format!("{b:?}").eq_ignore_ascii_case(o))
        });
    for backend in backends {
        let store = Store::new(backend).await;
        let srv = Server::start(&store).await;
        let token = srv.admin_token().await;
        seed(&srv, &token).await;
        let (_, all) = srv.get("/api/v1/services?limit=1", &token).await;
        assert_eq!(all["total"], SERVICES as u64);
        for (label, path) in [
            ("default page (100)", "/api/v1/services"),
            ("all 1000", "/api/v1/services?limit=1000"),
        ] {
            // A short warm-up so caches and connection pools are filled.
            wrk(&srv.url(path), &token, 2, connections)?;
            let mut results = Vec::new();
            for _ in 0..runs {
                match wrk(&srv.url(path), &token, seconds, connections) {
                    Ok(r) => results.push(r),
                    Err(e) => {
                        let problems: Vec<_> = srv
                            .logs()
                            .lines()
                            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                            .map(str::to_owned)
                            .collect();
                        bail!(
                            "{e:#}\nserver warnings and errors:\n{}",
                            problems.join("\n")
                        );
                    }
                }
            }
            let median = |f: fn(&WrkResult) -> f64| {
                let mut v: Vec<f64> = results.iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            println!(
                "| {backend:?} | {label} | {:.0} | {:.2} | {:.2} | {:.0} |",
                median(|r| r.rps),
                median(|r| r.p50_ms),
                median(|r| r.p99_ms),
                median(|r| r.bytes_per_req)
            );
        }
        srv.stop();
    }
    Ok(())
}
