//! The last good render of each resource, served when a rebuild
//! fails (stale-if-error) so readers get yesterday's feed rather than an error
//! while the store is away.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::serve::representation::Representation;
use crate::urls::Resource;

#[derive(Default)]
pub(super) struct LastGood(RwLock<HashMap<Resource, Arc<Representation>>>);

impl LastGood {
    pub fn keep(&self, resource: Resource, rep: &Arc<Representation>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource, Arc::clone(rep));
    }

    pub fn get(&self, resource: Resource) -> Option<Arc<Representation>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&resource)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_render_per_resource() {
        let rep = |body: &str| {
            Arc::new(Representation::new::<chrono::Utc>(
                "text/plain",
                body.as_bytes().to_vec(),
                None,
                None,
            ))
        };
        let last_good = LastGood::default();
        assert!(last_good.get(Resource::Opml).is_none());
        let (old, new) = (rep("old"), rep("new"));
        last_good.keep(Resource::Opml, &old);
        last_good.keep(Resource::Opml, &new);
        last_good.keep(Resource::Index, &old);
        assert!(
            last_good
                .get(Resource::Opml)
                .is_some_and(|r| Arc::ptr_eq(&r, &new))
        );
        assert!(
            last_good
                .get(Resource::Index)
                .is_some_and(|r| Arc::ptr_eq(&r, &old))
        );
    }
}
