//! A resource's bytes, built afresh: the store's rows → the feed builder → a
//! renderer → a compressed [`Representation`]. The cache calls this on a miss;
//! the CPU half runs on the blocking pool, so a serving thread goes on with
//! its other connections meanwhile.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::config::{Config, Language, Section};
use crate::feed::archive::{self, MonthArchive};
use crate::feed::{self, History};
use crate::render;
use crate::serve::headers;
use crate::serve::pages::PageFile;
use crate::serve::representation::{Representation, VARY_NAVIGATION};
use crate::serve::shmem;
use crate::store::{ArticleStore, FeedRow, StoreError};
use crate::urls::{self, Format, Month, Resource, TagSlug};

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
    /// The language has no item in the month, so no archive: an empty one
    /// would be a document about nothing, and one per month since 1970 is
    /// what a crawler would otherwise make the cache hold.
    #[error("no item was published in {0}")]
    EmptyMonth(Month),
    /// No item in the language has a tag of this slug.
    #[error("no item in this language has the tag {0:?}")]
    NoSuchTag(TagSlug),
}

impl BuildError {
    /// Whether the resource does not exist, as opposed to failing to build.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            BuildError::Unknown
                | BuildError::NotArchived(_)
                | BuildError::EmptyMonth(_)
                | BuildError::NoSuchTag(_)
        )
    }
}

/// Builds resources from one store, for one configuration.
pub struct Builder<S> {
    config: Arc<Config>,
    store: Arc<S>,
    /// Where renders keep their large bodies, for `sendfile` (`server.sendfile`).
    pages: Option<Arc<PageFile>>,
    /// Archive builds under way at once, at most one per core. A build holds
    /// its month's rows and several copies of its body (megabytes for a busy
    /// month) until it is done, and a crawler opens as many connections as it
    /// likes; past one build per core more would only share the same cores.
    archive_builds: Semaphore,
}

impl<S: ArticleStore> Builder<S> {
    pub fn new(config: Arc<Config>, store: Arc<S>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Builder {
            pages: config.server.sendfile.then(page_file).flatten(),
            config,
            store,
            archive_builds: Semaphore::new(cores),
        }
    }

    /// The file holding rendered bodies, when they are sent with `sendfile`.
    pub fn pages(&self) -> Option<&Arc<PageFile>> {
        self.pages.as_ref()
    }

