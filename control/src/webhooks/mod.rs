//! Webhooks: a service's events POSTed, signed, to the URL its owner set.
//!
//! Events: `source_up` and `source_down` (a source went on air on the service's main mount
//! or stream, or it lost its last one), `track_change` (a new title on the main mount) and
//! `listener_limit` (a listener or viewer was turned away; at most one per 10 minutes).
//! The engine's events arrive through [`ControlEvents`] without waiting; a dispatcher task
//! looks up each service's webhook and runs each delivery on its own task with back-off
//! (`deliver::BACKOFF`), recording how the last one went on the webhook row.

pub mod deliver;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tidecast_engine::events::{Events, ListenerSession, MountEvent};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::db::{Db, services, webhooks};
use crate::outbound::Policy;
use crate::stats::Recorder;

/// The events a webhook may ask for.
pub const EVENTS: &[&str] = &["source_up", "source_down", "track_change", "listener_limit"];
const QUEUE: usize = 10_000;
/// Attempts in flight at once, over all services (each waits on a remote server). A
/// delivery holds a slot only while it attempts, never while it waits to retry.
const CONCURRENT: usize = 32;
/// Deliveries one service may have pending (attempting or waiting to retry): a receiver
/// that is down while a source sends titles every second must not pile up tasks.
const PER_SERVICE: usize = 50;
/// Attempts one service may have in flight at once: a receiver that never answers holds
/// at most this many of the shared slots, so it cannot delay other services' deliveries.
const PER_SERVICE_ATTEMPTS: usize = 2;
const LIMIT_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Pending {
    service_id: i64,
    mount: String,
    event: &'static str,
    at: i64,
    data: Value,
}

/// Takes the engine's events for delivery.
#[derive(Debug)]
pub struct Webhooks {
    tx: mpsc::Sender<Pending>,
    dropped: AtomicU64,
    /// When each service's last listener-limit event was taken: refusals can come by the
    /// thousand (anyone can ask a full station), so they are thinned here, before the
    /// queue they would otherwise fill for everyone.
    last_limit: std::sync::Mutex<HashMap<i64, Instant>>,
}

impl Webhooks {
    /// The queue and its dispatcher; deliveries waiting for a retry end with `shutdown`.
    pub fn spawn(
        db: Db,
        policy: Arc<Policy>,
        shutdown: CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        tasks.spawn(dispatch(db, policy, rx, shutdown));
        Arc::new(Self {
            tx,
            dropped: AtomicU64::new(0),
            last_limit: Default::default(),
        })
    }

    pub fn notify(&self, event: &MountEvent) {
        if let MountEvent::Full { service_id, .. } = event {
            let now = Instant::now();
            let mut last = self.last_limit.lock().unwrap_or_else(|p| p.into_inner());
            if last
                .get(&service_id.0)
                .is_some_and(|t| now.duration_since(*t) < LIMIT_EVERY)
            {
                return;
            }
            last.insert(service_id.0, now);
        }
        let unix = |t: &SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        let p = match event {
            MountEvent::OnAir {
                service_id,
                mount,
                label: Some(label),
                at,
            } => Pending {
                service_id: service_id.0,
                mount: mount.clone(),
                event: "source_up",
                at: unix(at),
                data: json!({ "mount": mount, "source": label }),
            },
            MountEvent::OnAir {
                service_id,
                mount,
                label: None,
                at,
            } => Pending {
                service_id: service_id.0,
                mount: mount.clone(),
                event: "source_down",
                at: unix(at),
                data: json!({ "mount": mount }),
            },
            MountEvent::Title {
                service_id,
                mount,
                title,
                at,
                listeners,
            } => Pending {
                service_id: service_id.0,
                mount: mount.clone(),
                event: "track_change",
                at: unix(at),
                data: json!({ "mount": mount, "title": title, "listeners": listeners }),
            },
            MountEvent::Full {
                service_id,
                mount,
                limit,
                at,
            } => Pending {
                service_id: service_id.0,
                mount: mount.clone(),
                event: "listener_limit",
                at: unix(at),
                data: json!({ "mount": mount, "limit": limit }),
            },
        };
        if self.tx.try_send(p).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "webhook queue full: events dropped");
            }
        }
    }
}

/// The engine's events for the control plane: statistics and webhooks.
#[derive(Debug)]
pub struct ControlEvents {
    pub recorder: Arc<Recorder>,
    pub webhooks: Arc<Webhooks>,
}

impl Events for ControlEvents {
    fn listener_ended(&self, session: ListenerSession) {
        self.recorder.listener_ended(session);
    }

    fn mount_event(&self, event: MountEvent) {
        self.webhooks.notify(&event);
        self.recorder.mount_event(event);
    }
}

