//! Publish targets: a service's stream sent on to another server (restreaming), each by a
//! task of its own that waits for the service to have something on air, connects, sends,
//! and reconnects with back-off when the remote drops or refuses.
//!
//! Where a target may connect is not the engine's call: it asks a [`Dialer`] (the control
//! plane checks customers' addresses against its outbound policy after DNS, at every
//! connect) and connects only to the addresses it answers.

pub mod icecast;
pub mod radio_video;
pub mod rtmp;
pub mod shoutcast;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::admission::ServiceId;
use crate::dial::{CONNECT_TIMEOUT, WRITE_TIMEOUT};
/// Declared in [`crate::dial`] (relays dial too); named here for the control plane.
pub use crate::dial::{Dialer, Io};

/// Why a target's connection failed or ended. Its `Display` is the target's last error as
/// the UI shows it (never a password or stream key).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Dial(#[from] crate::dial::DialError),
    #[error(transparent)]
    Rtmp(#[from] crate::rtmp::client::ClientError),
    #[error("the remote did not answer within {CONNECT_TIMEOUT:?}")]
    NoAnswer,
    #[error("the connection failed during the handshake: {0}")]
    HandshakeIo(#[source] std::io::Error),
    #[error("the connection failed during the login: {0}")]
    LoginIo(#[source] std::io::Error),
    #[error("the remote closed the connection without an answer")]
    ClosedWithoutAnswer,
    /// The remote answered the source's login with something else than yes (its first line).
    #[error("the remote refused the source: {0}")]
    SourceRefused(String),
    #[error("the remote refused the password")]
    PasswordRefused,
    #[error(
        "the remote closed the connection after the password (a wrong password, or its stream is taken)"
    )]
    ClosedAfterPassword,
    #[error("the connection was lost: {0}")]
    Lost(#[source] std::io::Error),
    #[error("the remote took nothing for {WRITE_TIMEOUT:?}; reconnecting")]
    Stalled,
    /// Radio as video: the station's format cannot be drawn (its content type).
    #[error("the station sends {0}; radio as video takes MP3 or AAC")]
    NotDrawable(String),
    #[error("the picture could not be drawn: {0}")]
    Drawing(#[source] crate::transcode::TranscodeError),
}

/// What restream targets use of the engine: the running targets (their status) and the
/// mounts a station's targets follow. (An RTMP target follows a [`crate::tap::Tap`] it is
/// handed.)
#[derive(Clone)]
pub struct Context {
    pub(crate) targets: Arc<Targets>,
    pub(crate) mounts: Arc<crate::mount::Mounts>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("targets::Context").finish_non_exhaustive()
    }
}

/// The pause after `failures` failed attempts in a row.
pub fn backoff(failures: usize) -> Duration {
    BACKOFF[failures.min(BACKOFF.len() - 1)]
}

/// A target's or relay's attempts: the back-off counts failures in a row, and starts over
/// after a quiet end or a connection that went live.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    failures: usize,
    /// Connections made before the current attempt.
    connections: u64,
}

impl Attempts {
    /// An attempt begins.
    pub(crate) fn begin(&mut self, status: &SharedStatus) {
        let mut st = lock(status);
        self.connections = st.connections;
        st.state = State::Connecting;
    }

    /// It ended without an error (nothing to send, nobody to send to).
    pub(crate) fn quiet(&mut self, status: &SharedStatus) {
        self.failures = 0;
        let mut st = lock(status);
        st.state = State::Waiting;
        st.live_since = None;
    }

    /// It failed with `why`: said in `status`, handed to `log` with the pause, then the
    /// pause. `false`: cancelled meanwhile.
    pub(crate) async fn failed(
        &mut self,
        status: &SharedStatus,
        why: impl std::fmt::Display,
        cancel: &CancellationToken,
        log: impl FnOnce(&str, Duration),
    ) -> bool {
        if lock(status).connections > self.connections {
            self.failures = 0;
        }
        let wait = backoff(self.failures);
        self.failures += 1;
        let why = why.to_string();
        log(&why, wait);
        failed(status, why);
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = cancel.cancelled() => false,
        }
    }
}

/// Marks `status` as retrying after `why`.
pub(crate) fn failed(status: &SharedStatus, why: String) {
    let mut st = lock(status);
    st.state = State::Retrying;
    st.last_error = Some(why);
    st.last_error_at = Some(SystemTime::now());
    st.live_since = None;
}

/// Marks `status` as live on a new connection.
pub(crate) fn connected(status: &SharedStatus) {
    let mut st = lock(status);
    st.state = State::Live;
    st.live_since = Some(SystemTime::now());
    st.bytes = 0;
    st.connections += 1;
}

