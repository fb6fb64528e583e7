//! `GET /metrics`: the engine's live state in Prometheus' text format (0.0.4), read at
//! scrape time: listeners and viewers, sources on air, transcoder speed and drops per
//! ladder and rendition, AutoDJ and dead air, DVR archives; and the control plane's HTTP
//! requests by route (counts, latency histograms) and database pool use. For admins (a login token or an admin's API
//! key as `Authorization: Bearer`, which Prometheus' `authorization` setting sends).
//!
//! Written by hand rather than with a metrics registry crate: every figure already lives in
//! the engine (atomics, mount state) and is read when scraped, so a registry would only copy
//! it; what remains is the text format (HELP/TYPE lines and escaped label values).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::users::Role;

/// Metric families in the order they were first written, each with its samples.
#[derive(Debug, Default)]
struct Exposition {
    families: Vec<Family>,
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    /// (name suffix such as `_bucket`, labels, value)
    samples: Vec<(&'static str, String, f64)>,
}

impl Exposition {
    fn add(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        self.add_suffixed(name, "", kind, help, labels, value);
    }

    fn add_suffixed(
        &mut self,
        name: &'static str,
        suffix: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let at = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    help,
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let labels = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        self.families[at].samples.push((suffix, labels, value));
    }

    /// A histogram: cumulative `buckets` (upper bound, count), then `_sum` and `_count`.
    fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        for (le, n) in buckets {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.add_suffixed(name, "_bucket", "histogram", help, &with_le, *n as f64);
        }
        self.add_suffixed(name, "_sum", "histogram", help, labels, sum);
        self.add_suffixed(name, "_count", "histogram", help, labels, count as f64);
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.add(name, "gauge", help, labels, v);
    }

