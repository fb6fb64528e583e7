//! The Tidecast media engine.
//!
//! The engine owns the media sockets (RTMP, Icecast) and the state of every mount. It
//! depends on neither FFmpeg nor the database: whatever it needs to ask the outside world
//! (may this key publish here? with which limits?) it asks through the traits in
//! [`admission`], which the control plane implements.
//!
//! Invariants:
//! - every live session (a source or a listener) is registered in the [`registry`] for as
//!   long as it runs, so the control plane can see it and drop it (suspend, delete);
//! - a session's task watches its [`registry::SessionGuard::cancelled`] future and ends
//!   promptly when the control plane drops it.

pub mod accept;
pub mod admission;
pub mod autodj;
pub mod civil;
pub mod conn_cap;
pub mod dead_air;
mod debug_fields;
pub mod demand;
pub mod dial;
pub mod dvr;
pub mod events;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod hls;
pub mod icecast;
pub mod ids;
pub mod ingest;
pub mod ladder;
pub mod listeners;
pub mod live_sets;
pub mod log_gate;
pub mod login_guard;
pub mod media;
pub mod mount;
pub mod radio_hls;
pub mod registry;
pub mod relay;
pub mod rtmp;
pub mod tap;
pub mod targets;
pub mod traffic;
pub mod transcode;

pub use admission::{
    Admission, Decision, Denial, DenyReason, Grant, HlsSettings, Limits, PlayRequest,
    PublishRequest, SegmentFormat, ServiceId,
};
pub use listeners::{BoundListeners, ListenerConfig};
pub use registry::{MountRegistry, SessionGuard, SessionRole, SessionSnapshot};

use std::sync::Arc;

/// The engine as the control plane holds it: the admission policy plus the live state.
#[derive(Clone)]
pub struct Engine {
    admission: Arc<dyn Admission>,
    events: Arc<dyn events::Events>,
    registry: Arc<MountRegistry>,
    mounts: Arc<mount::Mounts>,
    logins: Arc<login_guard::LoginGuard>,
    hls: Arc<hls::live::LiveStreams>,
    /// Runs services' transcoding ladders; without one, ladders are not started.
    transcoder: Option<Arc<dyn transcode::Transcoder>>,
    /// The stations whose HLS (audio ladder) runs.
    radio_hls: Arc<radio_hls::Running>,
    autodj: Arc<autodj::AutoDj>,
    dvr: Option<Arc<dvr::Dvr>>,
    /// Where stations that record their live sets have them written.
    live_sets: Option<live_sets::LiveSets>,
    traffic: Arc<traffic::Traffic>,
    targets: Arc<targets::Targets>,
    taps: Arc<tap::Taps>,
    relays: Arc<targets::Targets>,
    demand: Arc<demand::Demand>,
}

crate::debug_fields!(Engine { registry, .. });

impl Engine {
    /// An engine that asks `admission` before it lets anyone publish or listen, and reports
    /// nothing.
    pub fn new(admission: Arc<dyn Admission>) -> Self {
        Self::with_events(admission, Arc::new(events::NoEvents))
    }

    /// An engine that reports sessions and mount events to `events`.
    pub fn with_events(admission: Arc<dyn Admission>, events: Arc<dyn events::Events>) -> Self {
        Self {
            admission,
            events,
            registry: Arc::new(MountRegistry::default()),
            mounts: Arc::default(),
            logins: Arc::default(),
            hls: Arc::default(),
            transcoder: None,
            radio_hls: Arc::default(),
            autodj: Arc::default(),
            dvr: None,
            live_sets: None,
            traffic: Arc::default(),
            targets: Arc::default(),
            taps: Arc::default(),
            relays: Arc::default(),
            demand: Arc::default(),
        }
    }

    /// The way into a stream every source kind shares (claim, publisher): what it touches.
    pub fn ingest(&self) -> ingest::Ingest {
        ingest::Ingest {
            hls: Arc::clone(&self.hls),
            dvr: self.dvr.clone(),
            registry: Arc::clone(&self.registry),
            events: Arc::clone(&self.events),
            taps: Arc::clone(&self.taps),
            transcoder: self.transcoder.clone(),
        }
    }

    /// What the RTMP port uses.
    pub fn rtmp_port(&self) -> rtmp::Context {
        rtmp::Context {
            admission: Arc::clone(&self.admission),
            logins: Arc::clone(&self.logins),
            ingest: self.ingest(),
        }
    }

    /// What a station's HLS ladder uses.
    pub(crate) fn station_hls(&self) -> radio_hls::Context {
        radio_hls::Context {
            transcoder: self.transcoder.clone(),
            hls: Arc::clone(&self.hls),
            mounts: Arc::clone(&self.mounts),
            running: Arc::clone(&self.radio_hls),
        }
    }

    /// What a source on a mount uses (pushed or relayed).
    pub(crate) fn sources(&self) -> icecast::source::Sources {
        icecast::source::Sources {
            mounts: Arc::clone(&self.mounts),
            registry: Arc::clone(&self.registry),
            events: Arc::clone(&self.events),
            station_hls: self.station_hls(),
            live_sets: self.live_sets.clone(),
        }
    }

    /// What the Icecast port uses (its fan-out writers are its own).
    pub fn icecast_port(&self) -> icecast::Context {
        icecast::Context {
            admission: Arc::clone(&self.admission),
            logins: Arc::clone(&self.logins),
            traffic: Arc::clone(&self.traffic),
            demand: Arc::clone(&self.demand),
            sources: self.sources(),
            writers: Default::default(),
        }
    }