/// Waits between reconnects: 1 s, 2 s, 5 s, 10 s, then every 30 s.
pub const BACKOFF: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];
/// What a target is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing is on air to send.
    Waiting,
    Connecting,
    /// Sending.
    Live,
    /// The last attempt failed; trying again after a pause.
    Retrying,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Retrying => "retrying",
        }
    }
}

/// A target's state for status pages and the API.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    /// Why the last attempt failed, in a user's words (never a secret).
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    /// Since when it has been live.
    pub live_since: Option<SystemTime>,
    /// Bytes sent over the current connection.
    pub bytes: u64,
    /// Connections made since the target started.
    pub connections: u64,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: State::Waiting,
            last_error: None,
            last_error_at: None,
            live_since: None,
            bytes: 0,
            connections: 0,
        }
    }
}

impl Status {
    /// Bitrate sent over the current connection, in kbit/s.
    pub fn kbps(&self) -> Option<u32> {
        let since = self.live_since?;
        let secs = SystemTime::now().duration_since(since).ok()?.as_secs_f64();
        (secs >= 1.0).then(|| (self.bytes as f64 * 8.0 / secs / 1000.0).round() as u32)
    }
}

/// Shared between a target's task and whoever asks for its status.
pub type SharedStatus = Arc<Mutex<Status>>;

pub(crate) fn lock(s: &SharedStatus) -> MutexGuard<'_, Status> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

struct Running {
    service: ServiceId,
    cancel: CancellationToken,
    status: SharedStatus,
    /// What it was started with, as the control plane summarises it: a change means a
    /// restart.
    signature: String,
}

/// The targets running in this process, by the control plane's target id.
#[derive(Default)]
pub struct Targets {
    running: Mutex<HashMap<i64, Running>>,
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Targets").finish_non_exhaustive()
    }
}

impl Targets {
    fn map(&self) -> MutexGuard<'_, HashMap<i64, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers target `id` (replacing one of the same id) and returns what its task
    /// watches and reports to.
    pub(crate) fn register(
        &self,
        id: i64,
        service: ServiceId,
    ) -> (CancellationToken, SharedStatus) {
        let cancel = CancellationToken::new();
        let status: SharedStatus = Arc::default();
        if let Some(old) = self.map().insert(
            id,
            Running {
                service,
                cancel: cancel.clone(),
                status: Arc::clone(&status),
                signature: String::new(),
            },
        ) {
            old.cancel.cancel();
        }
        (cancel, status)
    }

    /// Notes what target `id` was started with (see [`Targets::signatures`]).
    pub fn set_signature(&self, id: i64, signature: String) {
        if let Some(r) = self.map().get_mut(&id) {
            r.signature = signature;
        }
    }

    /// Every running target's id and what it was started with.
    pub fn signatures(&self) -> HashMap<i64, String> {
        self.map()
            .iter()
            .map(|(id, r)| (*id, r.signature.clone()))
            .collect()
    }

    /// Brings what runs in line with `wanted` (id → signature): stops the running ones not
    /// wanted or wanted with another signature, and returns the wanted ids to start (not
    /// running, or just stopped). The caller starts each and notes its signature.
    pub fn settle(&self, wanted: &HashMap<i64, String>) -> Vec<i64> {
        let running = self.signatures();
        for (id, sig) in &running {
            if wanted.get(id) != Some(sig) {
                self.stop(*id);
                tracing::info!(id, "stopped: removed, disallowed or changed");
            }
        }
        let mut start: Vec<i64> = wanted
            .iter()
            .filter(|(id, sig)| running.get(id) != Some(sig))
            .map(|(id, _)| *id)
            .collect();
        start.sort_unstable();
        start
    }

    /// Stops target `id` (its connection closes). Whether it was running.
    pub fn stop(&self, id: i64) -> bool {
        match self.map().remove(&id) {
            Some(r) => {
                r.cancel.cancel();
                true
            }
            None => false,
        }
    }

    pub fn status(&self, id: i64) -> Option<Status> {
        self.map().get(&id).map(|r| lock(&r.status).clone())
    }

    /// Every running target's service and status.
    pub fn all(&self) -> Vec<(i64, ServiceId, Status)> {
        let mut v: Vec<_> = self
            .map()
            .iter()
            .map(|(id, r)| (*id, r.service, lock(&r.status).clone()))
            .collect();
        v.sort_unstable_by_key(|(id, _, _)| *id);
        v
    }
}
