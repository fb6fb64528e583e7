//! The engine's [`Events`], written to the database in batches.
//!
//! The engine calls on its hot paths and must never wait for the database: events go into
//! a bounded queue; a background task writes them in one transaction per batch (at most
//! every second). While the database is away, batches go to a spool on disk
//! ([`super::spool`]) and are written, oldest first, when it returns. If the queue itself
//! overflows, events are dropped and counted, never the listeners.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidecast_engine::events::{Events, ListenerSession, MountEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use serde::{Deserialize, Serialize};

use super::spool::Spool;
use crate::db::Db;
use crate::db::health::is_connection_error;

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
    /// ends when `shutdown` fires. While the database is away, rows are kept in `spool_dir`
    /// (counted in `spooled`) and written when it returns, after a restart too.
    pub fn spawn(
        db: Db,
        spool_dir: &Path,
        spooled: Arc<AtomicU64>,
        shutdown: CancellationToken,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let spool = match Spool::open(spool_dir, spooled) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(
                    "cannot open the statistics spool {}: {e}; statistics that end while the \
                     database is away will be lost",
                    spool_dir.display()
                );
                None
            }
        };
        let task = tokio::spawn(write_loop(db, spool, rx, shutdown));
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

/// One statistics row as the database stores it; also the spool's format, so what a
/// database outage keeps on disk is exactly what would have been written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "row", rename_all = "snake_case")]
enum Row {
    Session {
        service_id: i64,
        mount: String,
        ip: String,
        user_agent: Option<String>,
        started_at: i64,
        duration_ms: i64,
        bytes: i64,
        ended_at: i64,
    },
    Title {
        service_id: i64,
        mount: String,
        title: String,
        dj: Option<String>,
        started_at: i64,
        listeners: i64,
    },
}

/// How many spooled batches one pass replays before going back to new events.
const REPLAY_PER_PASS: usize = 50;

async fn write_loop(
    db: Db,
    mut spool: Option<Spool<Row>>,
    mut rx: mpsc::Receiver<Record>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    // Who is on air per (service, mount), so a title row can say which DJ played it.
    let mut on_air: HashMap<(i64, String), Option<String>> = HashMap::new();
    loop {
        let waiting = spool.as_ref().is_some_and(|s| !s.is_empty());
        let stop = tokio::select! {
            () = shutdown.cancelled() => true,
            n = rx.recv_many(&mut batch, BATCH) => n == 0,
            // With rows on disk, wake up to replay them even when nothing new happens.
            () = tokio::time::sleep(EVERY), if waiting => false,
        };
        if !stop && !batch.is_empty() && batch.len() < BATCH {
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
        let rows = to_rows(&batch, &mut on_air);
        batch.clear();
        if !rows.is_empty() {
            store(&db, spool.as_mut(), rows).await;
        }
        if let Some(spool) = spool.as_mut()
            && db.health().is_up()
        {
            replay(&db, spool).await;
        }
        if stop {
            return;
        }
    }
}

/// Turns engine events into rows, keeping track of who is on air.
fn to_rows(batch: &[Record], on_air: &mut HashMap<(i64, String), Option<String>>) -> Vec<Row> {
    let mut rows = Vec::with_capacity(batch.len());
    for r in batch {
        match r {
            Record::Session(s) => rows.push(Row::Session {
                service_id: s.service_id.0,
                mount: s.mount.clone(),
                ip: s.ip.to_string(),
                user_agent: s
                    .user_agent
                    .as_deref()
                    .map(|u| u.chars().take(512).collect()),
                started_at: unix(s.started_at),
                duration_ms: i64::try_from(s.duration.as_millis()).unwrap_or(i64::MAX),
                bytes: i64::try_from(s.bytes).unwrap_or(i64::MAX),
                ended_at: unix(s.started_at + s.duration),
            }),
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
            }) => rows.push(Row::Title {
                service_id: service_id.0,
                mount: mount.clone(),
                title: title.clone(),
                dj: on_air
                    .get(&(service_id.0, mount.clone()))
                    .cloned()
                    .flatten(),
                started_at: unix(*at),
                listeners: i64::try_from(*listeners).unwrap_or(i64::MAX),
            }),
        }
    }
    rows
}

/// Writes `rows`, or keeps them on disk while the database is away. Rows go behind what is
/// already spooled rather than past it, and without waiting for a database known to be down.
async fn store(db: &Db, spool: Option<&mut Spool<Row>>, rows: Vec<Row>) {
    let Some(spool) = spool else {
        if let Err(e) = write(db, &rows).await {
            tracing::error!(rows = rows.len(), "cannot store statistics: {e}");
        }
        return;
    };
    if spool.is_empty() && db.health().is_up() {
        match write(db, &rows).await {
            Ok(()) => return,
            Err(e) if is_connection_error(&e) => db.health().observe(&e),
            Err(e) => {
                tracing::error!(rows = rows.len(), "cannot store statistics: {e}");
                return;
            }
        }
    }
    if let Err(e) = spool.push(&rows) {
        tracing::error!(
            rows = rows.len(),
            "statistics lost: the database is away and they cannot be kept on disk: {e}"
        );
    }
}

/// Writes spooled batches, oldest first, until the spool is empty, the database fails, or
/// this pass has done its share.
async fn replay(db: &Db, spool: &mut Spool<Row>) {
    for _ in 0..REPLAY_PER_PASS {
        let batch = match spool.oldest() {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("cannot read the statistics spool: {e}");
                return;
            }
        };
        match write(db, &batch.rows).await {
            Ok(()) => {
                let n = batch.rows.len();
                if let Err(e) = spool.remove(batch) {
                    // Left on disk it would be written twice; say so loudly.
                    tracing::error!("written statistics could not be removed from the spool: {e}");
                    return;
                }
                if spool.is_empty() {
                    tracing::info!(
                        rows = n,
                        "statistics kept during the database outage are all written"
                    );
                }
            }
            Err(e) if is_connection_error(&e) => {
                db.health().observe(&e);
                return;
            }
            Err(e) => {
                tracing::error!(
                    "the database refused spooled statistics in {} ({e}); moved aside to rejected/",
                    batch.path.display()
                );
                if let Err(e) = spool.reject(batch) {
                    tracing::error!("cannot move refused statistics aside: {e}");
                    return;
                }
            }
        }
    }
}

async fn write(db: &Db, rows: &[Row]) -> sqlx::Result<()> {
    let mut tx = db.pool().begin().await?;
    for r in rows {
        // `WHERE EXISTS`: an event may arrive after its service was deleted; it is skipped
        // rather than failing the whole batch on the foreign key.
        match r {
            Row::Session {
                service_id,
                mount,
                ip,
                user_agent,
                started_at,
                duration_ms,
                bytes,
                ended_at,
            } => {
                sqlx::query(
                    "INSERT INTO listener_sessions (service_id, mount, ip, user_agent, started_at, duration_ms, bytes, ended_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)",
                )
                .bind(service_id)
                .bind(mount)
                .bind(ip)
                .bind(user_agent)
                .bind(started_at)
                .bind(duration_ms)
                .bind(bytes)
                .bind(ended_at)
                .execute(&mut *tx)
                .await?;
            }
            Row::Title {
                service_id,
                mount,
                title,
                dj,
                started_at,
                listeners,
            } => {
                sqlx::query(
                    "INSERT INTO title_history (service_id, mount, title, dj, started_at, listeners) \
                     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM services WHERE id = $1)",
                )
                .bind(service_id)
                .bind(mount)
                .bind(title)
                .bind(dj)
                .bind(started_at)
                .bind(listeners)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await
}