    /// What relays use: hand it to [`relay::start`].
    pub fn relaying(&self) -> relay::Context {
        relay::Context {
            admission: Arc::clone(&self.admission),
            relays: Arc::clone(&self.relays),
            demand: Arc::clone(&self.demand),
            ingest: self.ingest(),
            sources: self.sources(),
        }
    }

    /// What restream targets use: hand it to `targets::*::start`.
    pub fn restreaming(&self) -> targets::Context {
        targets::Context {
            targets: Arc::clone(&self.targets),
            mounts: Arc::clone(&self.mounts),
        }
    }

    /// Every stream's FLV tags as its publisher sends them (restream targets follow them).
    pub fn taps(&self) -> &Arc<tap::Taps> {
        &self.taps
    }

    /// Relays (sources pulled from a URL) running in this process, by the control plane's id.
    pub fn relays(&self) -> &Arc<targets::Targets> {
        &self.relays
    }

    /// What players and listeners ask for, for on-demand relays.
    pub fn demand(&self) -> &Arc<demand::Demand> {
        &self.demand
    }

    /// Publish targets (restreams) running in this process.
    pub fn targets(&self) -> &Arc<targets::Targets> {
        &self.targets
    }

    /// Bytes sent to listeners and viewers, per service.
    pub fn traffic(&self) -> &Arc<traffic::Traffic> {
        &self.traffic
    }

    /// The engine with `transcoder` running services' ladders.
    pub fn with_transcoder(mut self, transcoder: Arc<dyn transcode::Transcoder>) -> Self {
        self.transcoder = Some(transcoder);
        self
    }

    /// The stations whose HLS runs.
    pub fn radio_hls(&self) -> &radio_hls::Running {
        &self.radio_hls
    }

    /// The transcoder, if the engine has one.
    /// Keeps DVR archives under `root` (services whose grant has a DVR window record).
    pub fn with_dvr(mut self, root: std::path::PathBuf) -> Self {
        self.dvr = Some(Arc::new(dvr::Dvr::new(root)));
        self
    }

    pub fn dvr(&self) -> Option<&Arc<dvr::Dvr>> {
        self.dvr.as_ref()
    }

    /// Records the live sets of stations whose grant asks for it into `dir`, telling `sink`.
    pub fn with_live_sets(
        mut self,
        dir: std::path::PathBuf,
        sink: Arc<dyn live_sets::SetSink>,
    ) -> Self {
        self.live_sets = Some(live_sets::LiveSets { dir, sink });
        self
    }

    pub fn live_sets(&self) -> Option<&live_sets::LiveSets> {
        self.live_sets.as_ref()
    }

    /// The stations' AutoDJ.
    pub fn autodj(&self) -> &autodj::AutoDj {
        &self.autodj
    }

    pub(crate) fn autodj_handle(&self) -> Arc<autodj::AutoDj> {
        Arc::clone(&self.autodj)
    }

    pub fn transcoder(&self) -> Option<&Arc<dyn transcode::Transcoder>> {
        self.transcoder.as_ref()
    }

    /// The admission policy the protocol servers consult.
    pub fn admission(&self) -> &Arc<dyn Admission> {
        &self.admission
    }

    /// Where sessions and mount events go.
    pub fn events(&self) -> &Arc<dyn events::Events> {
        &self.events
    }

    /// Live mounts by name.
    pub fn mounts(&self) -> &Arc<mount::Mounts> {
        &self.mounts
    }

    /// Failed passwords by address, to refuse guessing early.
    pub fn logins(&self) -> &login_guard::LoginGuard {
        &self.logins
    }

    /// Every stream's live HLS window, by slug.
    pub fn hls(&self) -> &Arc<hls::live::LiveStreams> {
        &self.hls
    }

    /// Ends everything of a service that is live (suspended, deleted, renamed): its sources
    /// and listeners are dropped, its HLS streams taken out (their viewers reported).
    /// Returns how many sessions were dropped.
    pub fn end_service(&self, service_id: ServiceId, reason: &str) -> usize {
        let mut dropped = self.registry.drop_service(service_id, reason);
        if self.autodj.stop(service_id) {
            tracing::info!(service = service_id.0, "AutoDJ stopped: {reason}");
            dropped += 1;
        }
        for stream in self.hls.remove_service(service_id) {
            self.end_viewers(&stream, std::time::Duration::ZERO);
        }
        dropped
    }

    /// Ends the HLS viewer sessions of `stream` silent for longer than `idle` (all of them
    /// with zero) and reports them.
    pub fn end_viewers(&self, stream: &hls::live::LiveStream, idle: std::time::Duration) {
        stream.end_viewers(idle, self.events.as_ref());
    }

    /// Live sessions by service.
    pub fn registry(&self) -> &Arc<MountRegistry> {
        &self.registry
    }

    /// Every listener and viewer session open now (Icecast listeners and HLS viewers), for
    /// statistics that must count sessions which have not ended yet.
    pub fn open_sessions(&self) -> Vec<events::OpenSession> {
        let mut out: Vec<events::OpenSession> = self
            .registry
            .listeners()
            .into_iter()
            .map(|s| events::OpenSession {
                service_id: s.service_id,
                mount: s.mount,
                ip: s.remote.ip(),
                started_at: s.started_at,
            })
            .collect();
        for stream in self.hls.all() {
            for (ip, started_at) in stream.viewers.open() {
                out.push(events::OpenSession {
                    service_id: stream.service_id(),
                    mount: stream.slug().to_owned(),
                    ip,
                    started_at,
                });
            }
        }
        out
    }
}
