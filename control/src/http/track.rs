//! Counts and times the HTTP requests the control plane answers, by route template (not
//! the raw path: `/api/v1/services/{id}` is one series however many services there are),
//! method and status, for `/metrics`.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds (Prometheus' defaults).
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_secs: f64,
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [u64; BOUNDS.len() + 1],
}

type Key = (String, String, u16);

static SERIES: LazyLock<Mutex<BTreeMap<Key, Series>>> = LazyLock::new(Default::default);

/// Middleware: times the request until its response head and records it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    if let Ok(mut all) = SERIES.lock() {
        let s = all.entry((route, method, status)).or_default();
        s.count += 1;
        s.sum_secs += secs;
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        s.buckets[i] += 1;
    }
    resp
}

/// One series as `/metrics` shows it.
#[derive(Debug)]
pub struct Row {
    pub route: String,
    pub method: String,
    pub status: u16,
    pub count: u64,
    pub sum_secs: f64,
    /// Cumulative (upper bound, count), ending with +Inf.
    pub buckets: Vec<(f64, u64)>,
}

pub fn snapshot() -> Vec<Row> {
    let Ok(all) = SERIES.lock() else {
        return Vec::new();
    };
    all.iter()
        .map(|((route, method, status), s)| {
            let mut acc = 0;
            let buckets = BOUNDS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(s.buckets.iter())
                .map(|(le, n)| {
                    acc += n;
                    (le, acc)
                })
                .collect();
            Row {
                route: route.clone(),
                method: method.clone(),
                status: *status,
                count: s.count,
                sum_secs: s.sum_secs,
                buckets,
            }
        })
        .collect()
}
