//! The engine's [`Events`], written to the database in batches.
//!
//! The engine calls on its hot paths and must never wait for the database: events go into
//! a bounded queue; a background task writes them in one transaction per batch (at most
//! every second). If the database falls far behind, events are dropped and counted, never
//! the listeners.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidecast_engine::events::{Events, ListenerSession, MountEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::Db;

const QUEUE: usize = 50_000;
const BATCH: usize = 1_000;
const EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Record {
    Session(ListenerSession),
    Mount(MountEvent),
}

/// Queues engine events for the database.
#[derive(Debug)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    dropped: AtomicU64,
}

impl Recorder {
    /// The recorder and the task that writes what it queues; the task drains the queue and
    /// ends when `shutdown` fires.
    pub fn spawn(db: Db, shutdown: CancellationToken) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_loop(db, rx, shutdown));
        (
            Arc::new(Self {
                tx,
                dropped: AtomicU64::new(0),
            }),
            task,
        )
    }

    fn queue(&self, r: Record) {
        if self.tx.try_send(r).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "statistics queue full: the database is not keeping up; events dropped"
                );
            }
        }
    }
}

impl Events for Recorder {
    fn listener_ended(&self, session: ListenerSession) {
        self.queue(Record::Session(session));
    }

    fn mount_event(&self, event: MountEvent) {
        // A refused listener is for webhooks and logs, not the statistics tables.
        if !matches!(event, MountEvent::Full { .. }) {
            self.queue(Record::Mount(event));
        }
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Record>, shutdown: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    // Who is on air per (service, mount), so a title row can say which DJ played it.
    let mut on_air: std::collections::HashMap<(i64, String), Option<String>> = Default::default();
    loop {
        let stop = tokio::select! {
            () = shutdown.cancelled() => true,
            n = rx.recv_many(&mut batch, BATCH) => n == 0,
        };
        if !stop && batch.len() < BATCH {
            // Gather for up to a second so a burst becomes one transaction.
            let _ = tokio::time::timeout(EVERY, async {
                while batch.len() < BATCH {
                    let room = BATCH - batch.len();
                    if rx.recv_many(&mut batch, room).await == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        if stop {
            while let Ok(r) = rx.try_recv() {
                batch.push(r);
            }
        }
        if !batch.is_empty() {
            if let Err(e) = write(&db, &batch, &mut on_air).await {
                tracing::error!(events = batch.len(), "cannot store statistics: {e}");
            }
            batch.clear();
        }
        if stop {
            return;
        }
    }
}

async fn write(
    db: &Db,
    batch: &[Record],
    on_air: &mut std::collections::HashMap<(i64, String), Option<String>>,
) -> sqlx::Result<()> {
    let mut tx = db.pool().begin().await?;
    for r in batch {
        // `WHERE EXISTS`: an event may arrive after its service was deleted; it is skipped
        // rather than failing the whole batch on the foreign key.
        match r {
            Record::Session(s) => {
                sqlx::query(
                    "INSERT INTO listener_sessions (service_id, mount, ip, user_agent, started_at, duration_ms, bytes, ended_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)",
                )
                .bind(s.service_id.0)
                .bind(&s.mount)
                .bind(s.ip.to_string())
                .bind(s.user_agent.as_deref().map(|u| u.chars().take(512).collect::<String>()))
                .bind(unix(s.started_at))
                .bind(i64::try_from(s.duration.as_millis()).unwrap_or(i64::MAX))
                .bind(i64::try_from(s.bytes).unwrap_or(i64::MAX))
                .bind(unix(s.started_at + s.duration))
                .execute(&mut *tx)
                .await?;
            }
            Record::Mount(MountEvent::Full { .. }) => {}
            Record::Mount(MountEvent::OnAir {
                service_id,
                mount,
                label,
                ..
            }) => {
                on_air.insert((service_id.0, mount.clone()), label.clone());
            }
            Record::Mount(MountEvent::Title {
                service_id,
                mount,
                title,
                at,
                listeners,
            }) => {
                let dj = on_air
                    .get(&(service_id.0, mount.clone()))
                    .cloned()
                    .flatten();
                sqlx::query(
                    "INSERT INTO title_history (service_id, mount, title, dj, started_at, listeners) \
                     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)",
                )
                .bind(service_id.0)
                .bind(mount)
                .bind(title)
                .bind(dj)
                .bind(unix(*at))
                .bind(i64::try_from(*listeners).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await
}
