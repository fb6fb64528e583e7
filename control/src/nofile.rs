//! The file descriptor budget: at start the soft `RLIMIT_NOFILE` is raised to the hard
//! limit (as nginx's `worker_rlimit_nofile` and most servers do; the soft default of 1,024
//! would cap Icecast at a few hundred listeners), and the connection cap over all ports is
//! derived from it, leaving a reserve for everything that is not a client connection.
//!
//! The reserve covers the database pool, media files being read or written (uploads, VOD,
//! DVR and live-set writers, AutoDJ decks), FFmpeg's inputs, outbound connections (relays,
//! restream targets, webhooks) and the runtime's own descriptors. None of those are capped
//! per connection, so the cap on client connections is what keeps them from running out.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept for everything that is not a client connection.
const RESERVE: u64 = 1024;

/// Raises the soft descriptor limit to the hard one; returns the limit now in force (`None`
/// when unlimited).
pub fn raise() -> Option<u64> {
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    if current == maximum {
        return current;
    }
    match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: maximum,
            maximum,
        },
    ) {
        Ok(()) => maximum,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit from {current:?} to {maximum:?}: {e}");
            current
        }
    }
}

/// The connection cap over all ports for a descriptor limit of `nofile`: the limit minus
/// [`RESERVE`], or half of it when the limit is small (so a tiny limit still serves some).
pub fn connection_budget(nofile: Option<u64>) -> usize {
    let Some(n) = nofile else {
        return usize::MAX;
    };
    let reserve = RESERVE.min(n / 2);
    usize::try_from(n - reserve).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_a_reserve() {
        assert_eq!(connection_budget(Some(1_048_576)), 1_047_552);
        assert_eq!(connection_budget(Some(65_536)), 64_512);
        assert_eq!(connection_budget(Some(1_024)), 512);
        assert_eq!(connection_budget(None), usize::MAX);
    }

    #[test]
    fn raise_reaches_the_hard_limit() {
        let now = raise();
        let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
        assert_eq!(current, maximum);
        assert_eq!(now, current);
    }
}
