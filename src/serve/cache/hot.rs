//! Hot slots: for each feed, the OPML list and the index, what moka last
//! handed out, so a hit skips moka's per-read bookkeeping. moka stays the
//! owner: whatever it evicts leaves its slot too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::serve::representation::Representation;

/// A hot slot and the version of its content, bumped on every change so
/// that per-thread copies know when to copy again.
#[derive(Default)]
pub(super) struct HotSlot {
    hot: RwLock<Option<Hot>>,
    version: AtomicU64,
}

/// A render in a hot slot.
struct Hot {
    /// The generation it was built for: stale once the resource's moves on.
    generation: u64,
    /// When moka's TTL retires it (its render time plus the TTL), or sooner
    /// when it goes out of date by itself (a news sitemap).
    expires: Instant,
    rep: Arc<Representation>,
}

impl HotSlot {
    /// The version of the slot's content.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The render in the slot, if it was built for `generation` and moka
    /// still holds it.
    pub fn hit(&self, generation: u64) -> Option<Arc<Representation>> {
        let hot = self.hot.read().unwrap_or_else(PoisonError::into_inner);
        hot.as_ref()
            .filter(|hot| hot.generation == generation && Instant::now() < hot.expires)
            .map(|hot| Arc::clone(&hot.rep))
    }

    /// Puts what moka handed out for `generation` in the slot, unless it
    /// already holds a newer generation's render.
    pub fn remember(&self, generation: u64, rep: &Arc<Representation>, ttl: Duration) {
        let mut hot = self.hot.write().unwrap_or_else(PoisonError::into_inner);
        let replaces = hot.as_ref().is_none_or(|hot| {
            hot.generation < generation
                || (hot.generation == generation && !Arc::ptr_eq(&hot.rep, rep))
        });
        if replaces {
            let value = Some(Hot {
                generation,
                expires: rep.expires(ttl),
                rep: Arc::clone(rep),
            });
            self.set(&mut hot, value);
        }
    }

    /// Empties the slot if it holds `rep`, which moka has evicted.
    pub fn evict(&self, rep: &Arc<Representation>) {
        let mut hot = self.hot.write().unwrap_or_else(PoisonError::into_inner);
        if hot.as_ref().is_some_and(|hot| Arc::ptr_eq(&hot.rep, rep)) {
            self.set(&mut hot, None);
        }
    }

    /// Sets the slot's content, and moves its version on while holding the
    /// lock, so a copy made under a version holds what the slot held then.
    fn set(&self, hot: &mut Option<Hot>, value: Option<Hot>) {
        *hot = value;
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(body: &str) -> Arc<Representation> {
        Arc::new(Representation::new::<chrono::Utc>(
            "text/plain",
            body.as_bytes().to_vec(),
            None,
            None,
        ))
    }

    #[test]
    fn a_slot_serves_only_its_generation_until_evicted() {
        let slot = HotSlot::default();
        let ttl = Duration::from_secs(60);
        let first = rep("one");
        slot.remember(1, &first, ttl);
        assert!(slot.hit(1).is_some_and(|r| Arc::ptr_eq(&r, &first)));
        assert!(slot.hit(2).is_none(), "another generation's render");

        // An older generation's render never replaces a newer one.
        let version = slot.version();
        slot.remember(0, &rep("zero"), ttl);
        assert_eq!(slot.version(), version);
        assert!(slot.hit(1).is_some());

        slot.evict(&rep("not the one held"));
        assert!(slot.hit(1).is_some());
        slot.evict(&first);
        assert!(slot.hit(1).is_none());
        assert!(
            slot.version() > version,
            "every change moves the version on"
        );
    }

    #[test]
    fn an_expired_render_is_no_hit() {
        let slot = HotSlot::default();
        slot.remember(1, &rep("one"), Duration::ZERO);
        assert!(slot.hit(1).is_none());
    }
}
