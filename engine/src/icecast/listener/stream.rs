//! A listener on its own task: while it takes its burst, while its socket is slow, and
//! while it hears a fallback mount or waits for a source. Once it has caught up with its own
//! mount it is handed to the mount's fan-out writer and this task ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;
use tokio::time::Sleep;

use super::conn::Conn;
use super::{audible, fanout};
use crate::mount::Mount;

/// Listeners wait this long for a source to come back before they are let go.
const NO_SOURCE_GRACE: Duration = Duration::from_secs(10);

/// Writes `pending`, then streams until the listener keeps up with its own mount (it moves
/// to the mount's writer) or its session ends.
pub(crate) async fn run(conn: Conn, pending: VecDeque<Bytes>) {
    match Box::pin(drive(conn, pending)).await {
        (conn, None) => fanout::park(conn),
        (conn, Some(why)) => conn.finish(why),
    }
}

/// Streams to one listener. Returns the connection, and why it ended (`None`: it caught up
/// and can be parked).
async fn drive(mut conn: Conn, mut pending: VecDeque<Bytes>) -> (Conn, Option<&'static str>) {
    const GONE: &str = "the listener went away or stopped reading";
    let primary = Arc::clone(&conn.ctx.primary);
    // What is being heard: the primary mount, or (while it has no source) its fallback.
    let mut hearing = Arc::clone(&primary);
    let mut on_air = primary.on_air_watch();
    // The source may have changed while this listener was joining or being handed over;
    // look once at the start, so a source that left in that moment starts the grace timer.
    on_air.mark_changed();
    let mut hearing_air = hearing.on_air_watch();
    // Armed only while nothing is audible: no timer per chunk on the hot path.
    let mut grace: Option<Pin<Box<Sleep>>> = None;
    let mut out = Vec::new();
    loop {
        if conn.write_all_of(&mut pending).await.is_err() {
            return (conn, Some(GONE));
        }
        // A listener that is behind always finds a chunk waiting and so never reaches the
        // wait below: look for a dropped session, a shutdown and a source change here too.
        if conn.ctx.session.is_cancelled() {
            return (conn, Some("dropped by the control plane"));
        }
        if conn.ctx.shutdown.is_cancelled() {
            return (conn, Some("server shutting down"));
        }
        if on_air.has_changed().unwrap_or(false) || hearing_air.has_changed().unwrap_or(false) {
            on_air.mark_unchanged();
            hearing_air.mark_unchanged();
            Reconsider {
                primary: &primary,
                hearing: &mut hearing,
                hearing_air: &mut hearing_air,
                grace: &mut grace,
            }
            .apply(&mut conn, &mut pending);
            continue;
        }
        let chunk = match conn.rx.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Lagged(n)) => {
                // Too slow for the ring: skip to what is current, never hold others up.
                conn.skipped += n;
                continue;
            }
            Err(TryRecvError::Closed) => return (conn, Some("the mount closed")),
            Err(TryRecvError::Empty) => {
                if Arc::ptr_eq(&hearing, &primary)
                    && grace.is_none()
                    && on_air.has_changed().is_ok_and(|changed| !changed)
                    && primary.has_source()
                {
                    return (conn, None);
                }
                let mut ctx = Reconsider {
                    primary: &primary,
                    hearing: &mut hearing,
                    hearing_air: &mut hearing_air,
                    grace: &mut grace,
                };
                tokio::select! {
                    () = conn.ctx.session.cancelled() => return (conn, Some("dropped by the control plane")),
                    () = conn.ctx.shutdown.cancelled() => return (conn, Some("server shutting down")),
                    // The source changed on the mount asked for, or on the one being heard:
                    // move to whatever is audible now (fallback-override), or start waiting.
                    Ok(()) = on_air.changed() => {
                        ctx.apply(&mut conn, &mut pending);
                        continue;
                    }
                    Ok(()) = ctx.hearing_air.changed() => {
                        ctx.apply(&mut conn, &mut pending);
                        continue;
                    }
                    () = async { match ctx.grace.as_mut() { Some(g) => g.await, None => std::future::pending().await } } => {
                        return (conn, Some("no source came back"));
                    }
                    r = conn.rx.recv() => match r {
                        Ok(c) => c,
                        Err(RecvError::Lagged(n)) => { conn.skipped += n; continue; }
                        Err(RecvError::Closed) => return (conn, Some("the mount closed")),
                    },
                }
            }
        };
        let len = chunk.len() as u64;
        let heard = &hearing;
        conn.frame(chunk, || heard.title(), &mut out);
        for b in out.drain(..) {
            pending.push_back(b);
        }
        if conn.write_all_of(&mut pending).await.is_err() {
            return (conn, Some(GONE));
        }
        conn.sent(len);
    }
}

/// After a source change: hear what is audible now, or wait (for at most the grace period)
/// when nothing is.
struct Reconsider<'a> {
    primary: &'a Arc<Mount>,
    hearing: &'a mut Arc<Mount>,
    hearing_air: &'a mut watch::Receiver<u64>,
    grace: &'a mut Option<Pin<Box<Sleep>>>,
}

impl Reconsider<'_> {
    fn apply(&mut self, conn: &mut Conn, pending: &mut VecDeque<Bytes>) {
        match audible(&conn.ctx.port, self.primary) {
            Some(next) => {
                *self.grace = None;
                if !Arc::ptr_eq(&next, self.hearing) {
                    tracing::debug!(
                        from = self.hearing.name(),
                        to = next.name(),
                        "listener moves"
                    );
                    // Codec headers first (Ogg, which never has ICY blocks), so the new
                    // stream decodes from its start.
                    let (headers, rx) = next.follow();
                    conn.rx = rx;
                    pending.extend(headers);
                    *self.hearing_air = next.on_air_watch();
                    *self.hearing = next;
                    if let Some(icy) = conn.icy.as_mut() {
                        icy.last_title_seq = None;
                    }
                }
            }
            None => {
                if self.grace.is_none() {
                    *self.grace = Some(Box::pin(tokio::time::sleep(NO_SOURCE_GRACE)));
                }
            }
        }
    }
}
