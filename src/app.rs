//! The running application: configuration, store, cache and metrics, shared by
//! every connection, and the start-up steps that assemble them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::HeaderValue;
use tokio::sync::{Notify, watch};

use crate::auth::ApiTokens;
use crate::config::{Config, DatabaseUrl};
use crate::fedi::Fedi;
use crate::hub::{self, Host, Hub};
use crate::import;
use crate::metrics::Metrics;
use crate::serve::FeedCache;
use crate::store::OwnWrites;
use crate::store::{ArticleStore, PgStore, SqliteStore, StoreError};
use crate::urls::Resource;
use crate::websub::{PublishStats, Publisher, PublisherConfig};

pub struct App<S> {
    pub config: Arc<Config>,
    pub store: Arc<S>,
    pub cache: FeedCache<S>,
    pub metrics: Arc<Metrics>,
    /// Tokens the write API accepts; `None` turns the API off.
    pub tokens: Option<ApiTokens>,
    /// Writes this process made, so the change-log follower skips them.
    pub own_writes: OwnWrites,
    /// Tells the configured WebSub hubs which feeds changed, in the background.
    pub publisher: Publisher,
    pub publish_stats: Arc<PublishStats>,
    /// The built-in WebSub hub: subscriptions and deliveries to subscribers.
    pub hub: Hub,
    /// How far the render cache has followed the change log.
    pub log_seen: LogSeen,
    /// The fediverse accounts: keys, signed requests, inbox checks.
    pub fedi: Arc<Fedi>,
}

impl<S: ArticleStore> App<S> {
    pub fn new(config: Arc<Config>, store: Arc<S>, tokens: Option<ApiTokens>) -> Arc<App<S>> {
        let metrics = Arc::new(Metrics::default());
        let publish_stats = Arc::new(PublishStats::default());
        let (publisher, _worker) = Publisher::start(
            PublisherConfig::new(config.site.hubs.clone()),
            Arc::clone(&publish_stats),
        );
        let fedi = Arc::new(Fedi::new(Arc::clone(&config)));
        let app = Arc::new(App {
            hub: Hub::new(Arc::clone(&config)),
            cache: FeedCache::new(
                Arc::clone(&config),
                Arc::clone(&store),
                Arc::clone(&metrics),
            ),
            config,
            store,
            metrics,
            tokens,
            own_writes: OwnWrites::default(),
            publisher,
            publish_stats,
            log_seen: LogSeen::default(),
            fedi,
        });
        Fedi::start(&app.fedi, &app.store);
        if app.hub.enabled() {
            // A weak handle: the worker ends when the last App goes.
            tokio::spawn(hub::run(Arc::downgrade(&app)));
        }
        app
    }

    /// Tells the external WebSub hubs that these feeds changed, and queues
    /// deliveries to the built-in hub's subscribers (call it after their
    /// renders were retired, so what goes out is the new bytes).
    pub async fn announce(&self, resources: &[Resource]) {
        // Archives are not subscribed to; OPML and index change with the configuration only.
        let urls: Vec<String> = resources
            .iter()
            .filter(|r| matches!(r, Resource::Feed { .. } | Resource::Tag { .. }))
            .filter_map(|r| r.url(&self.config))
            .collect();
        self.publisher.publish(&urls);
        self.hub.catch_up(&*self.store).await;
        self.fedi.wake();
    }
}

/// The longest a sender waits for the change-log follower to reach a change.
const REACH_WAIT: Duration = Duration::from_secs(2);

/// How far this process's render cache has followed the store's change log:
/// every record up to [`LogSeen::seen`] has retired the feeds it touched
/// here. A hub delivery queued for a change by another process waits for
/// it, or it could send the body from before the change.
pub struct LogSeen {
    seen: watch::Sender<u64>,
    /// Asks the follower to read the log now rather than at its next poll.
    wanted: Notify,
}

impl Default for LogSeen {
    fn default() -> LogSeen {
        LogSeen {
            seen: watch::Sender::new(0),
            wanted: Notify::new(),
        }
    }
}

impl LogSeen {
    pub fn seen(&self) -> u64 {
        *self.seen.borrow()
    }

    /// The follower has retired every record up to `seq`.
    pub fn followed(&self, seq: u64) {
        self.seen.send_if_modified(|seen| {
            let moved = seq > *seen;
            *seen = (*seen).max(seq);
            moved
        });
    }

    /// Resolves when a sender wants the log read now.
    pub async fn wanted(&self) {
        self.wanted.notified().await;
    }

    /// Waits, for a bounded time, until the follower has reached `seq`.
    pub async fn reach(&self, seq: u64) -> bool {
        let mut seen = self.seen.subscribe();
        if *seen.borrow() >= seq {
            return true;
        }
        self.wanted.notify_one();
        let reached = seen.wait_for(|s| *s >= seq);
        matches!(tokio::time::timeout(REACH_WAIT, reached).await, Ok(Ok(_)))
    }
}

impl<S: ArticleStore> Host for App<S> {
    type Store = S;

    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn hub_store(&self) -> &Arc<S> {
        &self.store
    }