async fn dispatch(
    db: Db,
    policy: Arc<Policy>,
    mut rx: mpsc::Receiver<Pending>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let mut pending: HashMap<i64, (Arc<AtomicUsize>, Arc<Semaphore>)> = HashMap::new();
    loop {
        // At shutdown, events not taken yet are dropped (webhooks are best effort).
        let next = tokio::select! {
            p = rx.recv() => p,
            () = shutdown.cancelled() => None,
        };
        let Some(p) = next else { break };
        let hook = match webhooks::get(&db, p.service_id).await {
            Ok(Some(h)) if h.wants(p.event) => h,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(
                    service = p.service_id,
                    "webhook not sent: cannot read it: {e}"
                );
                continue;
            }
        };
        let Ok(Some(service)) = services::by_id(db.pool(), p.service_id).await else {
            continue;
        };
        // The main mount (radio) or stream (video) only: extra mounts fed by the
        // transcoder and renditions would repeat every change.
        if p.event != "listener_limit" && p.mount.trim_start_matches('/') != service.slug {
            continue;
        }
        let (queued, own_slots) = pending
            .entry(p.service_id)
            .or_insert_with(|| {
                (
                    Arc::default(),
                    Arc::new(Semaphore::new(PER_SERVICE_ATTEMPTS)),
                )
            })
            .clone();
        if queued.load(Ordering::Relaxed) >= PER_SERVICE {
            tracing::warn!(
                service = p.service_id,
                event = p.event,
                "webhook event dropped: {PER_SERVICE} deliveries to this service's URL are still pending"
            );
            continue;
        }
        queued.fetch_add(1, Ordering::Relaxed);
        let delivery = crate::auth::secret::token("whd");
        let body = json!({
            "id": delivery,
            "event": p.event,
            "at": p.at,
            "service": { "id": service.id, "slug": service.slug, "name": service.name, "kind": service.kind },
            "data": p.data,
        })
        .to_string();
        let (db, policy, shutdown) = (db.clone(), Arc::clone(&policy), shutdown.clone());
        let slots = Arc::clone(&slots);
        tokio::spawn(async move {
            let d = Delivery {
                hook: &hook,
                event: p.event,
                id: &delivery,
                body: body.as_bytes(),
            };
            deliver_with_retries(&db, &policy, [&own_slots, &slots], d, &shutdown).await;
            queued.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// One event for one webhook.
struct Delivery<'a> {
    hook: &'a webhooks::Webhook,
    event: &'a str,
    id: &'a str,
    body: &'a [u8],
}

async fn deliver_with_retries(
    db: &Db,
    policy: &Policy,
    // The service's own slots, then the shared ones (in that order, so a service waiting for
    // its own never holds a shared one).
    slots: [&Semaphore; 2],
    d: Delivery<'_>,
    shutdown: &CancellationToken,
) {
    let Delivery {
        hook,
        event,
        id: delivery,
        body,
    } = d;
    let service = hook.service_id;
    let attempts = deliver::BACKOFF.len();
    for (i, wait) in deliver::BACKOFF.iter().enumerate() {
        tokio::select! {
            () = tokio::time::sleep(*wait) => {}
            () = shutdown.cancelled() => {
                tracing::info!(service, event, "webhook delivery given up: the server is stopping");
                return;
            }
        }
        // A retry goes where the webhook points now: not to a URL or secret since replaced,
        // and not at all once it is removed.
        if i > 0 {
            match webhooks::get(db, service).await {
                Ok(Some(now)) if now.url == hook.url && now.secret == hook.secret => {}
                Ok(_) => {
                    tracing::info!(
                        service,
                        event,
                        "webhook retry dropped: the webhook was changed or removed"
                    );
                    return;
                }
                Err(e) => tracing::warn!(service, "cannot read the webhook before a retry: {e}"),
            }
        }
        let (Ok(own), Ok(shared)) = (slots[0].acquire().await, slots[1].acquire().await) else {
            return;
        };
        let result = deliver::attempt(policy, &hook.url, &hook.secret, event, delivery, body).await;
        drop((own, shared));
        let (status, error) = match &result {
            Ok(()) => ("delivered", None),
            Err(_) if i + 1 < attempts => ("retrying", result.as_ref().err()),
            Err(_) => ("failed", result.as_ref().err()),
        };
        if let Err(e) =
            webhooks::record(db, service, event, status, error.map(String::as_str)).await
        {
            tracing::warn!(service, "cannot record a webhook delivery: {e}");
        }
        match result {
            Ok(()) => {
                tracing::debug!(service, event, "webhook delivered");
                return;
            }
            Err(e) if i + 1 < attempts => tracing::info!(
                service,
                event,
                attempt = i + 1,
                "webhook not delivered ({e}); trying again in {:?}",
                deliver::BACKOFF[i + 1]
            ),
            Err(e) => tracing::warn!(
                service,
                event,
                "webhook not delivered after {attempts} attempts, given up: {e}"
            ),
        }
    }
}
