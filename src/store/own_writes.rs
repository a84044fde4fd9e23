//! The change-log sequence numbers of this process's own writes, so the
//! change-log follower does not retire those feeds a second time.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// Sequence numbers of this process's own writes, already applied when they
/// were made, so the follower does not retire those feeds a second time.
#[derive(Debug, Default)]
pub struct OwnWrites(Mutex<BTreeSet<u64>>);

impl OwnWrites {
    pub fn mark_own(&self, seq: u64) {
        if seq > 0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(seq);
        }
    }

    pub fn take(&self, seq: u64) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&seq)
    }

    /// Forgets every own write: after a reconnect their sequence numbers may
    /// belong to another database's log (at worst a feed is retired twice).
    pub fn forget_all(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Forgets own writes the follower has passed without seeing (pruned).
    pub fn forget_up_to(&self, seq: u64) {
        let mut own = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *own = own.split_off(&(seq + 1));
    }
}
