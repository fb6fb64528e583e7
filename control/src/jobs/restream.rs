//! Keeps what the engine runs (publish targets and relays) in step with the database: every
//! few seconds, besides right after each change, a plan change or a renamed service reaches
//! what runs within this period.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::domain::{relays, restream};

const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// Reconciles until `stop` fires.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        // While the database is away what runs keeps running; nothing is reconciled.
        if state.db.health().is_up() {
            restream::reconcile(&state).await;
            relays::reconcile(&state).await;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RECONCILE_EVERY) => {}
        }
    }
}
