//! The monthly transfer limit (`limits.transfer_gb`), checked every few seconds: past it a
//! service is reported (`report`) or suspended until the month ends (`suspend`); the next
//! month lifts exactly the suspensions the limit made.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::db::services;
use crate::model::TransferAction;
use crate::usage::{Period, transfer};

/// How often limits are checked.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Checks limits until `stop` fires.
pub async fn run(state: AppState, stop: CancellationToken) {
    loop {
        // Usage is in the database: while it is away there is nothing to check against.
        if state.db.health().is_up()
            && let Err(e) = check(&state).await
        {
            tracing::warn!("transfer limits not checked: {e}");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    }
}

async fn check(state: &AppState) -> anyhow::Result<()> {
    let period = Period::now();
    for s in services::with_transfer_rules(&state.db).await? {
        // A suspension the limit made in an earlier month ends with that month.
        if let Some(month) = s.transfer_suspended.as_deref()
            && month != period.name
        {
            services::set_transfer_suspended(state.db.pool(), s.id, None).await?;
            if s.is_suspended() {
                crate::domain::services::set_status(
                    state,
                    &s,
                    false,
                    None,
                    Some(&format!(
                        "a new month ({}) lifts the transfer limit's suspension",
                        period.name
                    )),
                )
                .await
                .map_err(anyhow::Error::from)?;
                tracing::info!(slug = %s.slug, "service unsuspended: a new month of transfer began");
            }
            continue;
        }
        if s.limits.transfer_bytes <= 0 || s.is_suspended() {
            continue;
        }
        let used = transfer(&state.db, s.id, &period).await?;
        if used < s.limits.transfer_bytes {
            continue;
        }
        match s.limits.transfer_action {
            TransferAction::Report => {}
            TransferAction::Suspend => {
                services::set_transfer_suspended(state.db.pool(), s.id, Some(&period.name)).await?;
                let why = format!(
                    "over its monthly transfer ({:.3} GB of {:.3} GB in {}); suspended until the month ends",
                    used as f64 / 1e9,
                    s.limits.transfer_bytes as f64 / 1e9,
                    period.name
                );
                crate::domain::services::set_status(state, &s, true, None, Some(&why))
                    .await
                    .map_err(anyhow::Error::from)?;
                tracing::warn!(slug = %s.slug, "service suspended: {why}");
            }
        }
    }
    Ok(())
}
