//! The render cache: every feed, the OPML list and the index, rendered and
//! compressed once, then served from memory until a write or the TTL retires it.
//!
//! A miss builds through [`Builder`]; moka coalesces concurrent misses on one
//! key into a single build. When a rebuild of a feed, the OPML list or the
//! index fails (the store is down) readers get its last good render
//! ([`last_good`]) instead of an error. Archives and tag feeds are ordinary
//! entries: bounded by `max_bytes` with the rest, and with no render kept
//! beyond it; tag feeds take their generations from [`tags`].
//!
//! Invalidation is exact and race-free: each resource has a generation, bumped
//! when a write touches it, and the cache key is (resource, generation). A
//! build that was already reading the store when the write landed inserts its
//! stale bytes under the old key, which no request asks for again.
//!
//! A hit on a feed, the OPML list or the index does not go through moka, which
//! records every read for its eviction policy: it reads the resource's hot
//! slot ([`hot`]), and each serving thread serves from its own copy of that
//! slot ([`local`]), so a hit writes nothing another core reads.

mod hot;
mod last_good;
mod local;
mod slots;
mod tags;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use moka::future::Cache;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::serve::build::{BuildError, Builder};
use crate::serve::headers::CacheControl;
use crate::serve::pages::PageFile;
use crate::serve::representation::Representation;
use crate::store::{ArticleStore, Touched};
use crate::urls::{Format, Resource, TagSlug};
use hot::HotSlot;
use last_good::LastGood;
pub use local::Local;
use local::Stamp;
use slots::Slots;
use tags::TagGenerations;

pub struct FeedCache<S> {
    config: Arc<Config>,
    builder: Builder<S>,
    metrics: Arc<Metrics>,
    /// Rendered resources by (resource, generation), bounded by bytes and TTL.
    rendered: Cache<(Resource, u64), Arc<Representation>>,
    /// Where each resource's generation and hot slot are.
    slots: Slots,
    /// The current generation of every resource, by slot.
    generations: Box<[AtomicU64]>,
    /// The current generation of tag feeds, which have no slot.
    tag_generations: TagGenerations,
    /// Served when a rebuild of a feed, the OPML list or the index fails.
    last_good: LastGood,
    /// The hit path of feeds, OPML and index, by slot: a subset of
    /// `rendered`, shared with its eviction listener.
    hot: Arc<[HotSlot]>,
    /// How long `rendered` keeps an entry, so a hot slot expires with it.
    ttl: Duration,
    /// Tells this cache's per-thread copies from another cache's.
    id: u64,
    cache_control: CacheControl,
}

impl<S: ArticleStore> FeedCache<S> {
    pub fn new(config: Arc<Config>, store: Arc<S>, metrics: Arc<Metrics>) -> Self {
        let slots = Slots::new(&config);
        let hot: Arc<[HotSlot]> = (0..slots.len()).map(|_| HotSlot::default()).collect();
        let evicted = Arc::clone(&hot);
        let ttl = Duration::from_secs(config.cache.ttl_secs.max(1));
        let rendered = Cache::builder()
            .max_capacity(config.cache.max_bytes)
            .weigher(|_: &(Resource, u64), rep: &Arc<Representation>| rep.weight())
            .time_to_live(ttl)
            .eviction_listener(move |_, rep: Arc<Representation>, _| {
                // Rare (writes, the size bound, the TTL): a scan of a hundred slots.
                for slot in evicted.iter() {
                    slot.evict(&rep);
                }
            })
            .build();
        static IDS: AtomicU64 = AtomicU64::new(1);
        FeedCache {
            builder: Builder::new(Arc::clone(&config), store),
            generations: (0..slots.len()).map(|_| AtomicU64::new(0)).collect(),
            tag_generations: TagGenerations::new(config.languages.len()),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            cache_control: CacheControl::new(&config),
            slots,
            config,
            metrics,
            rendered,
            last_good: LastGood::new(slots),
            hot,
            ttl,
        }
    }

    /// The representation of `resource`: cached, freshly built, or, when the
    /// build fails, the last good one.
    pub async fn get(&self, resource: Resource) -> Result<Arc<Representation>, Arc<BuildError>> {
        if let Resource::Tag { lang, tag, .. } | Resource::TagPreview { lang, tag, .. } = resource {
            // A tag's preview follows its feed's generation.
            let generation = self.tag_generations.of(lang, &tag);
            return Box::pin(self.get_cold(resource, generation, None)).await;
        }
        let Some(slot) = self.slots.of(resource) else {
            return Err(Arc::new(BuildError::Unknown));
        };
        let generation = self.generations[slot].load(Ordering::Acquire);
        let hot = self.hot_slot(resource, slot);
        if let Some(rep) = hot.and_then(|slot| slot.hit(generation)) {
            self.metrics.cache_hit();
            return Ok(rep);
        }
        // Out of line: moka's and the build's futures are large, and every
        // hit would otherwise carry and copy them.
        Box::pin(self.get_cold(resource, generation, hot)).await
    }

