//! A station's mounts: the rules shared by the primary mount's and extra mounts' fallbacks.

use crate::app::AppState;
use crate::db::mounts;
use crate::db::services::Service;

use super::{Error, Result};

/// Checks that `fallback` is another mount of `service` (not `of` itself).
pub async fn check_fallback(
    state: &AppState,
    service: &Service,
    of: &str,
    fallback: &str,
) -> Result<()> {
    let fallback = fallback.trim_start_matches('/');
    if fallback == of {
        return Err(Error::invalid("a mount cannot be its own fallback"));
    }
    let ours = fallback == service.slug
        || mounts::for_service(&state.db, service.id)
            .await?
            .iter()
            .any(|m| m.name == fallback);
    if ours {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "fallback {fallback:?} is not a mount of this service"
        )))
    }
}

/// Tells a live mount its new fallback at once (otherwise it learns at its next source).
pub fn push_fallback(state: &AppState, name: &str, fallback: Option<&str>) {
    if let Some(m) = state.engine.mounts().get(name) {
        m.set_fallback(fallback.map(|f| f.trim_start_matches('/').to_owned()));
    }
}
