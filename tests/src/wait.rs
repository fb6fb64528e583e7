//! Waiting for something the server does in its own time: [`eventually`] polls a probe until
//! it answers `Ok(value)`, and fails the test after a deadline with what was awaited and the
//! last thing the probe saw (and the server's log, when asked for).
//!
//! ```ignore
//! let playlist = eventually(within(secs(10)).logs(&srv), "a playlist of 3 segments", async || {
//!     let text = playlist(&srv).await;
//!     if segments_of(&text).len() >= 3 { Ok(text) } else { Err(text) }
//! })
//! .await;
//! ```

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::Server;

/// How long [`eventually`] waits, how often it looks, and whose log it shows on failure.
#[derive(Debug, Clone, Copy)]
pub struct Wait<'a> {
    within: Duration,
    every: Duration,
    logs: Option<&'a Server>,
}

/// A wait of up to `within`, looking every 200 ms.
pub fn within(within: Duration) -> Wait<'static> {
    Wait {
        within,
        every: Duration::from_millis(200),
        logs: None,
    }
}

/// `Duration::from_secs`, short for the waits that read best in seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl<'a> Wait<'a> {
    /// Looks every `every` instead.
    pub fn every(self, every: Duration) -> Self {
        Self { every, ..self }
    }

    /// Shows `srv`'s log if the wait fails.
    pub fn logs<'b>(self, srv: &'b Server) -> Wait<'b> {
        Wait {
            within: self.within,
            every: self.every,
            logs: Some(srv),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.within
    }

    fn fail(&self, what: &dyn Display, seen: &dyn Display) -> ! {
        let logs = self
            .logs
            .map(|srv| format!("\n--- server log ---\n{}", srv.logs()))
            .unwrap_or_default();
        panic!(
            "waited {:?} for {what}; last seen: {seen}{logs}",
            self.within
        );
    }
}

/// Polls `probe` until it answers `Ok(value)` and returns the value; the probe's `Err` says
/// what it saw instead. Looks once more at the deadline, then panics (see [`Wait`]).
pub async fn eventually<T, S: Display>(
    wait: Wait<'_>,
    what: impl Display,
    probe: impl AsyncFnMut() -> Result<T, S>,
) -> T {
    match poll(wait, probe).await {
        Ok(v) => v,
        Err(seen) => wait.fail(&what, &seen),
    }
}

/// Polls `probe` until it answers `Ok`, or gives its last `Err` at the deadline (for a
/// test that says more than [`eventually`] would when the wait fails).
pub async fn poll<T, S>(
    wait: Wait<'_>,
    mut probe: impl AsyncFnMut() -> Result<T, S>,
) -> Result<T, S> {
    let deadline = wait.deadline();
    loop {
        match probe().await {
            Ok(v) => return Ok(v),
            Err(seen) if Instant::now() >= deadline => return Err(seen),
            Err(_) => tokio::time::sleep(wait.every).await,
        }
    }
}

/// [`eventually`] for probes that block (sockets, processes, files): sleeps the thread.
pub fn eventually_blocking<T, S: Display>(
    wait: Wait<'_>,
    what: impl Display,
    probe: impl FnMut() -> Result<T, S>,
) -> T {
    poll_blocking(wait, probe).unwrap_or_else(|seen| wait.fail(&what, &seen))
}

/// Polls a blocking `probe` until it answers `Ok`, or gives its last `Err` at the deadline.
pub fn poll_blocking<T, S>(
    wait: Wait<'_>,
    mut probe: impl FnMut() -> Result<T, S>,
) -> Result<T, S> {
    let deadline = wait.deadline();
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(seen) if Instant::now() >= deadline => return Err(seen),
            Err(_) => std::thread::sleep(wait.every),
        }
    }
}
