//! Each language's outbox, kept while its feed stays as it is: servers and
//! crawlers page through an outbox, and each page would otherwise read and
//! build the whole feed and write its posts again. The posts are kept too: a
//! boost sends every server that sees it to fetch the post, within seconds.
//!
//! An outbox is kept under the generation of the language's feed it was built
//! from (`serve::cache`): a write that retires the feed moves the generation
//! on, and the next request builds the outbox afresh.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;

use super::documents;
use crate::config::{Config, Language};
use crate::feed::Item;

/// The kept outbox of each language, by its index in the configuration.
pub struct Outboxes {
    kept: Box<[Mutex<Option<Arc<Outbox>>>]>,
}

/// A language's outbox as built under one generation of its feed.
pub struct Outbox {
    generation: u64,
    /// The feed's items, without their bodies: posts show title and summary.
    items: Box<[Item]>,
    /// The collection (0) and then each page, as JSON, written when first
    /// asked for.
    pages: Box<[OnceLock<Bytes>]>,
    /// Each item's post (`Note`), as JSON, written when first asked for.
    notes: Box<[OnceLock<Bytes>]>,
}

/// A kept post: its JSON, and the page a browser is sent to instead.
pub struct KeptNote {
    pub json: Bytes,
    pub link: String,
}

impl Outboxes {
    pub fn new(config: &Config) -> Self {
        Outboxes {
            kept: config.languages.iter().map(|_| Mutex::default()).collect(),
        }
    }

    /// The outbox of language `lang` built under `generation`, if it is kept.
    pub fn get(&self, lang: usize, generation: u64) -> Option<Arc<Outbox>> {
        let kept = self.kept.get(lang)?;
        let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_ref()
            .filter(|outbox| outbox.generation == generation)
            .map(Arc::clone)
    }

    /// The outbox of `items`, the feed of language `lang` read under
    /// `generation`, kept unless one of a newer generation already is (a
    /// slower build never replaces a fresher one).
    pub fn keep(
        &self,
        config: &Config,
        lang: usize,
        generation: u64,
        items: Vec<Item>,
    ) -> Arc<Outbox> {
        let per_page = config.activitypub.outbox_page_items.get();
        let pages = items.len().div_ceil(per_page).max(1);
        let items_len = items.len();
        let outbox = Arc::new(Outbox {
            generation,
            items: items
                .into_iter()
                .map(|item| Item {
                    content_html: String::new(),
                    ..item
                })
                .collect(),
            pages: (0..=pages).map(|_| OnceLock::new()).collect(),
            notes: (0..items_len).map(|_| OnceLock::new()).collect(),
        });
        if let Some(kept) = self.kept.get(lang) {
            let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.as_ref().is_none_or(|k| k.generation <= generation) {
                *kept = Some(Arc::clone(&outbox));
            }
        }
        outbox
    }
}

impl Outbox {
    /// Page `page` of the outbox of `lang` as JSON (0 is the collection
    /// itself), or `None` past the last page.
    pub fn page(&self, config: &Config, lang: &Language, page: usize) -> Option<Bytes> {
        let slot = self.pages.get(page)?;
        let json = slot.get_or_init(|| {
            let per_page = config.activitypub.outbox_page_items.get();
            documents::outbox(config, lang, &self.items, page, per_page)
                .and_then(|doc| serde_json::to_vec(&doc).ok())
                .map(Bytes::from)
                .unwrap_or_default()
        });
        (!json.is_empty()).then(|| json.clone())
    }

    /// The post of article `article_id`, if the feed holds it.
    pub fn note(&self, config: &Config, lang: &Language, article_id: &str) -> Option<KeptNote> {
        let at = self.items.iter().position(|i| i.article_id == article_id)?;
        let (item, slot) = (self.items.get(at)?, self.notes.get(at)?);
        let json = slot.get_or_init(|| {
            let note = documents::note(config, lang, item);
            Bytes::from(serde_json::to_vec(&note).unwrap_or_default())
        });
        Some(KeptNote {
            json: json.clone(),
            link: item.link.clone(),
        })
    }
}
