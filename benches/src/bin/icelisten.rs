//! icelisten: a swarm of N concurrent HTTP stream listeners (Icecast style) against one
//! mount, each reading for a bounded time. Measures time to first byte (TTFB) and whether
//! every listener kept up with the stream's bitrate. Used by `benches/icecast/fanout.py`
//! to load Tidecast and icecast2 with the same client.
//!
//! Run: `benches/run.sh icecast` (builds it), or by hand after
//! `cargo build --release -p tidecast-benches --bin icelisten`:
//!
//! ```text
//! target/release/icelisten HOST PORT PATH N DURATION_S RAMP_PER_S EXPECTED_BPS
//! target/release/icelisten 127.0.0.1 18001 /bench 100 30 1000 16000
//! ```
//!
//! Prints one JSON object (TTFB percentiles, keep-up share, byte rates, errors by kind).
//!
//! Safety bounds: loopback only (refuses any HOST that is not 127.0.0.0/8 or ::1),
//! N <= 20,000, DURATION <= 120 s, ramp <= 120 s. Listener i starts at i / RAMP_PER_S;
//! it must get its first body byte within DURATION of its connect start (else it counts as
//! failed), then reads for DURATION after that first byte and hangs up. So the whole run
//! ends by ramp + 2 × DURATION.
//!
//! "kept up": the body bytes received in [first byte + WARM, first byte + DURATION) are at
//! least 0.95 × EXPECTED_BPS × (DURATION − WARM), with WARM = min(10 s, DURATION / 3). This
//! keeps the server's initial burst (burst-on-connect) and accept delays out of the
//! delivery-rate test; those show in TTFB instead.
//!
//! Ported from the team's peer-benchmark listener (peerbench `icelisten`), same method and
//! output fields, so figures stay comparable with the earlier baselines.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

const MAX_LISTENERS: usize = 20_000;
const MAX_DURATION: Duration = Duration::from_secs(120);
const MAX_RAMP: Duration = Duration::from_secs(120);
const MAX_HEAD: usize = 65_536;

/// What one listener saw.
#[derive(Debug, Default)]
struct Outcome {
    ok: bool,
    err: Option<String>,
    /// connect start → first body byte
    ttfb_ms: f64,
    /// connect start → TCP established
    connect_ms: f64,
    total: u64,
    /// body bytes received in [first byte + WARM, first byte + DURATION)
    steady: u64,
}

async fn listen(addr: SocketAddr, path: &str, dur: Duration, warm: Duration) -> Outcome {
    let mut r = Outcome::default();
    let t0 = Instant::now();
    // The first byte must come by t0 + DURATION; then the listener reads for DURATION more.
    let mut deadline = t0 + dur;
    let mut first: Option<Instant> = None;
    let res: Result<(), String> = async {
        let mut s = match timeout_at(deadline.into(), TcpStream::connect(addr)).await {
            Err(_) => return Err("connect timeout".to_owned()),
            Ok(x) => x.map_err(|e| format!("connect: {e}"))?,
        };
        r.connect_ms = t0.elapsed().as_secs_f64() * 1e3;
        let _ = s.set_nodelay(true);
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: tidecast-icelisten\r\n\r\n"
        );
        match timeout_at(deadline.into(), s.write_all(req.as_bytes())).await {
            Err(_) => return Err("write timeout".to_owned()),
            Ok(x) => x.map_err(|e| format!("write: {e}"))?,
        }
        let mut buf = vec![0u8; 16_384];
        let mut head: Vec<u8> = Vec::with_capacity(1024);
        let mut in_body = false;
        loop {
            let n = match timeout_at(deadline.into(), s.read(&mut buf)).await {
                Err(_) => return Ok(()), // deadline: normal end (or no first byte in time)
                Ok(x) => x.map_err(|e| format!("read: {e}"))?,
            };
            if n == 0 {
                return Err("eof".to_owned());
            }
            let now = Instant::now();
            let mut body = &buf[..n];
            if !in_body {
                head.extend_from_slice(body);
                let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    if head.len() > MAX_HEAD {
                        return Err("header too big".to_owned());
                    }
                    continue;
                };
                let line_end = head.iter().position(|&c| c == b'\r').unwrap_or(0);
                let line = String::from_utf8_lossy(&head[..line_end]);
                let status: u16 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                if status != 200 {
                    return Err(format!("status {status}"));
                }
                in_body = true;
                let rest = head.len() - (p + 4);
                body = &buf[n - rest..n];
            }
            if body.is_empty() {
                continue;
            }
            let started = *first.get_or_insert_with(|| {
                r.ttfb_ms = (now - t0).as_secs_f64() * 1e3;
                deadline = now + dur;
                now
            });
            r.total += body.len() as u64;
            if now - started >= warm {
                r.steady += body.len() as u64;
            }
        }
    }
    .await;
    match res {
        Ok(()) if r.total > 0 => r.ok = true,
        Ok(()) => r.err = Some("no first byte in time".to_owned()),
        Err(e) => r.err = Some(e),
    }
    r
}

/// Nearest-rank percentile; `None` for no samples.
fn pct(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    Some(v[i])
}

fn round1(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 10.0).round() / 10.0)
}

