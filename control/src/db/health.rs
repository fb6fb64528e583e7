//! Whether the database answers, known without waiting for it.
//!
//! When the database goes away, every query waits for the pool's acquire timeout before it
//! fails; an API that waits that long per request looks dead. A monitor pings the database
//! every second under its own short timeout and keeps one flag; the HTTP layer answers 503 at
//! once while the flag says "down", `/healthz` reports it, and the statistics writer keeps
//! what it must store on disk until the flag says "up" again. A caller that meets a
//! connection-class error reports it, so the flag goes down before the next ping.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Db;

/// How often the monitor pings.
const EVERY: Duration = Duration::from_secs(1);
/// How long one ping may take before the database counts as away.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The database's reachability, shared by every clone of a [`Db`].
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    /// When the flag last went down (for the "back after N s" log line).
    down_since: Mutex<Option<Instant>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
            down_since: Mutex::new(None),
        }
    }
}

impl Health {
    /// Whether the database answered its last ping (and no caller has seen it fail since).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Marks the database away; logs the change once.
    fn set_down(&self, why: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            if let Ok(mut since) = self.down_since.lock() {
                *since = Some(Instant::now());
            }
            tracing::error!(
                "the database is unreachable ({why}): the API answers 503 and statistics are \
                 kept on disk until it returns; live audio and video are not affected"
            );
        }
    }

    /// Marks the database reachable; logs the change once.
    fn set_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            let away = self
                .down_since
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .map_or(0, |t| t.elapsed().as_secs());
            tracing::info!("the database is reachable again after {away} s");
        }
    }

    /// Reports an error a caller met: a connection-class one marks the database away at once.
    pub fn observe(&self, err: &sqlx::Error) {
        if is_connection_error(err) {
            self.set_down(&err.to_string());
        }
    }
}

/// Errors that say the database cannot be reached, as opposed to a query it refused.
pub fn is_connection_error(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Protocol(_)
    ) || err
        .as_database_error()
        // PostgreSQL's class 08 (connection exception) and 57P01..57P03 (admin shutdown,
        // crash shutdown, cannot connect now): the server is going or gone.
        .and_then(|e| e.code())
        .is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
}

/// Pings the database every second until `stop` fires, keeping [`Db::health`] current.
pub async fn monitor(db: Db, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        let ping = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(db.pool());
        match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(Ok(_)) => db.health().set_up(),
            Ok(Err(e)) => db.health().set_down(&e.to_string()),
            Err(_) => db
                .health()
                .set_down(&format!("no answer within {} s", PING_TIMEOUT.as_secs())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_told_from_refusals() {
        assert!(is_connection_error(&sqlx::Error::PoolTimedOut));
        assert!(is_connection_error(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!is_connection_error(&sqlx::Error::RowNotFound));
        assert!(!is_connection_error(&sqlx::Error::ColumnNotFound(
            "x".into()
        )));
    }

    #[test]
    fn the_flag_follows_the_reports() {
        let h = Health::default();
        assert!(h.is_up());
        h.observe(&sqlx::Error::RowNotFound);
        assert!(h.is_up(), "a refused query says nothing about reachability");
        h.observe(&sqlx::Error::PoolTimedOut);
        assert!(!h.is_up());
        h.set_up();
        assert!(h.is_up());
    }
}
