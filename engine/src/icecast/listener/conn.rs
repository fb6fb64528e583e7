//! One listener's connection and what it has heard: the state that moves between its own
//! task (burst, slow socket, fallback) and its mount's fan-out writer (keeping up).
//!
//! Kept small on purpose: ten thousand of these sit in a writer's list, so everything that
//! is only needed at the start or the end lives behind one box.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::super::Context;
use super::super::icy::{self, Interleaver, Piece};
use crate::conn_cap::ConnPermit;
use crate::events::ListenerSession;
use crate::mount::Mount;
use crate::registry::SessionGuard;

/// A listener whose socket accepts nothing for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Conn {
    pub sock: TcpStream,
    /// Its place in the ring of the mount it hears.
    pub rx: broadcast::Receiver<Bytes>,
    pub icy: Option<Icy>,
    /// Audio bytes sent, and ring chunks skipped because the listener fell behind.
    pub bytes: u64,
    pub skipped: u64,
    pub ctx: Box<Ctx>,
}

/// What a listener needs only now and then.
pub(crate) struct Ctx {
    /// The Icecast port it came in on.
    pub port: Arc<Context>,
    pub shutdown: CancellationToken,
    /// Where the listener's tasks (and its mount's writer) are spawned, so a shutdown waits
    /// for them to report.
    pub tasks: TaskTracker,
    /// The mount asked for: the listener is counted there whatever it hears.
    pub primary: Arc<Mount>,
    pub session: SessionGuard,
    /// The service's bytes-sent counter (`Engine::traffic`).
    pub sent: Arc<std::sync::atomic::AtomicU64>,
    pub remote: SocketAddr,
    /// Its place under the connection caps, freed when the listener is dropped.
    pub _slot: ConnPermit,
    pub agent: Option<String>,
    pub started_at: SystemTime,
    pub started: Instant,
}

/// ICY metadata state: where the next block goes, and which title was sent last.
pub(crate) struct Icy {
    pub il: Interleaver,
    pub last_title_seq: Option<u64>,
}

impl Conn {
    /// Counts `len` audio bytes as sent: the session's own count and the service's.
    pub fn sent(&mut self, len: u64) {
        self.bytes += len;
        self.ctx
            .sent
            .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    }

    /// Cuts `chunk` into what goes on the wire: audio, and metadata blocks where due (the
    /// title is asked for only when a block is due).
    pub fn frame(
        &mut self,
        chunk: Bytes,
        title: impl Fn() -> (Arc<str>, u64),
        out: &mut Vec<Bytes>,
    ) {
        let Some(icy) = self.icy.as_mut() else {
            out.push(chunk);
            return;
        };
        let last = &mut icy.last_title_seq;
        icy.il.split_with(chunk, |p| match p {
            Piece::Audio(a) => out.push(a),
            Piece::MetadataDue => {
                let (title, seq) = title();
                out.push(if *last == Some(seq) {
                    icy::empty_block()
                } else {
                    icy::block(&title)
                });
                *last = Some(seq);
            }
        });
    }

    /// Writes what the socket takes now, without waiting. Returns how many bytes went.
    pub fn write_now(&self, data: &[u8]) -> std::io::Result<usize> {
        let mut done = 0;
        while done < data.len() {
            match self.sock.try_write(&data[done..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Writes all of `data`, waiting for a slow socket at most [`WRITE_TIMEOUT`].
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        // Fast path: the socket buffer has room, as it does for a listener that keeps up.
        let n = self.write_now(data)?;
        if n == data.len() {
            return Ok(());
        }
        // Slow path, boxed so its timer does not sit in every listener's task. A dropped
        // session or a shutdown does not wait for a slow socket.
        let ctx = &self.ctx;
        let write = Box::pin(tokio::time::timeout(
            WRITE_TIMEOUT,
            self.sock.write_all(&data[n..]),
        ));
        tokio::select! {
            r = write => match r {
                Ok(r) => r,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "listener stopped reading",
                )),
            },
            () = ctx.session.cancelled() => Err(std::io::Error::other("session dropped")),
            () = ctx.shutdown.cancelled() => Err(std::io::Error::other("shutting down")),
        }
    }

    /// Writes queued pieces (left over from the fan-out writer, or a burst).
    pub async fn write_all_of(&mut self, pending: &mut VecDeque<Bytes>) -> std::io::Result<()> {
        while let Some(b) = pending.pop_front() {
            self.write(&b).await?;
        }
        Ok(())
    }

    /// The listener is gone: uncount it and report the session.
    pub fn finish(self, why: &str) {
        let ctx = self.ctx;
        let mount = &ctx.primary;
        mount.unsubscribe();
        ctx.port.mounts().remove_if_idle(mount);
        tracing::debug!(remote = %ctx.remote, mount = %mount.name(), bytes = self.bytes, skipped = self.skipped, "listener left: {why}");
        ctx.port.events().listener_ended(ListenerSession {
            service_id: mount.service_id(),
            mount: mount.name().to_owned(),
            ip: ctx.remote.ip(),
            user_agent: ctx.agent,
            started_at: ctx.started_at,
            duration: ctx.started.elapsed(),
            bytes: self.bytes,
        });
    }
}