    fn counter(&mut self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.add(name, "counter", help, labels, v);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
            for (suffix, labels, v) in &f.samples {
                if labels.is_empty() {
                    let _ = writeln!(out, "{}{suffix} {v}", f.name);
                } else {
                    let _ = writeln!(out, "{}{suffix}{{{labels}}} {v}", f.name);
                }
            }
        }
        out
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.role() != Role::Admin {
        return ApiError::forbidden("metrics are for administrators").into_response();
    }
    let mut m = Exposition::default();
    let engine = &state.engine;
    m.gauge("tidecast_up", "1 while the server answers", &[], 1.0);
    for mount in engine.mounts().all() {
        let st = mount.status();
        let service = st.service_id.0.to_string();
        let labels = [("service", service.as_str()), ("mount", st.name.as_str())];
        m.gauge(
            "tidecast_icecast_listeners",
            "Listeners connected to an Icecast mount",
            &labels,
            st.listeners as f64,
        );
        m.gauge(
            "tidecast_source_on_air",
            "1 while a source (live, DJ, AutoDJ or transcoder feed) is on air on the mount",
            &labels,
            f64::from(u8::from(st.on_air.is_some())),
        );
        m.counter(
            "tidecast_source_received_bytes_total",
            "Bytes the mount's sources on air sent in (ingest; its rate is the ingest bitrate)",
            &labels,
            st.received as f64,
        );
        if let Some(kbps) = st.info.bitrate_kbps {
            m.gauge(
                "tidecast_source_bitrate_kbps",
                "Bitrate the source on air announced (ice-audio-info / icy-br)",
                &labels,
                f64::from(kbps),
            );
        }
        m.counter(
            "tidecast_dead_air_total",
            "Dead air found on the mount (a live source silent past the threshold)",
            &labels,
            st.dead_air_events as f64,
        );
    }
    for (target, service, st) in engine.targets().all() {
        let (service, target) = (service.0.to_string(), target.to_string());
        let labels = [("service", service.as_str()), ("target", target.as_str())];
        m.gauge(
            "tidecast_target_live",
            "1 while a publish target (restream) is connected and sending",
            &labels,
            f64::from(u8::from(st.state == tidecast_engine::targets::State::Live)),
        );
        m.counter(
            "tidecast_target_connections_total",
            "Connections a publish target has made (more than one: it reconnected)",
            &labels,
            st.connections as f64,
        );
    }
    for (service, bytes) in engine.traffic().totals() {
        m.counter(
            "tidecast_bytes_sent_total",
            "Bytes sent to a service's listeners and viewers (Icecast and HLS) since the server started",
            &[("service", service.0.to_string().as_str())],
            bytes as f64,
        );
    }
    for archive in engine.dvr().map(|d| d.all()).unwrap_or_default() {
        let service = archive.service.0.to_string();
        let dir = archive.dir();
        let stream = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let labels = [("service", service.as_str()), ("archive", stream.as_str())];
        let (bytes, segments) = {
            let ix = archive.index.read().unwrap_or_else(|p| p.into_inner());
            (ix.bytes(), ix.entries().len())
        };
        m.gauge(
            "tidecast_dvr_bytes",
            "Bytes a DVR archive takes on disk",
            &labels,
            bytes as f64,
        );
        m.gauge(
            "tidecast_dvr_segments",
            "Segments in a DVR archive",
            &labels,
            segments as f64,
        );
        m.gauge(
            "tidecast_dvr_recording",
            "1 while a publisher is being recorded into the archive",
            &labels,
            f64::from(u8::from(archive.is_recording())),
        );
        m.counter(
            "tidecast_dvr_dropped_segments_total",
            "Segments the archive missed because the disk did not keep up or failed (live was not affected)",
            &labels,
            archive.dropped.load(Relaxed) as f64,
        );
    }
    for stream in engine.hls().all() {
        let service = stream.service_id().0.to_string();
        let slug = stream.slug();
        let labels = [("service", service.as_str()), ("stream", slug)];
        if !slug.contains('/') {
            m.gauge(
                "tidecast_hls_viewers",
                "HLS viewers of a service (players that polled within two segments)",
                &labels,
                stream.viewers.count() as f64,
            );
            m.gauge(
                "tidecast_hls_live",
                "1 while the stream's publisher is connected",
                &labels,
                f64::from(u8::from(stream.is_live())),
            );
        }
        if let Some(kbps) = stream.recent_bitrate_kbps() {
            m.gauge(
                "tidecast_hls_bitrate_kbps",
                "Bitrate of the stream's recent segments",
                &labels,
                f64::from(kbps),
            );
        }
        let Some(report) = stream.ladder() else {
            continue;
        };
        let st = &report.stats;
        let secs = report.running_secs();
        m.gauge(
            "tidecast_transcoder_input_fps",
            "Pictures the ladder decodes per second, since it started",
            &labels,
            report.input_fps(),
        );
        m.gauge(
            "tidecast_transcoder_speed",
            "Source seconds per second of the busiest stage's work (above 1 keeps up)",
            &labels,
            report.speed(),
        );
        m.counter(
            "tidecast_transcoder_dropped_input_frames_total",
            "Source pictures the ladder dropped because it fell behind",
            &labels,
            st.dropped_in.load(Relaxed) as f64,
        );
        m.counter(
            "tidecast_transcoder_restarts_total",
            "Times the ladder restarted after a failure",
            &labels,
            st.restarts.load(Relaxed) as f64,
        );
        for (name, r) in &report.renditions {
            let labels = [
                ("service", service.as_str()),
                ("stream", slug),
                ("rendition", name.as_str()),
            ];
            m.gauge(
                "tidecast_rendition_output_fps",
                "Pictures a rendition encodes per second, since the ladder started",
                &labels,
                r.frames_out.load(Relaxed) as f64 / secs,
            );
            m.counter(
                "tidecast_rendition_dropped_frames_total",
                "Pictures a rendition skipped because it fell behind",
                &labels,
                r.dropped.load(Relaxed) as f64,
            );
            m.counter(
                "tidecast_rendition_bytes_total",
                "Bytes a rendition encoded",
                &labels,
                r.bytes_out.load(Relaxed) as f64,
            );
        }
    }
    for (service, st) in engine.autodj().all() {
        let service = service.0.to_string();
        let labels = [("service", service.as_str())];
        m.gauge(
            "tidecast_autodj_on_air",
            "1 while a station's AutoDJ is what listeners hear (0: yielding to a live source)",
            &labels,
            f64::from(u8::from(st.on_air)),
        );
        m.counter(
            "tidecast_autodj_dead_air_total",
            "Dead air AutoDJ found in its tracks and skipped",
            &labels,
            st.dead_air_events as f64,
        );
    }
    let pool = state.db.pool();
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    m.gauge(
        "tidecast_db_pool_connections",
        "Database connections open, by state",
        &[("state", "in_use")],
        (size - idle).max(0.0),
    );
    m.gauge(
        "tidecast_db_pool_connections",
        "Database connections open, by state",
        &[("state", "idle")],
        idle,
    );
    m.gauge(
        "tidecast_db_pool_max_connections",
        "The most connections the pool opens",
        &[],
        f64::from(pool.options().get_max_connections()),
    );
    expose_process(&mut m, &state);
    for r in crate::http::track::snapshot() {
        let status = r.status.to_string();
        let labels = [
            ("route", r.route.as_str()),
            ("method", r.method.as_str()),
            ("status", status.as_str()),
        ];
        m.counter(
            "tidecast_http_requests_total",
            "HTTP requests answered, by route template, method and status",
            &labels,
            r.count as f64,
        );
        m.histogram(
            "tidecast_http_request_duration_seconds",
            "Time to answer HTTP requests (to the response head; streamed bodies not included)",
            &labels,
            &r.buckets,
            r.sum_secs,
            r.count,
        );
    }
    let mut resp = m.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The process's own resources (Prometheus's standard `process_*` names where they exist)
/// and the database's reachability.
fn expose_process(m: &mut Exposition, state: &AppState) {
    for f in crate::process::figures() {
        m.gauge(f.name, f.help, &[], f.value as f64);
    }
    m.gauge(
        "tidecast_database_up",
        "1 while the database answers its once-a-second ping",
        &[],
        f64::from(u8::from(state.db.health().is_up())),
    );
    m.gauge(
        "tidecast_statistics_spooled",
        "Statistics rows kept on disk until the database takes them",
        &[],
        state.spooled.load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_and_labels_escaped() {
        let mut m = Exposition::default();
        m.gauge("a", "first", &[("x", "1")], 1.0);
        m.counter("b_total", "second", &[], 2.0);
        m.gauge("a", "first", &[("x", "quote\" back\\ nl\n")], 3.5);
        assert_eq!(
            m.render(),
            "# HELP a first\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"quote\\\" back\\\\ nl\\n\"} 3.5\n\
             # HELP b_total second\n# TYPE b_total counter\nb_total 2\n"
        );
    }
}