/// Own user+system CPU seconds, from /proc/self/stat (CLK_TCK is 100 on Linux).
fn cpu_s() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| -> f64 { f.get(i).and_then(|x| x.parse().ok()).unwrap_or(0.0) };
    (tick(11) + tick(12)) / 100.0
}

/// The soft limit on open files, from /proc/self/limits.
fn nofile_limit() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

struct Args {
    addr: SocketAddr,
    path: String,
    n: usize,
    dur: Duration,
    ramp: f64,
    bps: f64,
}

fn parse_args() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 8 {
        return Err("usage: icelisten HOST PORT PATH N DURATION_S RAMP_PER_S EXPECTED_BPS".into());
    }
    let ip: IpAddr = a[1]
        .parse()
        .map_err(|_| format!("HOST must be an IP literal, not {:?}", a[1]))?;
    if !ip.is_loopback() {
        return Err(format!("refusing non-loopback target {ip}"));
    }
    let port: u16 = a[2].parse().map_err(|_| "PORT: a number 1-65535")?;
    let path = a[3].clone();
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return Err("PATH must start with / and have no spaces".into());
    }
    let n: usize = a[4].parse().map_err(|_| "N: a whole number")?;
    let secs: f64 = a[5].parse().map_err(|_| "DURATION_S: a number")?;
    let ramp: f64 = a[6].parse().map_err(|_| "RAMP_PER_S: a number")?;
    let bps: f64 = a[7].parse().map_err(|_| "EXPECTED_BPS: a number")?;
    if n == 0 || n > MAX_LISTENERS {
        return Err(format!("bounds: 1 <= N <= {MAX_LISTENERS}"));
    }
    if !(secs.is_finite() && secs >= 1.0 && secs <= MAX_DURATION.as_secs_f64()) {
        return Err(format!(
            "bounds: 1 <= DURATION_S <= {}",
            MAX_DURATION.as_secs()
        ));
    }
    if !(ramp.is_finite() && ramp > 0.0 && n as f64 / ramp <= MAX_RAMP.as_secs_f64()) {
        return Err(format!(
            "bounds: RAMP_PER_S > 0 and N / RAMP_PER_S <= {} s",
            MAX_RAMP.as_secs()
        ));
    }
    if !(bps.is_finite() && bps > 0.0) {
        return Err("EXPECTED_BPS must be > 0".into());
    }
    if let Some(limit) = nofile_limit()
        && n + 32 > limit
    {
        return Err(format!(
            "open-file limit {limit} is too low for {n} listeners (ulimit -n {})",
            n + 32
        ));
    }
    Ok(Args {
        addr: SocketAddr::new(ip, port),
        path,
        n,
        dur: Duration::from_secs_f64(secs),
        ramp,
        bps,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("icelisten: {e}");
            return ExitCode::from(2);
        }
    };
    let Args {
        addr,
        path,
        n,
        dur,
        ramp,
        bps,
    } = args;
    let warm = Duration::from_secs(10).min(dur / 3);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / ramp);
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            listen(addr, &path, dur, warm).await
        }));
    }
    let mut rs = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok(r) => rs.push(r),
            Err(e) => rs.push(Outcome {
                err: Some(format!("task: {e}")),
                ..Outcome::default()
            }),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let steady_s = (dur - warm).as_secs_f64();
    let need = 0.95 * bps * steady_s;
    let ok = rs.iter().filter(|r| r.ok).count();
    let kept = rs
        .iter()
        .filter(|r| r.ok && r.steady as f64 >= need)
        .count();
    let mut ttfb: Vec<f64> = rs
        .iter()
        .filter(|r| r.total > 0)
        .map(|r| r.ttfb_ms)
        .collect();
    let mut conn: Vec<f64> = rs
        .iter()
        .filter(|r| r.connect_ms > 0.0)
        .map(|r| r.connect_ms)
        .collect();
    let mut rate: Vec<f64> = rs
        .iter()
        .filter(|r| r.ok)
        .map(|r| r.steady as f64 / steady_s)
        .collect();
    let total: u64 = rs.iter().map(|r| r.total).sum();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for e in rs.iter().filter_map(|r| r.err.as_ref()) {
        *errors.entry(e.chars().take(40).collect()).or_default() += 1;
    }
    let out = json!({
        "n": n,
        "ok": ok,
        "kept_up": kept,
        "kept_up_pct": (10_000.0 * kept as f64 / n as f64).round() / 100.0,
        "ttfb_ms_p50": round1(pct(&mut ttfb, 50.0)),
        "ttfb_ms_p95": round1(pct(&mut ttfb, 95.0)),
        "ttfb_ms_p99": round1(pct(&mut ttfb, 99.0)),
        "ttfb_ms_max": round1(pct(&mut ttfb, 100.0)),
        "connect_ms_p99": round1(pct(&mut conn, 99.0)),
        "steady_Bps_min": pct(&mut rate, 0.0).map(f64::round),
        "steady_Bps_p5": pct(&mut rate, 5.0).map(f64::round),
        "steady_Bps_p50": pct(&mut rate, 50.0).map(f64::round),
        "total_MB": (total as f64 / 1e5).round() / 10.0,
        "wall_s": (wall * 10.0).round() / 10.0,
        "client_cpu_s": (cpu_s() * 100.0).round() / 100.0,
        "errors": errors,
    });
    println!("{out}");
    ExitCode::SUCCESS
}