    /// Builds `resource` from the store as it is now.
    pub async fn build(&self, resource: Resource) -> Result<Representation, BuildError> {
        let config = Arc::clone(&self.config);
        match resource {
            Resource::Feed {
                lang,
                section,
                format,
            } => {
                let rows = self.feed_rows(lang, section).await?;
                let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                // The language's Atom subscription feed leads to its archives.
                let mut history = History::default();
                if let (Format::Atom, None, Some(newest)) = (format, section, rows.first()) {
                    let code = language.code();
                    history.prev_archive =
                        archive::newest_closed(&*self.store, &config, code, newest)
                            .await?
                            .map(|month| urls::archive_url(&config, code, month));
                }
                self.blocking(false, move || {
                    render_feed_with(&config, lang, section, format, &rows, history)
                })
                .await
            }
            Resource::Preview {
                lang,
                section,
                format,
            } => {
                let rows = self.feed_rows(lang, section).await?;
                self.blocking(false, move || {
                    let (language, section) = feed_parts(&config, lang, section)?;
                    let feed = feed::build(&config, language, section, &rows);
                    Ok(preview(&config, &feed, format))
                })
                .await
            }
            Resource::Archive { lang, month } | Resource::ArchivePreview { lang, month } => {
                let page = matches!(resource, Resource::ArchivePreview { .. });
                let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                let _turn = self
                    .archive_builds
                    .acquire()
                    .await
                    .map_err(|e| BuildError::Task(e.to_string()))?;
                let found = match archive::month_rows(&*self.store, &config, language.code(), month)
                    .await?
                {
                    MonthArchive::Rows(found) => found,
                    MonthArchive::NotClosed => return Err(BuildError::NotArchived(month)),
                    MonthArchive::Empty => return Err(BuildError::EmptyMonth(month)),
                };
                // After its rows and buffers are freed, the heap is trimmed.
                self.blocking(true, move || {
                    let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                    let feed = archive::build(&config, language, month, &found);
                    match page {
                        true => Ok(archive_preview(&config, &feed, month, &found)),
                        false => represent(&config, &feed, Format::Atom),
                    }
                })
                .await
            }
            Resource::Tag { lang, tag, format } | Resource::TagPreview { lang, tag, format } => {
                let page = matches!(resource, Resource::TagPreview { .. });
                let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                let rows = self
                    .store
                    .feed_rows(feed::tag_query(&config, language, &tag))
                    .await?;
                if rows.is_empty() {
                    return Err(BuildError::NoSuchTag(tag));
                }
                self.blocking(false, move || {
                    let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                    let feed = feed::build_tag(&config, language, &tag, &rows);
                    match page {
                        true => Ok(preview(&config, &feed, format)),
                        false => represent(&config, &feed, format),
                    }
                })
                .await
            }
            Resource::NewsSitemap { lang } => {
                let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                let now_ms = chrono::Utc::now().timestamp_millis();
                let rows = self
                    .store
                    .feed_rows(feed::news_query(language, now_ms))
                    .await?;
                let fresh_until = news_fresh_until(&rows, now_ms);
                self.blocking(false, move || {
                    let language = config.languages.get(lang).ok_or(BuildError::Unknown)?;
                    let feed = feed::build(&config, language, None, &rows);
                    let body = render::news_sitemap(&config, &feed);
                    Ok(
                        Representation::new(SITEMAP_TYPE, body, Some(feed.updated), None)
                            .fresh_until(fresh_until),
                    )
                })
                .await
            }
            Resource::SitemapIndex => {
                let now_ms = chrono::Utc::now().timestamp_millis();
                let mut listed = Vec::with_capacity(config.languages.len());
                let mut fresh_until = None;
                for language in &config.languages {
                    let rows = self
                        .store
                        .feed_rows(feed::news_query(language, now_ms))
                        .await?;
                    fresh_until = earlier(fresh_until, news_fresh_until(&rows, now_ms));
                    listed.push(render::Listed {
                        url: urls::news_sitemap_url(&config, language.code()),
                        updated: rows
                            .iter()
                            .map(feed::updated_of)
                            .max()
                            .map(|t| t.with_timezone(&config.site.time_zone)),
                    });
                }
                let updated = listed.iter().filter_map(|l| l.updated).max();
                let body = render::sitemap_index(&listed);
                Ok(Representation::new(SITEMAP_TYPE, body, updated, None).fresh_until(fresh_until))
            }
            Resource::Opml => {
                self.blocking(false, move || {
                    Ok(page("text/x-opml; charset=utf-8", render::opml(&config)))
                })
                .await
            }
            Resource::Index => {
                self.blocking(false, move || Ok(page(HTML_TYPE, render::index(&config))))
                    .await
            }
        }
    }

    /// The rows of the feed of language `lang` (and section `section`,
    /// indexes into the configuration): what its feed and its preview show.
    async fn feed_rows(
        &self,
        lang: usize,
        section: Option<usize>,
    ) -> Result<Vec<FeedRow>, BuildError> {
        let (language, section) = feed_parts(&self.config, lang, section)?;
        let query = feed::query(&self.config, language, section);
        Ok(self.store.feed_rows(query).await?)
    }

