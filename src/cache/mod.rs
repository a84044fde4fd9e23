//! The render cache: every feed, the OPML list and the index, rendered and
//! compressed once, then served from memory until a write or the TTL retires it.
//!
//! A miss builds through store → builder → renderer → [`Representation`]; moka
//! coalesces concurrent misses on one key into a single build. The last good
//! render of each resource is kept beside the cache, so when a rebuild fails
//! (the store is down) readers get that instead of an error.
//!
//! Invalidation is exact and race-free: each resource has a generation, bumped
//! when a write touches it, and the cache key is (resource, generation). A
//! build that was already reading the store when the write landed inserts its
//! stale bytes under the old key, which no request asks for again.
//!
//! A hit on a feed, the OPML list or the index does not go through moka: moka
//! records every read for its eviction policy, which costs as much as the rest
//! of the handler. Each of those resources has a hot slot holding what moka
//! last handed out for it, with its generation and expiry; moka stays the
//! owner, and whatever it evicts (size bound, TTL, invalidation) leaves its
//! slot too. Each serving thread then serves hits from its own copy of the slot
//! ([`local`]): two atomic loads and a clock read, and nothing written that
//! another core reads.

mod local;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use moka::future::Cache;

use crate::archive::{self, Month};
use crate::config::{Config, Language, Section};
use crate::feed::{self, Format, History};
use crate::metrics::Metrics;
use crate::pages::PageFile;
use crate::render;
use crate::representation::Representation;
use crate::store::{ArticleStore, FeedQuery, FeedRow, StoreError, Touched};
pub use local::Local;
use local::Stamp;

/// Something Kabar renders: a feed (by index into the configuration's languages
/// and sections), a language's monthly Atom archive, the OPML list or the HTML
/// index. Small and `Copy`, so a cache lookup hashes a few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Feed {
        lang: usize,
        section: Option<usize>,
        format: Format,
    },
    Archive {
        lang: usize,
        month: Month,
    },
    Opml,
    Index,
}

impl Resource {
    /// Every feed whose bytes a write that `touched` these languages and
    /// sections changed (the OPML list and the index do not depend on articles).
    pub fn touched_by(config: &Config, touched: &Touched) -> Vec<Resource> {
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
        }
        resources
    }

    /// Index into [`crate::metrics::RENDER_KINDS`].
    fn render_kind(self) -> usize {
        match self {
            Resource::Feed { format, .. } => match format {
                Format::Rss => 0,
                Format::Atom => 1,
                Format::Json => 2,
            },
            Resource::Archive { .. } => 1,
            Resource::Opml => 3,
            Resource::Index => 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("render task failed: {0}")]
    Task(String),
    #[error("no such resource")]
    Unknown,
    /// The month is not closed yet (or is in the future): the subscription
    /// feed holds it. Not a failure: nothing stale is served for it.
    #[error("the archive of {0} is not closed yet")]
    NotArchived(Month),
}

impl BuildError {
    /// Whether the resource does not exist, as opposed to failing to build.
    pub fn is_not_found(&self) -> bool {
        matches!(self, BuildError::Unknown | BuildError::NotArchived(_))
    }
}

pub struct FeedCache<S> {
    config: Arc<Config>,
    store: Arc<S>,
    metrics: Arc<Metrics>,
    /// Rendered resources by (resource, generation), bounded by bytes and TTL.
    rendered: Cache<(Resource, u64), Arc<Representation>>,
    /// The current generation of every resource, indexed by [`FeedCache::slot`].
    generations: Box<[AtomicU64]>,
    /// The last successful render of every resource, served when a rebuild
    /// fails. Resources are a finite set fixed by the configuration, and the
    /// values are shared with `rendered`, so this costs little memory.
    last_good: RwLock<HashMap<Resource, Arc<Representation>>>,
    /// The hit path of feeds, OPML and index, by [`FeedCache::slot`]: a subset
    /// of `rendered`, shared with its eviction listener.
    hot: Arc<[HotSlot]>,
    /// How long `rendered` keeps an entry, so a hot slot expires with it.
    ttl: Duration,
    /// Tells this cache's per-thread copies from another cache's.
    id: u64,
    /// `Cache-Control` of feeds, OPML and index, from the configuration.
    cache_control: HeaderValue,
    /// `Cache-Control` of monthly archives: closed months change only when an
    /// old article is corrected, so caches may keep them a day.
    archive_cache_control: HeaderValue,
    /// Where renders keep their large bodies, for `sendfile` (`server.sendfile`).
    pages: Option<Arc<PageFile>>,
}

