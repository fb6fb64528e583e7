//! Ids for the engine's live parts, all from one counter.
//!
//! They used to come from counters partitioned by hand (RTMP publishers from 1, a station's
//! HLS task from 2^48, tap writers and mount feeds from 2^56, Icecast sources from 1 again):
//! a new kind of writer had to find a free range, and nothing but the ranges' size kept one
//! kind from running into another where they share a namespace (a mount's sources, a live
//! stream's or a tap's publisher). Now every id is drawn from one counter, so no two ids of
//! any kind are ever equal in a process; and each kind is its own type, so one cannot be
//! handed where another is meant.

use std::sync::atomic::{AtomicU64, Ordering};

/// The one counter; 0 is never handed out.
static NEXT: AtomicU64 = AtomicU64::new(1);

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// A new id, unequal to every id (of any kind) handed out before.
            #[allow(clippy::new_without_default)] // a default id would be a shared one
            pub fn new() -> Self {
                Self(NEXT.fetch_add(1, Ordering::Relaxed))
            }

            /// A fixed id, for unit tests that name their writers.
            #[cfg(test)]
            #[allow(dead_code)] // not every kind is named in a test
            pub(crate) fn test(n: u64) -> Self {
                Self(n)
            }

            /// The number, for logs and maps outside the engine.
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id! {
    /// Whoever writes a live stream or a restream tap: an RTMP or relayed publisher (and its
    /// ladder's renditions), a station's HLS task, an encoder writing a tap. A stream and a
    /// tap each have one writer at a time, and a writer's leaving undoes only its own claim.
    PublisherId
}

id! {
    /// A source on a mount: an Icecast source (pushed or relayed), a transcoder's mount feed,
    /// AutoDJ. The mount puts the highest priority on air and tells them apart by this.
    SourceId
}

id! {
    /// A recorded live set (the control plane files it by this).
    SetId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_kinds_never_meet() {
        let a = PublisherId::new();
        let b = SourceId::new();
        let c = PublisherId::new();
        let d = SetId::new();
        let mut all = [a.get(), b.get(), c.get(), d.get()];
        all.sort_unstable();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        assert!(all[0] > 0);
        assert_ne!(a, c);
    }
}
