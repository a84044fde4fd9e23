//! The running application: configuration, store, cache and metrics, shared by
//! every connection, and the start-up steps that assemble them.

use std::path::Path;
use std::sync::Arc;

use hyper::header::HeaderValue;

use crate::auth::ApiTokens;
use crate::cache::{FeedCache, Resource};
use crate::changes::OwnWrites;
use crate::config::Config;
use crate::import;
use crate::metrics::Metrics;
use crate::store::{ArticleStore, SqliteStore, StoreError};
use crate::websub::{PublishStats, Publisher, PublisherConfig};

pub struct App<S> {
    pub config: Arc<Config>,
    pub store: Arc<S>,
    pub cache: FeedCache<S>,
    pub metrics: Arc<Metrics>,
    /// `Cache-Control` of every feed, built once from the configuration.
    pub cache_control: HeaderValue,
    /// Tokens the write API accepts; `None` turns the API off.
    pub tokens: Option<ApiTokens>,
    /// Writes this process made, so the change-log follower skips them.
    pub own_writes: OwnWrites,
    /// Tells the configured WebSub hubs which feeds changed, in the background.
    pub publisher: Publisher,
    pub publish_stats: Arc<PublishStats>,
}

impl<S: ArticleStore> App<S> {
    pub fn new(config: Arc<Config>, store: Arc<S>, tokens: Option<ApiTokens>) -> Arc<App<S>> {
        let metrics = Arc::new(Metrics::default());
        let c = &config.cache;
        let cache_control = HeaderValue::from_str(&format!(
            "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
            c.max_age_secs, c.stale_while_revalidate_secs, c.stale_if_error_secs
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"));
        let publish_stats = Arc::new(PublishStats::default());
        let (publisher, _worker) = Publisher::start(
            PublisherConfig::new(config.site.hubs.clone()),
            Arc::clone(&publish_stats),
        );
        Arc::new(App {
            cache: FeedCache::new(
                Arc::clone(&config),
                Arc::clone(&store),
                Arc::clone(&metrics),
            ),
            config,
            store,
            metrics,
            cache_control,
            tokens,
            own_writes: OwnWrites::default(),
            publisher,
            publish_stats,
        })
    }

    /// Tells the WebSub hubs that these feeds changed (call it after their
    /// renders were retired, so a hub fetching at once gets the new bytes).
    pub fn announce(&self, resources: &[Resource]) {
        let urls: Vec<String> = resources
            .iter()
            .filter_map(|r| match *r {
                Resource::Feed {
                    lang,
                    section,
                    format,
                } => {
                    let lang = self.config.languages.get(lang)?.code();
                    let section = section
                        .and_then(|s| self.config.sections.get(s))
                        .map(|s| s.slug());
                    Some(self.config.feed_url(lang, section, format))
                }
                Resource::Opml | Resource::Index => None,
            })
            .collect();
        self.publisher.publish(&urls);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store {path}")]
    Store { path: String, source: StoreError },
    #[error("cannot load the demo articles from {path}")]
    Seed {
        path: String,
        source: import::ImportError,
    },
}

/// Whether a newly created store is filled from the configured seed folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Serving: a fresh store starts with the demo articles.
    IfCreated,
    /// Importing: the caller brings its own articles.
    Never,
}

/// Opens the SQLite store (at `path`, or the configured one) and, when it was
/// just created and the configuration names a seed folder, imports it. A seed
/// that fails removes the new file again, so the next start tries afresh.
pub async fn open_sqlite(
    config: &Config,
    path: Option<&Path>,
    seed: Seed,
) -> Result<SqliteStore, StartError> {
    let path = path.unwrap_or(&config.store.path);
    let (store, created) = SqliteStore::open(path).map_err(|source| StartError::Store {
        path: path.display().to_string(),
        source,
    })?;
    if let (true, Seed::IfCreated, Some(folder)) = (created, seed, &config.store.seed) {
        let report = match import::import_path(&store, config, folder).await {
            Ok(report) => report,
            Err(source) => {
                drop(store);
                remove_store_files(path);
                return Err(StartError::Seed {
                    path: folder.display().to_string(),
                    source,
                });
            }
        };
        let seed = folder;
        tracing::info!(
            imported = report.imported,
            failed = report.failed.len(),
            seed = %seed.display(),
            "created the store and loaded the demo articles"
        );
        for failure in &report.failed {
            tracing::warn!(record = %failure.record, reason = %failure.reason, "demo article refused");
        }
    }
    Ok(store)
}

fn remove_store_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