    /// The bytes a reader gets: the cache's render, built if need be.
    async fn feed_body(&self, resource: Resource, log_seq: u64) -> Option<(Bytes, HeaderValue)> {
        if !self.log_seen.reach(log_seq).await {
            return None;
        }
        let rep = self.cache.get(resource).await.ok()?;
        Some((rep.identity.bytes.clone(), rep.content_type.clone()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store {path}")]
    Store { path: String, source: StoreError },
    #[error("{DATABASE_URL_ENV}: {0}")]
    DatabaseUrl(String),
    #[error("the configuration names no SQLite file ([store] path): it uses {0}")]
    NotSqlite(DatabaseUrl),
    #[error("the configuration names no store ([store] path or url)")]
    NoStore,
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

/// The environment variable that names a PostgreSQL database, overriding
/// feeds.toml's `[store]`: the usual way to hand replicas their database (and
/// the only place its password may stand).
pub const DATABASE_URL_ENV: &str = "KABAR_DATABASE_URL";

/// Which store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store: one SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by replicas.
    Postgres(DatabaseUrl),
}

impl StoreLocation {
    /// A `--store` value: a `postgres://` URL, or else a SQLite file path.
    pub fn parse(value: &str) -> Result<StoreLocation, String> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            DatabaseUrl::parse(value).map(StoreLocation::Postgres)
        } else {
            Ok(StoreLocation::Sqlite(PathBuf::from(value)))
        }
    }

    /// The store to open: the command line's choice, else [`DATABASE_URL_ENV`],
    /// else feeds.toml's `[store]`.
    pub fn choose(
        config: &Config,
        command_line: Option<StoreLocation>,
    ) -> Result<StoreLocation, StartError> {
        if let Some(location) = command_line {
            return Ok(location);
        }
        if let Some(url) = std::env::var_os(DATABASE_URL_ENV).filter(|v| !v.is_empty()) {
            let url = url
                .to_str()
                .ok_or_else(|| StartError::DatabaseUrl("is not UTF-8".to_owned()))?;
            return DatabaseUrl::parse(url)
                .map(StoreLocation::Postgres)
                .map_err(StartError::DatabaseUrl);
        }
        match (&config.store.url, &config.store.path) {
            (Some(url), _) => Ok(StoreLocation::Postgres(url.get_ref().clone())),
            (None, Some(path)) => Ok(StoreLocation::Sqlite(path.get_ref().clone())),
            // Config::parse refuses a [store] with neither.
            (None, None) => Err(StartError::NoStore),
        }
    }
}

/// Opens the SQLite store (at `path`, or the configured one) and, when it was
/// just created and the configuration names a seed folder, imports it. A seed
/// that fails removes the new file again, so the next start tries afresh.
pub async fn open_sqlite(
    config: &Config,
    path: Option<&Path>,
    seed: Seed,
) -> Result<SqliteStore, StartError> {
    let path = match (path, &config.store.path, &config.store.url) {
        (Some(path), _, _) => path,
        (None, Some(path), _) => path.get_ref().as_path(),
        (None, None, Some(url)) => return Err(StartError::NotSqlite(url.get_ref().clone())),
        (None, None, None) => return Err(StartError::NoStore),
    };
    let (store, created) = SqliteStore::open(path).map_err(|source| StartError::Store {
        path: path.display().to_string(),
        source,
    })?;
    if created
        && seed == Seed::IfCreated
        && let Err(error) = load_seed(&store, config).await
    {
        drop(store);
        remove_store_files(path);
        return Err(error);
    }
    Ok(store)
}

/// Opens the PostgreSQL store at `url`, migrating its schema, and seeds it from
/// the configured folder when this process just created the schema in an empty
/// database (so of replicas starting together, exactly one seeds). A seed that
/// fails leaves the empty schema: `kabar import` can load the articles later.
pub async fn open_postgres(
    config: &Config,
    url: &DatabaseUrl,
    seed: Seed,
) -> Result<PgStore, StartError> {
    let opening = |source| StartError::Store {
        path: url.redacted(),
        source,
    };
    let (store, created) = PgStore::open(url.secret()).await.map_err(opening)?;
    if created && seed == Seed::IfCreated && store.article_count().await.map_err(opening)? == 0 {
        load_seed(&store, config).await?;
    }
    Ok(store)
}

/// Imports the configured seed folder, if any, into a new store.
async fn load_seed<S: ArticleStore>(store: &S, config: &Config) -> Result<(), StartError> {
    let Some(folder) = &config.store.seed else {
        return Ok(());
    };
    let report = import::import_path(store, config, folder)
        .await
        .map_err(|source| StartError::Seed {
            path: folder.display().to_string(),
            source,
        })?;
    tracing::info!(
        imported = report.imported,
        failed = report.failed.len(),
        seed = %folder.display(),
        "created the store and loaded the demo articles"
    );
    for failure in &report.failed {
        tracing::warn!(record = %failure.record, reason = %failure.reason, "demo article refused");
    }
    skip_seed_for_push(store)
        .await
        .map_err(|source| StartError::Seed {
            path: folder.display().to_string(),
            source: source.into(),
        })
}

/// Moves the positions of both push logs, the WebSub hub's and the
/// fediverse's, past the seed: a seed is history, not news. A store just
/// made has no subscribers and no followers, and one who comes before the
/// first catch-up must not be sent the seed's articles.
async fn skip_seed_for_push<S: ArticleStore>(store: &S) -> Result<(), StoreError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let from = store.hub_log_position().await?;
    let to = store.changes_since(from).await?.latest;
    if to > from {
        let skip = crate::store::LoggedChanges {
            from,
            to,
            topics: crate::store::Topics::These(Vec::new()),
            committed_ms: 0,
        };
        store.enqueue_deliveries(skip, now_ms).await?;
    }
    let from = store.fedi_log_position().await?;
    if to > from {
        store
            .queue_fedi(from, to, Vec::new(), Vec::new(), now_ms)
            .await?;
    }
    Ok(())
}

fn remove_store_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
