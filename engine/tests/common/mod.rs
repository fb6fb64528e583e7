//! The engine inside the test process, served the way `control/src/server.rs` serves it
//! (`Engine::with_events`, `BoundListeners::bind`, `serve`) on free loopback ports, with a
//! fixed [`Admission`] in place of the database and an [`Events`] that records what it is
//! told. Only the engine's public API is used here, so these tests hold across refactors of
//! its insides.

#![allow(dead_code)] // each test binary uses its own part of it
#![allow(clippy::unwrap_used)] // test harness: a failed unwrap is a failed test

pub mod media;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tidecast_engine::admission::BoxFuture;
use tidecast_engine::events::{Events, ListenerSession, MountEvent};
use tidecast_engine::{
    Admission, BoundListeners, Decision, DenyReason, Engine, Grant, HlsSettings, Limits,
    ListenerConfig, PlayRequest, PublishRequest, SegmentFormat, ServiceId,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The one service every test publishes to.
pub const SERVICE: ServiceId = ServiceId(7);
/// Its radio mount and the source password for it (user `source`).
pub const MOUNT: &str = "live";
pub const SOURCE_PASSWORD: &str = "hackme";
/// Its video stream (`rtmp://…/live/<STREAM_KEY>` publishes to the HLS stream `tv`).
pub const STREAM_KEY: &str = "tv-key-1234";
pub const STREAM: &str = "tv";
/// Who a granted source is, as the on-air events say.
pub const LABEL: &str = "Studio A";

/// Admission as the control plane would answer it for one service with one radio mount
/// and one video stream.
#[derive(Debug)]
pub struct FixedAdmission;

fn grant(mount: &str) -> Grant {
    Grant {
        service_id: SERVICE,
        mount: mount.to_owned(),
        limits: Limits {
            max_listeners: 10,
            // No bitrate limit: the tests send faster than real time.
            max_bitrate_kbps: 0,
            ..Limits::default()
        },
        priority: 50,
        label: LABEL.to_owned(),
        lifetime: None,
        fallback: None,
        hls: HlsSettings {
            segment_secs: 2,
            end_after_secs: 1,
            format: SegmentFormat::Ts,
            low_latency: false,
        },
        transcode: None,
        dvr: None,
        record_set: false,
    }
}

impl Admission for FixedAdmission {
    fn admit_publish<'a>(&'a self, req: &'a PublishRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            match req {
                PublishRequest::Icecast {
                    mount, password, ..
                } if mount == MOUNT => {
                    if password == SOURCE_PASSWORD {
                        Decision::Allow(grant(MOUNT))
                    } else {
                        Decision::deny(DenyReason::BadCredentials, "wrong password")
                    }
                }
                PublishRequest::Rtmp { stream_key, .. } if stream_key == STREAM_KEY => {
                    Decision::Allow(grant(STREAM))
                }
                _ => Decision::deny(DenyReason::NotFound, "no such mount or stream key"),
            }
        })
    }

    fn admit_play<'a>(&'a self, req: &'a PlayRequest) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            if req.mount == MOUNT {
                Decision::Allow(grant(MOUNT))
            } else {
                Decision::deny(DenyReason::NotFound, "no such mount")
            }
        })
    }

    fn is_admin<'a>(&'a self, _username: &'a str, _password: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}

/// One event the engine reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Listener(ListenerSession),
    Mount(MountEvent),
}

/// Every event the engine reported, in order.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<Event>>);

impl Events for Recorder {
    fn listener_ended(&self, session: ListenerSession) {
        self.0.lock().unwrap().push(Event::Listener(session));
    }

    fn mount_event(&self, event: MountEvent) {
        self.0.lock().unwrap().push(Event::Mount(event));
    }
}

impl Recorder {
    pub fn all(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    /// The ended listener and viewer sessions.
    pub fn sessions(&self) -> Vec<ListenerSession> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                Event::Listener(s) => Some(s),
                Event::Mount(_) => None,
            })
            .collect()
    }

    /// Who went on air (`Some`) or off air (`None`) on `mount`, in order.
    pub fn on_air(&self, mount: &str) -> Vec<Option<String>> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                Event::Mount(MountEvent::OnAir {
                    service_id,
                    mount: m,
                    label,
                    ..
                }) if m == mount && service_id == SERVICE => Some(label),
                _ => None,
            })
            .collect()
    }

    /// The titles set on `mount`, with the listeners it had then.
    pub fn titles(&self, mount: &str) -> Vec<(String, usize)> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                Event::Mount(MountEvent::Title {
                    mount: m,
                    title,
                    listeners,
                    ..
                }) if m == mount => Some((title, listeners)),
                _ => None,
            })
            .collect()
    }
}

/// The engine, serving on loopback until [`Running::stop`].
#[derive(Debug)]
pub struct Running {
    pub engine: Engine,
    pub events: Arc<Recorder>,
    pub icecast: SocketAddr,
    pub rtmp: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    pub async fn start() -> Self {
        let events = Arc::new(Recorder::default());
        let engine = Engine::with_events(Arc::new(FixedAdmission), events.clone());
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let bound = BoundListeners::bind(ListenerConfig {
            rtmp: loopback,
            icecast: loopback,
        })
        .await
        .unwrap();
        let (icecast, rtmp) = (bound.icecast_addr().unwrap(), bound.rtmp_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(bound.serve(engine.clone(), shutdown.clone()));
        Self {
            engine,
            events,
            icecast,
            rtmp,
            shutdown,
            task,
        }
    }

    /// Stops serving as the binary does at SIGTERM, and waits until every connection ended
    /// (so their last events are in).
    pub async fn stop(self) -> Arc<Recorder> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the engine stops within 10 s")
            .unwrap();
        self.events
    }
}

/// Polls `probe` every 50 ms until it answers `Some`; panics after `within` with `what`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