    /// Runs `f` on this thread's copy of the hot render of `resource`, when
    /// there is one for its current generation: the hit path, which touches
    /// only this thread's memory. `None` sends the caller to [`FeedCache::get`].
    pub fn with_local<R>(
        &self,
        resource: Resource,
        f: impl FnOnce(&mut Local) -> Option<R>,
    ) -> Option<R> {
        let slot = self.slots.of(resource)?;
        let hot = self.hot_slot(resource, slot)?;
        let stamp = self.stamp(slot);
        let copied = std::cell::Cell::new(false);
        let result = local::with(
            self.id,
            self.hot.len(),
            slot,
            stamp,
            || {
                let rep = hot.hit(stamp.generation)?;
                copied.set(true);
                let expires = rep.expires(self.ttl);
                Some(Local::new(
                    rep,
                    stamp,
                    expires,
                    self.cache_control(resource),
                ))
            },
            f,
        );
        if copied.get() {
            local::sweep(self.id, |slot| self.stamp(slot));
        }
        if result.is_some() {
            self.metrics.cache_hit();
        }
        result
    }

    /// The file holding rendered bodies, when they are sent with `sendfile`.
    pub fn pages(&self) -> Option<&Arc<PageFile>> {
        self.builder.pages()
    }

    /// `Cache-Control` for `resource`.
    pub fn cache_control(&self, resource: Resource) -> &HeaderValue {
        self.cache_control.of(resource)
    }

    /// Retires every render a write that `touched` these languages, sections
    /// and tags changed, archives, previews, tag feeds and news sitemaps
    /// included; returns the feeds (for WebSub).
    pub async fn retire(&self, touched: &Touched) -> Vec<Resource> {
        let feeds = touched_feeds(&self.config, touched);
        self.invalidate(&feeds).await;
        if touched.every_tag {
            // Which tags is not known: every tag feed of the languages.
            for (lang, _) in self
                .config
                .languages
                .iter()
                .enumerate()
                .filter(|(_, l)| touched.langs.contains(l.code()))
            {
                self.tag_generations.bump_lang(lang);
            }
        }
        let sitemaps = touched_sitemaps(&self.config, touched);
        self.invalidate(&sitemaps).await;
        for (lang, _) in self
            .config
            .languages
            .iter()
            .enumerate()
            .filter(|(_, l)| touched.langs.contains(l.code()))
        {
            for slot in [self.slots.archives(lang), self.slots.previews(lang)]
                .into_iter()
                .flatten()
            {
                self.generations[slot].fetch_add(1, Ordering::AcqRel);
            }
        }
        feeds
    }

    /// Retires the renders of `resources`: the next request builds afresh.
    pub async fn invalidate(&self, resources: &[Resource]) {
        for resource in resources {
            if let Resource::Tag { lang, tag, .. } = *resource {
                // One generation for the three formats: each format's
                // resource in the list bumps it once more, which is harmless.
                let old = self.tag_generations.bump(lang, &tag);
                for format in Format::ALL {
                    let key = (Resource::Tag { lang, tag, format }, old);
                    self.rendered.invalidate(&key).await;
                    let preview = (Resource::TagPreview { lang, tag, format }, old);
                    self.rendered.invalidate(&preview).await;
                }
                continue;
            }
            let Some(slot) = self.slots.of(*resource) else {
                continue;
            };
            let old = self.generations[slot].fetch_add(1, Ordering::AcqRel);
            self.rendered.invalidate(&(*resource, old)).await;
        }
    }

    /// Drops every cached render (the last good ones stay for stale-if-error).
    pub fn invalidate_all(&self) {
        for generation in &self.generations {
            generation.fetch_add(1, Ordering::AcqRel);
        }
        self.tag_generations.bump_all();
        self.rendered.invalidate_all();
    }

    /// The current generation of `resource`: it moves on whenever a write
    /// retires the resource, so what was built from the store under one
    /// generation is current exactly while the generation stays.
    pub fn generation_of(&self, resource: Resource) -> Option<u64> {
        if let Resource::Tag { lang, tag, .. } | Resource::TagPreview { lang, tag, .. } = resource {
            return Some(self.tag_generations.of(lang, &tag));
        }
        let slot = self.slots.of(resource)?;
        Some(self.generations[slot].load(Ordering::Acquire))
    }

    fn stamp(&self, slot: usize) -> Stamp {
        Stamp {
            generation: self.generations[slot].load(Ordering::Acquire),
            version: self.hot[slot].version(),
        }
    }

