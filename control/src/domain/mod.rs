//! The domain layer: the business rules of the control plane, as functions that take the
//! database (or a transaction) and the engine, write in one transaction per operation, and
//! return a typed [`Error`]. HTTP handlers, background jobs, the engine's admission and the
//! demo seeder call these; nothing here knows about HTTP.

pub mod access;
pub mod autodj;
pub mod djs;
pub mod dvr;
pub mod error;
pub mod grant;
pub mod keys;
pub mod ladder;
pub mod login;
pub mod media;
pub mod mounts;
pub mod plans;
pub mod playlists;
pub mod provision;
pub mod recordings;
pub mod relays;
pub mod requests;
pub mod restream;
pub mod services;
pub mod site;
pub mod target_urls;
pub mod users;
pub mod validate;
pub mod webhooks;

pub use error::{Error, Result};

use sqlx::{Any, Transaction};

use crate::app::AppState;
use crate::auth::Caller;

/// Adds the audit line "`caller` did `action` to `subject`" inside `tx`.
pub(crate) async fn audit_in(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    action: &str,
    subject: &str,
) -> Result<()> {
    crate::db::audit(&mut **tx, Some(caller.id()), action, subject).await?;
    Ok(())
}

/// Adds the audit line and commits `tx`: the operation and its record land together.
pub(crate) async fn commit_audited(
    mut tx: Transaction<'_, Any>,
    caller: &Caller,
    action: &str,
    subject: &str,
) -> Result<()> {
    audit_in(&mut tx, caller, action, subject).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds an audit line on its own, for an operation that wrote nothing else to the database
/// (it acted on the engine, or its own write is a single statement before this one).
pub(crate) async fn audit_now(
    state: &AppState,
    caller: &Caller,
    action: &str,
    subject: &str,
) -> Result<()> {
    crate::db::audit(state.db.pool(), Some(caller.id()), action, subject).await?;
    Ok(())
}
