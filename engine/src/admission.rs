//! Admission: the question the engine asks before anyone publishes or listens.
//!
//! The engine declares the question; the control plane answers it from its database. The
//! answer's shape follows OvenMediaEngine's admission webhook: allowed or not, why, with
//! which limits, and for how long (a DJ's scheduled slot ends, a session may not outlive it).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so [`Admission`] stays usable as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The control plane's id of a media service (a radio station or a video channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub i64);

impl std::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "service {}", self.0)
    }
}

/// Someone wants to send media into a mount.
#[derive(Clone, PartialEq, Eq)]
pub enum PublishRequest {
    /// `rtmp://HOST/<app>/<stream_key>`.
    Rtmp {
        app: String,
        stream_key: String,
        remote: SocketAddr,
    },
    /// `PUT|SOURCE /<mount>` with HTTP Basic credentials.
    Icecast {
        mount: String,
        username: String,
        password: String,
        remote: SocketAddr,
    },
    /// A relay the control plane started: the service's source pulled from a URL. It is
    /// the service's own source (no credentials: the control plane set it up).
    Relay {
        service_id: ServiceId,
        /// Where from, without credentials (for logs).
        from: String,
    },
}

// Hand-written so a stray `{:?}` in a log line can never print a stream key or password.
impl std::fmt::Debug for PublishRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rtmp { app, remote, .. } => f
                .debug_struct("Rtmp")
                .field("app", app)
                .field("stream_key", &"<redacted>")
                .field("remote", remote)
                .finish(),
            Self::Icecast {
                mount,
                username,
                remote,
                ..
            } => f
                .debug_struct("Icecast")
                .field("mount", mount)
                .field("username", username)
                .field("password", &"<redacted>")
                .field("remote", remote)
                .finish(),
            Self::Relay { service_id, from } => f
                .debug_struct("Relay")
                .field("service_id", service_id)
                .field("from", from)
                .finish(),
        }
    }
}

impl PublishRequest {
    /// Where the request came from, for log lines (`None`: the server's own relay).
    pub fn remote(&self) -> Option<SocketAddr> {
        match self {
            Self::Rtmp { remote, .. } | Self::Icecast { remote, .. } => Some(*remote),
            Self::Relay { .. } => None,
        }
    }
}

/// Someone wants to listen to or watch a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayRequest {
    /// The mount as the listener named it (for Icecast, the path without its leading `/`).
    pub mount: String,
    pub remote: SocketAddr,
    pub user_agent: Option<String>,
}

/// The limits a service's plan puts on a live session; the engine enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub max_listeners: u32,
    pub max_bitrate_kbps: u32,
    pub disk_quota_mb: u64,
    pub dvr_minutes: u32,
    pub transcode: bool,
    pub autodj: bool,
}

/// A "yes" from admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub service_id: ServiceId,
    /// The mount the session belongs to (the service's slug for its primary mount).
    pub mount: String,
    pub limits: Limits,
    /// Source priority: 1..=100, higher takes over. The service's own `source` login is 50.
    pub priority: u8,
    /// Who this is, in a user's words, for logs and "live DJ" displays.
    pub label: String,
    /// The session must end after this long (a DJ's scheduled slot); `None` is unbounded.
    pub lifetime: Option<Duration>,
    /// The mount listeners move to while this one has no source (Icecast's fallback-mount
    /// with fallback-override: they move back when a source returns).
    pub fallback: Option<String>,
    /// How a video service's stream is packaged as HLS.
    pub hls: HlsSettings,
    /// The service's transcoding ladder, if it has one (and its plan allows transcoding).
    pub transcode: Option<std::sync::Arc<crate::transcode::LadderSpec>>,
    /// DVR: how much of the stream (or each rendition) to keep on disk, if the service
    /// records.
    pub dvr: Option<Retention>,
    /// Radio: this source's time on air is recorded as a live set.
    pub record_set: bool,
}

/// DVR: what a service may keep, the last `window` of its streams in at most `max_bytes`
/// (the archives are [`crate::dvr`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub window: Duration,
    pub max_bytes: u64,
}

/// A video service's HLS packaging choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlsSettings {
    /// Target segment duration in seconds (segments still start on keyframes).
    pub segment_secs: u32,
    /// How long after its publisher leaves a playlist gets `#EXT-X-ENDLIST`.
    pub end_after_secs: u32,
    pub format: SegmentFormat,
    /// LL-HLS (partial segments, blocking reload); fMP4 only.
    pub low_latency: bool,
}

/// The container of HLS segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentFormat {
    /// MPEG-TS: every player, the default.
    #[default]
    Ts,
    /// Fragmented MP4 (CMAF).
    Fmp4,
}

impl Default for HlsSettings {
    fn default() -> Self {
        Self {
            segment_secs: 2,
            end_after_secs: 20,
            format: SegmentFormat::Ts,
            low_latency: false,
        }
    }
}

/// Why admission said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No such mount, stream key or service.
    NotFound,
    /// The mount exists but the credentials are wrong.
    BadCredentials,
    /// The service is suspended.
    Suspended,
    /// A limit of the plan is reached (listeners, bitrate).
    LimitReached,
    /// A DJ with scheduled access only, outside its slots.
    OutsideSchedule,
    /// Admission could not be decided (the database is unreachable); try again later.
    Unavailable,
}

/// A "no" from admission, with a message fit for a log line and the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub message: String,
}

/// The answer to an admission request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Grant),
    Deny(Denial),
}

impl Decision {
    /// A denial with a message.
    pub fn deny(reason: DenyReason, message: impl Into<String>) -> Self {
        Self::Deny(Denial {
            reason,
            message: message.into(),
        })
    }
}

/// What the engine needs to know before it admits a session. Implemented by the control
/// plane; consulted by every protocol server for every new source and listener.
pub trait Admission: Send + Sync + 'static {
    /// May this source publish? Called once per connection, before any media is accepted.
    fn admit_publish<'a>(&'a self, req: &'a PublishRequest) -> BoxFuture<'a, Decision>;

    /// May this listener or viewer join? Called once per listener connection.
    fn admit_play<'a>(&'a self, req: &'a PlayRequest) -> BoxFuture<'a, Decision>;

    /// Are these a server administrator's credentials? (Icecast's admin user: may update
    /// any mount's metadata.)
    fn is_admin<'a>(&'a self, username: &'a str, password: &'a str) -> BoxFuture<'a, bool>;
}