    /// The hot slot of `resource`, whose slot is `slot`: feeds, OPML and index
    /// have one each; archive months, and the preview pages of a language,
    /// share their language's generation, so they have none.
    fn hot_slot(&self, resource: Resource, slot: usize) -> Option<&HotSlot> {
        match resource {
            Resource::Archive { .. }
            | Resource::ArchivePreview { .. }
            | Resource::Preview { .. }
            | Resource::TagPreview { .. } => None,
            _ => self.hot.get(slot),
        }
    }

    /// [`FeedCache::get`] past the hot slot: moka, then a build, then the last
    /// good render.
    async fn get_cold(
        &self,
        resource: Resource,
        mut generation: u64,
        hot: Option<&HotSlot>,
    ) -> Result<Arc<Representation>, Arc<BuildError>> {
        if let Some(hit) = self.rendered.get(&(resource, generation)).await {
            if !hit.is_out_of_date() {
                self.metrics.cache_hit();
                if let Some(hot) = hot {
                    hot.remember(generation, &hit, self.ttl);
                }
                return Ok(hit);
            }
            // A news sitemap whose oldest item left the window: retired as a
            // write would retire it, and built again for the next generation.
            self.invalidate(&[resource]).await;
            generation = self.generation_of(resource).unwrap_or(generation);
        }
        let key = (resource, generation);
        let remember = |rep: &Arc<Representation>| {
            if let Some(hot) = hot {
                hot.remember(generation, rep, self.ttl);
            }
        };
        self.metrics.cache_miss();
        match self.rendered.try_get_with(key, self.build(resource)).await {
            Ok(rep) => {
                remember(&rep);
                Ok(rep)
            }
            Err(error) if error.is_not_found() => Err(error),
            Err(error) => {
                self.metrics.build_failure();
                match self.last_good.get(resource) {
                    Some(rep) => {
                        self.metrics.stale_served();
                        tracing::warn!(?resource, %error, "rebuild failed; serving the last good render");
                        Ok(rep)
                    }
                    None => {
                        tracing::error!(?resource, %error, "build failed and no earlier render exists");
                        Err(error)
                    }
                }
            }
        }
    }

    /// Builds `resource`, counts the render and keeps it as the last good one
    /// (archives excepted: see [`last_good`]).
    async fn build(&self, resource: Resource) -> Result<Arc<Representation>, BuildError> {
        let started = Instant::now();
        let rep = Arc::new(self.builder.build(resource).await?);
        self.metrics
            .render(render_kind(resource), started.elapsed());
        self.last_good.keep(resource, &rep);
        Ok(rep)
    }
}

/// The subscription feeds whose bytes a write that `touched` these
/// languages, sections and tags changed (the OPML list and the index do not
/// depend on articles): language, section and tag feeds. With
/// `touched.every_tag` no tag feed is listed, since which are not known.
pub fn touched_feeds(config: &Config, touched: &Touched) -> Vec<Resource> {
    let mut resources = Vec::new();
    for (lang, _) in config
        .languages
        .iter()
        .enumerate()
        .filter(|(_, l)| touched.langs.contains(l.code()))
    {
        let sections = config
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| touched.sections.contains(s.slug()))
            .map(|(i, _)| Some(i));
        for section in std::iter::once(None).chain(sections) {
            for format in Format::ALL {
                resources.push(Resource::Feed {
                    lang,
                    section,
                    format,
                });
            }
        }
        for tag in touched.tags.iter().filter_map(|t| TagSlug::parse(t)) {
            for format in Format::ALL {
                resources.push(Resource::Tag { lang, tag, format });
            }
        }
    }
    resources
}

/// The news sitemaps of the languages `touched` names, and the index that
/// lists them (its `lastmod`s), when there are any.
fn touched_sitemaps(config: &Config, touched: &Touched) -> Vec<Resource> {
    let mut sitemaps: Vec<Resource> = config
        .languages
        .iter()
        .enumerate()
        .filter(|(_, l)| touched.langs.contains(l.code()))
        .map(|(lang, _)| Resource::NewsSitemap { lang })
        .collect();
    if !sitemaps.is_empty() {
        sitemaps.push(Resource::SitemapIndex);
    }
    sitemaps
}

/// Index into [`crate::metrics::RENDER_KINDS`].
fn render_kind(resource: Resource) -> usize {
    match resource {
        Resource::Feed { format, .. } | Resource::Tag { format, .. } => match format {
            Format::Rss => 0,
            Format::Atom => 1,
            Format::Json => 2,
        },
        Resource::Archive { .. } => 1,
        Resource::Opml => 3,
        Resource::Index => 4,
        Resource::NewsSitemap { .. } | Resource::SitemapIndex => 5,
        Resource::Preview { .. }
        | Resource::TagPreview { .. }
        | Resource::ArchivePreview { .. } => 6,
    }
}
