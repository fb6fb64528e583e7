//! Who is asking for an on-demand relay's stream: players and listeners touch its name
//! when they ask, the relay starts pulling on the first touch and stops once nobody has
//! asked or watched for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

#[derive(Debug)]
pub struct Slot {
    last: Mutex<Option<Instant>>,
    notify: Notify,
}

impl Slot {
    fn last(&self) -> MutexGuard<'_, Option<Instant>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When someone last asked.
    pub fn last_asked(&self) -> Option<Instant> {
        *self.last()
    }

    /// The next ask (enable it before checking [`Slot::last_asked`], so an ask in between is
    /// not missed).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// The on-demand relays waiting for listeners or viewers, by stream or mount name.
#[derive(Debug, Default)]
pub struct Demand {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Demand {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn register(&self, name: &str) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            last: Mutex::new(None),
            notify: Notify::new(),
        });
        self.slots().insert(name.to_owned(), Arc::clone(&slot));
        slot
    }

    pub(crate) fn unregister(&self, name: &str, slot: &Arc<Slot>) {
        let mut slots = self.slots();
        if slots.get(name).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(name);
        }
    }

    /// Someone asks for `name`. Whether an on-demand relay serves it (the caller may wait
    /// a moment for the stream to start).
    pub fn touch(&self, name: &str) -> bool {
        let Some(slot) = self.slots().get(name).cloned() else {
            return false;
        };
        *slot.last() = Some(Instant::now());
        // Only a relay waiting now is woken: no permit is stored for later (a stopped relay
        // would otherwise start again at once for an ask that came while it ran).
        slot.notify.notify_waiters();
        true
    }
}
