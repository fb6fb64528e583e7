//! One task per mount writes to every listener that keeps up.
//!
//! A listener task per connection costs a few kilobytes (its future, its timers) even while
//! it only waits for the next chunk; with ten thousand listeners that is most of the
//! server's memory. So a listener that has caught up is *parked*: its socket and small state
//! move into its mount's writer, which on every new chunk writes it to each parked listener
//! with a non-blocking write (Icecast's own design: one loop over the clients). A listener
//! whose socket cannot take a whole chunk goes back to a task of its own (see [`stream`])
//! until it catches up again, so a slow listener never holds up the writer or the others.
//!
//! Each listener keeps its own place in the ring, so handing it over in either direction
//! never loses or repeats a chunk.
//!
//! [`stream`]: super::stream

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::Conn;
use super::stream;
use crate::mount::Mount;

/// How often the writer looks for sessions the control plane dropped, when no audio comes
/// to make it look.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The port's writers, at most one per mount: each one's inbox, by the address of the
/// mount it serves. A writer holds its mount until it has taken its own entry out (under
/// this lock), so an address here never names a newer mount made at the same place.
#[derive(Default)]
pub(crate) struct Writers(Mutex<HashMap<usize, mpsc::UnboundedSender<Conn>>>);

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fanout::Writers")
    }
}

impl Writers {
    fn lock(&self) -> MutexGuard<'_, HashMap<usize, mpsc::UnboundedSender<Conn>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A mount's key among the writers.
fn key(mount: &Arc<Mount>) -> usize {
    Arc::as_ptr(mount) as usize
}

/// Hands a listener that has caught up with its own mount to that mount's writer, starting
/// the writer if none runs.
pub(crate) fn park(conn: Conn) {
    let mount = Arc::clone(&conn.ctx.primary);
    let port = Arc::clone(&conn.ctx.port);
    let mut writers = port.writers.lock();
    let conn = match writers.get(&key(&mount)) {
        Some(tx) => match tx.send(conn) {
            Ok(()) => return,
            Err(back) => back.0,
        },
        None => conn,
    };
    let (tx, inbox) = mpsc::unbounded_channel();
    let tasks = conn.ctx.tasks.clone();
    let shutdown = conn.ctx.shutdown.clone();
    // Cannot fail: the receiver is right here.
    let _ = tx.send(conn);
    writers.insert(key(&mount), tx);
    drop(writers);
    tasks.spawn(write_loop(
        mount,
        Arc::clone(&port),
        inbox,
        tasks.clone(),
        shutdown,
    ));
}

/// What to do with a listener after writing to it.
enum After {
    Keep,
    /// Its socket is full: it continues on its own task with what is left to write.
    Unpark(VecDeque<Bytes>),
    End(&'static str),
}

async fn write_loop(
    mount: Arc<Mount>,
    port: Arc<super::super::Context>,
    mut inbox: mpsc::UnboundedReceiver<Conn>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut doorbell = mount.doorbell();
    let mut on_air = mount.on_air_watch();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conns: Vec<Conn> = Vec::new();
    let mut out = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                inbox.close();
                while let Ok(c) = inbox.try_recv() {
                    conns.push(c);
                }
                for c in conns.drain(..) {
                    c.finish("server shutting down");
                }
                port.writers.lock().remove(&key(&mount));
                return;
            }
            Some(c) = inbox.recv() => conns.push(c),
            // Any chunk (or news that chunks were missed) means: go round the listeners.
            _ = doorbell.recv() => {}
            Ok(()) = on_air.changed() => {}
            _ = tick.tick() => {}
        }
        // Without a source (it left, perhaps just before a listener was handed over), each
        // listener decides on its own task whether to follow the fallback or wait for a
        // source to come back.
        if !mount.has_source() {
            for c in conns.drain(..) {
                tasks.spawn(stream::run(c, VecDeque::new()));
            }
        }
        sweep(&mount, &mut conns, &tasks, &mut out);
        if conns.is_empty() {
            // Stop when nobody is left, unless someone is being handed over right now
            // (parking holds the slot's lock while it sends).
            let mut writers = port.writers.lock();
            match inbox.try_recv() {
                Ok(c) => conns.push(c),
                Err(_) => {
                    writers.remove(&key(&mount));
                    return;
                }
            }
        }
    }
}

/// Writes whatever each listener has not had yet.
fn sweep(mount: &Mount, conns: &mut Vec<Conn>, tasks: &TaskTracker, out: &mut Vec<Bytes>) {
    // One title lookup for the whole round, made only if some listener needs it.
    let title = std::cell::OnceCell::new();
    let mut i = 0;
    while i < conns.len() {
        match serve(&mut conns[i], mount, &title, out) {
            After::Keep => i += 1,
            After::Unpark(pending) => {
                let c = conns.swap_remove(i);
                tasks.spawn(stream::run(c, pending));
            }
            After::End(why) => conns.swap_remove(i).finish(why),
        }
    }
}

fn serve(
    conn: &mut Conn,
    mount: &Mount,
    title: &std::cell::OnceCell<(Arc<str>, u64)>,
    out: &mut Vec<Bytes>,
) -> After {
    if conn.ctx.session.is_cancelled() {
        return After::End("dropped by the control plane");
    }
    loop {
        let chunk = match conn.rx.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Empty) => return After::Keep,
            Err(TryRecvError::Lagged(n)) => {
                conn.skipped += n;
                continue;
            }
            Err(TryRecvError::Closed) => return After::End("the mount closed"),
        };
        let len = chunk.len() as u64;
        out.clear();
        conn.frame(chunk, || title.get_or_init(|| mount.title()).clone(), out);
        for k in 0..out.len() {
            match conn.write_now(&out[k]) {
                Ok(n) if n == out[k].len() => {}
                Ok(n) => {
                    let mut rest: VecDeque<Bytes> = out.drain(k..).collect();
                    if let Some(first) = rest.front_mut() {
                        let _ = first.split_to(n);
                    }
                    // Counted now: its own task writes the rest.
                    conn.sent(len);
                    return After::Unpark(rest);
                }
                Err(_) => return After::End("the listener went away"),
            }
        }
        conn.sent(len);
    }
}