/// How long shared caches may keep a closed month's archive.
const ARCHIVE_MAX_AGE_SECS: u64 = 86_400;

/// A hot slot and the version of its content, bumped on every change so
/// that per-thread copies know when to copy again.
#[derive(Default)]
struct HotSlot {
    hot: RwLock<Option<Hot>>,
    version: AtomicU64,
}

impl HotSlot {
    /// Sets the slot's content, and moves its version on while holding the
    /// lock, so a copy made under a version holds what the slot held then.
    fn set(&self, hot: &mut Option<Hot>, value: Option<Hot>) {
        *hot = value;
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

/// A render in a hot slot.
struct Hot {
    /// The generation it was built for: stale once the resource's moves on.
    generation: u64,
    /// When moka's TTL retires it (its render time plus the TTL).
    expires: Instant,
    rep: Arc<Representation>,
}

impl<S: ArticleStore> FeedCache<S> {
    pub fn new(config: Arc<Config>, store: Arc<S>, metrics: Arc<Metrics>) -> Self {
        allocator::keep_large_buffers_out_of_the_heap();
        // Feeds, the OPML list, the index, then one slot per language shared by
        // all its archive months.
        let slots =
            config.languages.len() * ((config.sections.len() + 1) * Format::ALL.len() + 1) + 2;
        let hot: Arc<[HotSlot]> = (0..slots).map(|_| HotSlot::default()).collect();
        let evicted = Arc::clone(&hot);
        let ttl = Duration::from_secs(config.cache.ttl_secs.max(1));
        let rendered = Cache::builder()
            .max_capacity(config.cache.max_bytes)
            .weigher(|_: &(Resource, u64), rep: &Arc<Representation>| rep.weight())
            .time_to_live(ttl)
            .eviction_listener(move |_, rep: Arc<Representation>, _| {
                // Rare (writes, the size bound, the TTL): a scan of a hundred slots.
                for slot in evicted.iter() {
                    let mut hot = slot.hot.write().unwrap_or_else(PoisonError::into_inner);
                    if hot.as_ref().is_some_and(|hot| Arc::ptr_eq(&hot.rep, &rep)) {
                        slot.set(&mut hot, None);
                    }
                }
            })
            .build();
        static IDS: AtomicU64 = AtomicU64::new(1);
        let (cache_control, archive_cache_control) = cache_controls(&config);
        FeedCache {
            pages: config.server.sendfile.then(page_file).flatten(),
            generations: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            cache_control,
            archive_cache_control,
            config,
            store,
            metrics,
            rendered,
            last_good: RwLock::new(HashMap::new()),
            hot,
            ttl,
        }
    }

    /// The representation of `resource`: cached, freshly built, or, when the
    /// build fails, the last good one.
    pub async fn get(&self, resource: Resource) -> Result<Arc<Representation>, Arc<BuildError>> {
        let generation = self.generation(resource);
        let hot = self.hot_slot(resource);
        if let Some(rep) = hot.and_then(|slot| self.hot_hit(slot, generation)) {
            self.metrics.cache_hit();
            return Ok(rep);
        }
        // Out of line: moka's and the build's futures take kilobytes, which
        // every hit would otherwise carry and copy (BENCHMARKS.md).
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
        let slot = self.hot_slot(resource)?;
        let stamp = self.stamp(slot);
        let copied = std::cell::Cell::new(false);
        let result = local::with(
            self.id,
            self.hot.len(),
            slot,
            stamp,
            || {
                let rep = self.hot_hit(slot, stamp.generation)?;
                copied.set(true);
                let expires = rep.rendered_at + self.ttl;
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
        self.pages.as_ref()
    }

    /// `Cache-Control` for `resource`.
    pub fn cache_control(&self, resource: Resource) -> &HeaderValue {
        match resource {
            Resource::Archive { .. } => &self.archive_cache_control,
            _ => &self.cache_control,
        }
    }

    fn stamp(&self, slot: usize) -> Stamp {
        Stamp {
            generation: self.generations[slot].load(Ordering::Acquire),
            version: self.hot[slot].version.load(Ordering::Acquire),
        }
    }

    /// [`FeedCache::get`] past the hot slot: moka, then a build, then the last
    /// good render.
    async fn get_cold(
        &self,
        resource: Resource,
        generation: u64,
        hot: Option<usize>,
    ) -> Result<Arc<Representation>, Arc<BuildError>> {
        let key = (resource, generation);
        if let Some(hit) = self.rendered.get(&key).await {
            self.metrics.cache_hit();
            self.remember(hot, generation, &hit);
            return Ok(hit);
        }
        self.metrics.cache_miss();
        match self.rendered.try_get_with(key, self.build(resource)).await {
            Ok(rep) => {
                self.remember(hot, generation, &rep);
                Ok(rep)
            }
            Err(error) if error.is_not_found() => Err(error),
            Err(error) => {
                self.metrics.build_failure();
                let stale = self
                    .last_good
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&resource)
                    .cloned();
                match stale {
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

    /// Retires every render a write that `touched` these languages and sections
    /// changed, archives included; returns the feeds (for WebSub).
    pub async fn retire(&self, touched: &Touched) -> Vec<Resource> {
        let feeds = Resource::touched_by(&self.config, touched);
        self.invalidate(&feeds).await;
        for (lang, _) in self
            .config
            .languages
            .iter()
            .enumerate()
            .filter(|(_, l)| touched.langs.contains(l.code()))
        {
            self.generations[self.archive_slot(lang)].fetch_add(1, Ordering::AcqRel);
        }
        feeds
    }

    /// Retires the renders of `resources`: the next request builds afresh.
    pub async fn invalidate(&self, resources: &[Resource]) {
        for resource in resources {
            let old = self.generations[self.slot(*resource)].fetch_add(1, Ordering::AcqRel);
            self.rendered.invalidate(&(*resource, old)).await;
        }
    }

    /// Drops every cached render (the last good ones stay for stale-if-error).
    pub fn invalidate_all(&self) {
        for generation in &self.generations {
            generation.fetch_add(1, Ordering::AcqRel);
        }
        self.rendered.invalidate_all();
    }

    fn generation(&self, resource: Resource) -> u64 {
        self.generations[self.slot(resource)].load(Ordering::Acquire)
    }

    /// The hot slot of `resource`: feeds, OPML and index have one each;
    /// archive months share their language's generation, so they have none.
    fn hot_slot(&self, resource: Resource) -> Option<usize> {
        match resource {
            Resource::Archive { .. } => None,
            _ => Some(self.slot(resource)),
        }
    }

    /// The render in hot slot `slot`, if it was built for `generation` and moka
    /// still holds it.
    fn hot_hit(&self, slot: usize, generation: u64) -> Option<Arc<Representation>> {
        let hot = self.hot[slot]
            .hot
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        hot.as_ref()
            .filter(|hot| hot.generation == generation && Instant::now() < hot.expires)
            .map(|hot| Arc::clone(&hot.rep))
    }

    /// Puts what moka handed out for `generation` in hot slot `slot`, unless
    /// the slot already holds a newer generation's render.
    fn remember(&self, slot: Option<usize>, generation: u64, rep: &Arc<Representation>) {
        let Some(slot) = slot else { return };
        let slot = &self.hot[slot];
        let mut hot = slot.hot.write().unwrap_or_else(PoisonError::into_inner);
        let replaces = hot.as_ref().is_none_or(|hot| {
            hot.generation < generation
                || (hot.generation == generation && !Arc::ptr_eq(&hot.rep, rep))
        });
        if replaces {
            let value = Some(Hot {
                generation,
                expires: rep.rendered_at + self.ttl,
                rep: Arc::clone(rep),
            });
            slot.set(&mut hot, value);
        }
    }

    /// The one generation slot all archive months of language `lang` share: any
    /// write touching the language retires them all (months are unbounded, and
    /// archives are rarely read).
    fn archive_slot(&self, lang: usize) -> usize {
        let feeds =
            self.config.languages.len() * (self.config.sections.len() + 1) * Format::ALL.len();
        (feeds + 2 + lang).min(self.generations.len() - 1)
    }

    /// A dense index for `resource`: feeds by (language, section, format), then
    /// the OPML list and the index page, then archives by language.
    fn slot(&self, resource: Resource) -> usize {
        let per_lang = (self.config.sections.len() + 1) * Format::ALL.len();
        let feeds = self.config.languages.len() * per_lang;
        match resource {
            Resource::Feed {
                lang,
                section,
                format,
            } => {
                let format = Format::ALL.iter().position(|f| *f == format).unwrap_or(0);
                let section = section.map_or(0, |s| s + 1);
                (lang * per_lang + section * Format::ALL.len() + format).min(feeds - 1)
            }
            Resource::Opml => feeds,
            Resource::Index => feeds + 1,
            Resource::Archive { lang, .. } => self.archive_slot(lang),
        }
    }

    /// The month of the newest item of `lang` published before `before_ms`.
    async fn archive_before(
        &self,
        lang: &str,
        before_ms: i64,
    ) -> Result<Option<Month>, BuildError> {
        let rows = self
            .store
            .feed_rows(archive_query(lang, 1, i64::MIN..before_ms))
            .await?;
        let zone = self.config.site.time_zone;
        Ok(rows
            .first()
            .map(|row| Month::of(row.article.published.timestamp_millis(), zone)))
    }

    /// Runs `f`, a render and its compression, off the async workers (CPU
    /// work), and puts its bodies in the page file.
    async fn blocking<F>(&self, f: F) -> Result<Representation, BuildError>
    where
        F: FnOnce() -> Result<Representation, BuildError> + Send + 'static,
    {
        let pages = self.pages.clone();
        let kept = move || {
            let rep = f()?;
            Ok(match &pages {
                Some(pages) => rep.kept_in(pages),
                None => rep,
            })
        };
        tokio::task::spawn_blocking(kept)
            .await
            .map_err(|e| BuildError::Task(e.to_string()))?
    }

    async fn build(&self, resource: Resource) -> Result<Arc<Representation>, BuildError> {
        let started = Instant::now();
        let config = Arc::clone(&self.config);
        let rep = match resource {
            Resource::Feed {
                lang,
                section,
                format,
            } => {
                let (language, sect) = feed_parts(&config, lang, section)?;
                let rows = self
                    .store
                    .feed_rows(feed::query(&config, language, sect))
                    .await?;
                // The language's Atom subscription feed leads to its archives.
                let mut history = History::default();
                if let (Format::Atom, None, Some(newest)) = (format, section, rows.first()) {
                    let zone = config.site.time_zone;
                    let current = Month::of(newest.article.published.timestamp_millis(), zone);
                    history.prev_archive = self
                        .archive_before(language.code(), current.range_ms(zone).start)
                        .await?
                        .map(|m| {
                            config
                                .server
                                .public_url
                                .join(&archive::path(language.code(), m))
                        });
                }
                self.blocking(move || {
                    render_feed_with(&config, lang, section, format, &rows, history)
                })
                .await?
            }
            Resource::Archive { lang, month } => {
                let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                let code = language.code().to_owned();
                let zone = config.site.time_zone;
                // Only months before the newest item's are closed; the
                // subscription feed holds the current one.
                let newest = self
                    .store
                    .feed_rows(archive_query(&code, 1, FeedQuery::ALL_TIME))
                    .await?;
                let current = newest
                    .first()
                    .map(|row| Month::of(row.article.published.timestamp_millis(), zone));
                if current.is_none_or(|current| month >= current) {
                    return Err(BuildError::NotArchived(month));
                }
                let range = month.range_ms(zone);
                let prev = self.archive_before(&code, range.start).await?;
                let rows = self
                    .store
                    .feed_rows(archive_query(&code, archive::MAX_ITEMS, range))
                    .await?;
                self.blocking(move || {
                    let language = &config.languages[lang];
                    let feed = feed::build_archive(&config, language, month, prev, &rows);
                    represent(&config, &feed, Format::Atom)
                })
                .await?
            }
            Resource::Opml => {
                self.blocking(move || Ok(page("text/x-opml; charset=utf-8", render::opml(&config))))
                    .await?
            }
            Resource::Index => {
                self.blocking(move || Ok(page("text/html; charset=utf-8", render::index(&config))))
                    .await?
            }
        };
        let rep = Arc::new(rep);
        self.metrics
            .render(resource.render_kind(), started.elapsed());
        self.last_good
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource, Arc::clone(&rep));
        Ok(rep)
    }
}

/// The CPU half of a feed miss: builds the feed of language `lang` (and
/// section `section`, indexes into the configuration) from its store rows,
/// renders it in `format` and compresses it. Public so that the benchmarks
/// time exactly what a miss runs.
pub fn render_feed(
    config: &Config,
    lang: usize,
    section: Option<usize>,
    format: Format,
    rows: &[FeedRow],
) -> Result<Representation, BuildError> {
    render_feed_with(config, lang, section, format, rows, History::default())
}

fn render_feed_with(
    config: &Config,
    lang: usize,
    section: Option<usize>,
    format: Format,
    rows: &[FeedRow],
    history: History,
) -> Result<Representation, BuildError> {
    let (language, section) = feed_parts(config, lang, section)?;
    let mut feed = feed::build(config, language, section, rows);
    feed.history = history;
    represent(config, &feed, format)
}

/// Renders `feed` in `format` and compresses it.
fn represent(
    config: &Config,
    feed: &feed::Feed,
    format: Format,
) -> Result<Representation, BuildError> {
    let body = render::feed(feed, format, config)?;
    let link = link_header(config, feed.urls.get(format));
    Ok(Representation::new(
        format.content_type(),
        body,
        Some(feed.updated),
        link,
    ))
}

/// Items of `lang` in every section published in `published_ms`, newest first.
fn archive_query(lang: &str, limit: usize, published_ms: std::ops::Range<i64>) -> FeedQuery {
    FeedQuery {
        lang: lang.to_owned(),
        section: None,
        limit,
        published_ms,
    }
}

/// The language and section a feed resource's indexes name.
fn feed_parts(
    config: &Config,
    lang: usize,
    section: Option<usize>,
) -> Result<(&Language, Option<&Section>), BuildError> {
    let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
    let section = match section {
        Some(i) => Some(config.sections.get(i).ok_or(BuildError::Unknown)?),
        None => None,
    };
    Ok((language, section))
}

/// The allocator's side of the memory bound.
mod allocator {
    /// Allocations from this size up get their own mapping, returned to the
    /// system when freed: glibc's default threshold, pinned.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    const MMAP_THRESHOLD: std::ffi::c_int = 128 * 1024;

    /// Pins glibc's mmap threshold. Left dynamic, it climbs to the size of the
    /// largest buffer freed (a rendered body, a compressor's window), after
    /// which every render's buffers of a few hundred KiB come from the heaps
    /// of whatever blocking threads ran it, and stay there: with every feed
    /// cached, a third of the resident memory was such free heap
    /// (BENCHMARKS.md). Once per process; elsewhere a no-op.
    pub fn keep_large_buffers_out_of_the_heap() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                /// `M_MMAP_THRESHOLD` in glibc's malloc.h.
                const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
                unsafe extern "C" {
                    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
                }
                // SAFETY: mallopt only sets a malloc parameter; any value is
                // accepted or refused (returning 0), never undefined.
                let _ = unsafe { mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
            });
        }
    }
}

/// `Cache-Control` of feeds (and OPML, index) and of monthly archives.
fn cache_controls(config: &Config) -> (HeaderValue, HeaderValue) {
    let c = &config.cache;
    let feeds = HeaderValue::from_str(&format!(
        "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
        c.max_age_secs, c.stale_while_revalidate_secs, c.stale_if_error_secs
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"));
    let archives = HeaderValue::from_str(&format!(
        "public, max-age={ARCHIVE_MAX_AGE_SECS}, stale-if-error={}",
        c.stale_if_error_secs
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=86400"));
    (feeds, archives)
}

/// A page made from the configuration alone (OPML, index): no Last-Modified,
/// no WebSub links.
fn page(content_type: &'static str, body: Vec<u8>) -> Representation {
    Representation::new::<chrono::Utc>(content_type, body, None, None)
}

/// The page file for this process's renders, or `None` (bodies in the heap)
/// where it cannot be made.
fn page_file() -> Option<Arc<PageFile>> {
    PageFile::new()
        .inspect_err(|error| {
            tracing::warn!(%error, "no page file: bodies are written from memory, not with sendfile");
        })
        .ok()
}

/// `Link: <hub>; rel="hub", <self>; rel="self"` for WebSub discovery.
fn link_header(config: &Config, self_url: &str) -> Option<HeaderValue> {
    let mut links: Vec<String> = config
        .site
        .hubs
        .iter()
        .map(|hub| format!("<{hub}>; rel=\"hub\""))
        .collect();
    links.push(format!("<{self_url}>; rel=\"self\""));
    HeaderValue::from_str(&links.join(", ")).ok()
}
