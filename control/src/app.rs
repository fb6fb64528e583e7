//! The application's shared handles: the database, the engine, the links it hands out, the
//! data folder and the queues the domain layer wakes. HTTP handlers get it as axum state;
//! domain operations and background jobs take it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tidecast_engine::Engine;
use url::Url;

use crate::db::Db;

/// The application's shared handles (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub engine: Engine,
    pub links: Arc<Links>,
    pub ready: Arc<Readiness>,
    /// The data folder (media library files live under it).
    pub data_dir: Arc<std::path::PathBuf>,
    /// AutoDJ's view of the media library.
    pub library: Arc<crate::autodj::library::DbLibrary>,
    /// Wakes the on-demand video worker.
    pub vod: Arc<crate::vod::Queue>,
    /// The key of signed on-demand URLs.
    pub vod_keys: Arc<crate::vod::signed::Keys>,
    /// Which addresses customers' URLs (webhooks, relays) may reach.
    pub outbound: Arc<crate::outbound::Policy>,
    /// When the server started (the admin dashboard's uptime).
    pub started: std::time::Instant,
    /// Statistics rows kept on disk while the database is away (`/healthz` shows it).
    pub spooled: Arc<std::sync::atomic::AtomicU64>,
}

impl AppState {
    /// The state of a server on `db` with its data in `data_dir`.
    pub fn new(db: Db, engine: Engine, links: Links, data_dir: std::path::PathBuf) -> Self {
        Self {
            library: Arc::new(crate::autodj::library::DbLibrary::new(
                db.clone(),
                data_dir.clone(),
            )),
            db,
            engine,
            vod: crate::vod::Queue::new(),
            vod_keys: Arc::default(),
            outbound: Arc::default(),
            links: Arc::new(links),
            ready: Arc::new(Readiness::default()),
            data_dir: Arc::new(data_dir),
            started: std::time::Instant::now(),
            spooled: Arc::default(),
        }
    }
}

/// What the API needs to hand out working links: the public base URL (if configured) and the
/// ports actually bound.
#[derive(Debug, Clone)]
pub struct Links {
    pub public_url: Option<Url>,
    pub http_port: u16,
    pub rtmp_port: u16,
    pub icecast_port: u16,
}

impl Links {
    /// The host name clients should use: the public URL's, else the one the client used to
    /// reach us (its `Host` header), else `localhost`.
    pub fn host(&self, request_host: Option<&str>) -> String {
        if let Some(h) = self.public_url.as_ref().and_then(Url::host_str) {
            return h.to_owned();
        }
        request_host
            .and_then(host_without_port)
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// Base of HTTP links (web UI, HLS, players), without a trailing slash.
    pub fn http_base(&self, request_host: Option<&str>) -> String {
        match &self.public_url {
            Some(u) => u.as_str().trim_end_matches('/').to_owned(),
            None => format!(
                "http://{}:{}",
                bracket(&self.host(request_host)),
                self.http_port
            ),
        }
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `::1`. Rejects anything that is not
/// a plain host name or address, so a forged Host header cannot inject text into links.
fn host_without_port(raw: &str) -> Option<String> {
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next()?
    } else {
        raw.rsplit_once(':').map_or(raw, |(h, _)| h)
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    ok.then(|| host.to_ascii_lowercase())
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Set once every listener (HTTP, RTMP, Icecast) is bound; `/healthz` answers 200 only then.
#[derive(Debug, Default)]
pub struct Readiness(AtomicBool);

impl Readiness {
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            host_without_port("Example.com:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_without_port("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_without_port("evil.com/<script>"), None);
        let links = Links {
            public_url: None,
            http_port: 8080,
            rtmp_port: 1935,
            icecast_port: 8000,
        };
        assert_eq!(links.http_base(Some("[::1]:8080")), "http://[::1]:8080");
        assert_eq!(links.http_base(None), "http://localhost:8080");
        let links = Links {
            public_url: Url::parse("https://radio.example.com/").ok(),
            ..links
        };
        assert_eq!(
            links.http_base(Some("other:1")),
            "https://radio.example.com"
        );
        assert_eq!(links.host(Some("other:1")), "radio.example.com");
    }
}