    /// Runs `f`, a render and its compression, off the async workers (CPU
    /// work), and puts its bodies in the page file; with `trim_heap`, then
    /// gives the heap's free pages back, on the thread whose arena they are in.
    async fn blocking<F>(&self, trim_heap: bool, f: F) -> Result<Representation, BuildError>
    where
        F: FnOnce() -> Result<Representation, BuildError> + Send + 'static,
    {
        let pages = self.pages.clone();
        let kept = move || {
            let rep = f().map(|rep| match &pages {
                Some(pages) => rep.kept_in(pages),
                None => rep,
            });
            if trim_heap {
                give_back_free_heap();
            }
            rep
        };
        tokio::task::spawn_blocking(kept)
            .await
            .map_err(|e| BuildError::Task(e.to_string()))?
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

/// `feed`'s preview page, offering its URL in `format`, compressed.
fn preview(config: &Config, feed: &feed::Feed, format: Format) -> Representation {
    let page = render::preview(config, feed, format);
    Representation::new(HTML_TYPE, page.html, Some(feed.updated), None).with_policy(&page.policy)
}

/// The page of `feed`, the archive of `month` whose neighbours `found` names.
fn archive_preview(
    config: &Config,
    feed: &feed::Feed,
    month: Month,
    found: &archive::MonthRows,
) -> Representation {
    let months = render::ArchiveMonths {
        month,
        older: found.prev,
        newer: found.next,
    };
    let page = render::archive_preview(config, feed, &months);
    Representation::new(HTML_TYPE, page.html, Some(feed.updated), None).with_policy(&page.policy)
}

/// Renders `feed` in `format` and compresses it.
fn represent(
    config: &Config,
    feed: &feed::Feed,
    format: Format,
) -> Result<Representation, BuildError> {
    let body = render::feed(feed, format, config)?;
    let link = headers::link(
        config,
        feed.urls.get(format),
        feed.history.current.is_some(),
    );
    let rep = Representation::new(format.content_type(), body, Some(feed.updated), link);
    // A browser's navigation to a feed with a preview page gets the page.
    Ok(match feed.preview_url {
        Some(_) => rep.varying(VARY_NAVIGATION),
        None => rep,
    })
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

const HTML_TYPE: &str = "text/html; charset=utf-8";

/// The media type of sitemaps (sitemaps.org names no other).
const SITEMAP_TYPE: &str = "application/xml; charset=utf-8";

/// Until when a news sitemap made at `now_ms` from `rows` stays right with no
/// write: until its oldest item leaves the window. `None` when it lists
/// nothing, since only a write can add an item.
fn news_fresh_until(rows: &[FeedRow], now_ms: i64) -> Option<Instant> {
    let oldest = rows
        .iter()
        .map(|row| row.article.published.timestamp_millis())
        .min()?;
    let left_in_window = oldest
        .saturating_add(feed::NEWS_WINDOW_MS)
        .saturating_sub(now_ms);
    let left = Duration::from_millis(u64::try_from(left_in_window).unwrap_or(0));
    Instant::now().checked_add(left)
}

/// The earlier of two optional instants, either one when the other is `None`.
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A page made from the configuration alone (OPML, index): no Last-Modified,
/// no WebSub links.
fn page(content_type: &'static str, body: Vec<u8>) -> Representation {
    Representation::new::<chrono::Utc>(content_type, body, None, None)
}

/// Hands the heap's free pages back to the system (glibc's `malloc_trim`).
/// An archive render allocates and frees several times its body in the heap
/// of whichever blocking thread ran it, and glibc keeps what a thread's arena
/// freed for that arena to reuse; so renders of many months, spread over many
/// threads, would leave every arena as large as the most it ever held: memory
/// that grows with what crawlers ask for while nothing uses it. Feeds are few
/// and render alike, so the arenas they use settle by themselves.
fn give_back_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free pages to the system; memory
        // in use is not touched.
        let _ = unsafe { libc::malloc_trim(0) };
    }
}

/// Read instead of [`shmem::SHMEM_ENABLED`] when set: the tests' way to
/// show the server a kernel that backs shared memory with huge pages.
pub const SHMEM_ENABLED_ENV: &str = "KABAR_SHMEM_ENABLED_PATH";

/// The page file for this process's renders, or `None` (bodies in the heap)
/// where it cannot be made; the log says which, and why.
fn page_file() -> Option<Arc<PageFile>> {
    let path = std::env::var_os(SHMEM_ENABLED_ENV)
        .map_or_else(|| PathBuf::from(shmem::SHMEM_ENABLED), PathBuf::from);
    match PageFile::new(&path) {
        Ok(pages) => {
            tracing::info!(
                shmem = %path.display(),
                "page file on: large bodies go to sockets with sendfile"
            );
            Some(pages)
        }
        Err(error) => {
            tracing::warn!(%error, "no page file: bodies are written from memory, not with sendfile");
            None
        }
    }
}
