//! The last good render of each subscription feed, the OPML list and the
//! index, served when a rebuild fails (stale-if-error) so readers get
//! yesterday's feed rather than an error while the store is away.
//!
//! Archives keep none. Their months are unbounded in number (a crawler asks
//! for every one since 1970), a busy month is megabytes, and a render kept
//! here stays for the life of the process, outside the cache's `max_bytes`:
//! kept archives would make memory grow with what crawlers ask for. An
//! archive lives in the bounded cache alone, and while the store is away one
//! that is not cached answers 503, which its readers retry; the feeds people
//! subscribe to, a number the configuration fixes, go on being served.

use std::sync::{Arc, PoisonError, RwLock};

use super::slots::Slots;
use crate::serve::representation::Representation;
use crate::urls::Resource;

pub(super) struct LastGood {
    slots: Slots,
    /// By slot; an archive's slot stays empty.
    kept: Box<[RwLock<Option<Arc<Representation>>>]>,
}

impl LastGood {
    pub fn new(slots: Slots) -> Self {
        LastGood {
            slots,
            kept: (0..slots.len()).map(|_| RwLock::new(None)).collect(),
        }
    }

    /// Keeps `rep` as the last good render of `resource`, unless it is an archive.
    pub fn keep(&self, resource: Resource, rep: &Arc<Representation>) {
        if let Some(kept) = self.kept(resource) {
            *kept.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(rep));
        }
    }

    pub fn get(&self, resource: Resource) -> Option<Arc<Representation>> {
        self.kept(resource)?
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn kept(&self, resource: Resource) -> Option<&RwLock<Option<Arc<Representation>>>> {
        match resource {
            Resource::Archive { .. }
            | Resource::ArchivePreview { .. }
            | Resource::Preview { .. }
            | Resource::Tag { .. }
            | Resource::TagPreview { .. } => None,
            _ => self.kept.get(self.slots.of(resource)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::urls::{Format, Month};

    #[test]
    fn feeds_opml_and_index_are_kept_and_archives_are_not() {
        let config =
            Config::parse(include_str!("../../../feeds.toml"), "feeds.toml").expect("config");
        let last_good = LastGood::new(Slots::new(&config));
        let rep = Arc::new(Representation::new::<chrono::Utc>(
            "text/plain",
            b"kept".to_vec(),
            None,
            None,
        ));
        let feed = Resource::Feed {
            lang: 1,
            section: Some(2),
            format: Format::Json,
        };
        let archive = Resource::Archive {
            lang: 1,
            month: Month::parse("2025-02").expect("month"),
        };
        for resource in [feed, Resource::Opml, Resource::Index, archive] {
            assert!(last_good.get(resource).is_none(), "{resource:?}");
            last_good.keep(resource, &rep);
        }
        for resource in [feed, Resource::Opml, Resource::Index] {
            assert!(last_good.get(resource).is_some(), "{resource:?}");
        }
        assert!(last_good.get(archive).is_none());
        assert_eq!(Arc::strong_count(&rep), 4, "three kept, the archive not");
    }

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
        let last_good = LastGood::new(Slots::new(&config()));
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

    fn config() -> Config {
        Config::parse(include_str!("../../../feeds.toml"), "feeds.toml").expect("config")
    }
}
