//! The shared store: one PostgreSQL database behind several Kabar replicas.
//!
//! The schema means what SQLite's does: `articles`; `versions`, which repeat the
//! article's section and publish time so that "newest N in language L (and
//! section S)" is one range scan of an index; and the `changes` log followers
//! read. Ids, languages and sections are in the "C" collation, so they sort by
//! bytes as SQLite's do and feeds list ties in the same order on both backends.
//!
//! Two things are PostgreSQL's own:
//! - Every write transaction first takes one advisory lock. Sequence numbers are
//!   handed out at insert but transactions may commit in another order, so
//!   without it a follower reading "after seq N" could pass over a write that
//!   commits late; with it, seq order is commit order.
//! - Every write NOTIFYs [`CHANGE_CHANNEL`] in its transaction. Each replica
//!   LISTENs on a dedicated connection and reads the log at once rather than
//!   at its next poll; the log stays the source of truth.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use super::columns::{self, ArticleColumns, VersionColumns, parse_json, to_json};
use super::{
    ArticleStore, Change, ChangeLog, ChangeRecord, FeedQuery, FeedRow, IfMatch, StoreError, Touched,
};
use crate::article::{Article, Version};

/// The channel writes notify and replicas listen on.
pub const CHANGE_CHANNEL: &str = "kabar_changes";

/// `application_name` of the listening connection, followed by `/` and the
/// process id, so an operator (or a test) can find it in `pg_stat_activity`.
pub const LISTEN_APPLICATION_NAME: &str = "kabar-listen";

/// `application_name` of pooled connections, followed by `/` and the process id.
const POOL_APPLICATION_NAME: &str = "kabar";

/// Pooled connections: enough for concurrent cache misses beside a write;
/// more would only queue inside PostgreSQL on a small machine.
const MAX_CONNECTIONS: usize = 8;

/// How long a query waits for a pooled connection, and a new connection for
/// the server, before the store reports itself unavailable (and `/readyz` says
/// not ready) instead of hanging while the database is away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// First and longest wait between attempts to get the listening connection back.
const LISTEN_RETRY_MIN: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MAX: Duration = Duration::from_secs(5);

/// TCP keepalive idle time on the listening connection: a connection that died
/// without a word (a dropped network path) is noticed within about this long.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);

/// The schema version this binary writes; `kabar_schema` records it.
const SCHEMA_VERSION: i32 = 1;

/// Change-log rows kept; a follower further behind than this reloads everything.
const CHANGES_KEPT: i64 = 10_000;

/// Advisory lock keys ("kabar" in ASCII, then a number). Migrations hold the
/// first, so replicas starting together migrate one after the other; every
/// write transaction holds the second, so change-log order is commit order.
const MIGRATION_LOCK: i64 = 0x6b61_6261_7201;
const WRITE_LOCK: i64 = 0x6b61_6261_7202;

/// Schema 1: SQLite's schema 2, in PostgreSQL's types.
const SCHEMA_V1: &str = r#"
CREATE TABLE kabar_schema (version integer NOT NULL);
CREATE TABLE articles (
    id           text COLLATE "C" PRIMARY KEY,
    section      text COLLATE "C",
    published    text NOT NULL,
    published_ms bigint NOT NULL,
    updated      text,
    tags         text NOT NULL,
    authors      text NOT NULL,
    image        text
);
CREATE TABLE versions (
    article_id   text COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    lang         text COLLATE "C" NOT NULL,
    section      text COLLATE "C",
    published_ms bigint NOT NULL,
    translation  text NOT NULL,
    url          text,
    updated      text,
    title        text,
    summary      text,
    format       text NOT NULL,
    body         text NOT NULL,
    PRIMARY KEY (article_id, lang)
);
CREATE INDEX versions_by_language ON versions (lang, published_ms DESC, article_id);
CREATE INDEX versions_by_section ON versions (lang, section, published_ms DESC, article_id);
CREATE TABLE changes (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id text NOT NULL,
    langs      text NOT NULL,
    sections   text NOT NULL
);
"#;

/// The article columns, in [`ArticleColumns`] order, from table alias `a`.
const ARTICLE_COLUMNS: &str =
    "a.id, a.section, a.published, a.published_ms, a.updated, a.tags, a.authors, a.image";

/// The version columns, in [`VersionColumns`] order, from table alias `v`.
const VERSION_COLUMNS: &str = "v.translation, v.url, v.updated AS version_updated, v.title, \
     v.summary, v.format, v.body";

pub struct PgStore {
    /// Connections for reads and writes.
    pool: Pool,
    /// What the listening connection tells the change-log follower.
    push: Arc<Push>,
    /// The task that holds the listening connection; stopped with the store.
    listener: JoinHandle<()>,
}

/// The listening connection's news for the follower.
#[derive(Default)]
struct Push {
    /// Woken by a notification, or when the listener is back after a loss:
    /// "read the change log now".
    wake: Notify,
    /// Times the listener got its connection back after losing it.
    epoch: AtomicU64,
}

impl PgStore {
    /// Connects to the database at `url`, brings the schema up to date (under an
    /// advisory lock, so replicas starting together migrate once) and starts
    /// listening for other replicas' writes. Returns whether the schema was
    /// just created in an empty database.
    pub async fn open(url: &str) -> Result<(PgStore, bool), StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let pid = std::process::id();

        let mut pool_config = config.clone();
        pool_config
            .application_name(format!("{POOL_APPLICATION_NAME}/{pid}"))
            .connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            pool_config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is noticed by its connection
                // task, so checking `is_closed` is enough and costs no round trip.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let created = migrate(&pool).await?;

        let mut listen_config = config;
        listen_config
            .application_name(format!("{LISTEN_APPLICATION_NAME}/{pid}"))
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives_idle(KEEPALIVE_IDLE);
        let push = Arc::new(Push::default());
        let (ready, listening) = oneshot::channel();
        let listener = tokio::spawn(listen(listen_config, Arc::clone(&push), ready));
        // A store that is returned hears every write committed from now on.
        if !matches!(
            tokio::time::timeout(CONNECT_TIMEOUT, listening).await,
            Ok(Ok(()))
        ) {
            tracing::warn!(
                "not listening for other replicas' writes yet; polling the change log meanwhile"
            );
        }
        Ok((
            PgStore {
                pool,
                push,
                listener,
            },
            created,
        ))
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        client(&self.pool).await
    }

    /// PostgreSQL's plan for one feed's query, run (`EXPLAIN ANALYZE`) on the
    /// live data: how an operator checks that a feed is still one index range
    /// scan on their database (ARCHITECTURE.md shows the expected plan).
    pub async fn explain_feed(&self, query: &FeedQuery) -> Result<String, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let (from, before) = (query.published_ms.start, query.published_ms.end);
        let explain = |by_section| format!("EXPLAIN (ANALYZE, COSTS OFF) {}", feed_sql(by_section));
        let rows = match &query.section {
            None => {
                client
                    .query(&explain(false), &[&query.lang, &limit, &from, &before])
                    .await?
            }
            Some(section) => {
                client
                    .query(
                        &explain(true),
                        &[&query.lang, &limit, &from, &before, section],
                    )
                    .await?
            }
        };
        let lines = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

async fn client(pool: &Pool) -> Result<deadpool_postgres::Client, StoreError> {
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Pool(other.to_string()),
    })
}

/// Brings the schema to [`SCHEMA_VERSION`]; returns true when it was created.
/// DDL is transactional in PostgreSQL, so a migration lands whole or not at all.
async fn migrate(pool: &Pool) -> Result<bool, StoreError> {
    let mut client = client(pool).await?;
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    // Look before creating: a role without CREATE rights can still serve a
    // database that is already migrated.
    let exists: bool = tx
        .query_one("SELECT to_regclass('kabar_schema') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    let version: i32 = if exists {
        tx.query_one("SELECT coalesce(max(version), 0) FROM kabar_schema", &[])
            .await?
            .try_get(0)?
    } else {
        0
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {version}, newer than this Kabar's {SCHEMA_VERSION}"
        )));
    }
    if version == SCHEMA_VERSION {
        tx.commit().await?;
        return Ok(false);
    }
    for (step, sql) in [(1, SCHEMA_V1)] {
        if version < step {
            tx.batch_execute(sql).await?;
        }
    }
    tx.execute("DELETE FROM kabar_schema", &[]).await?;
    tx.execute(
        "INSERT INTO kabar_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    )
    .await?;
    tx.commit().await?;
    Ok(version == 0)
}

impl ArticleStore for PgStore {
    async fn feed_rows(&self, query: FeedQuery) -> Result<Vec<FeedRow>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let (from, before) = (query.published_ms.start, query.published_ms.end);
        let rows = match &query.section {
            None => {
                let stmt = client.prepare_cached(&feed_sql(false)).await?;
                client
                    .query(&stmt, &[&query.lang, &limit, &from, &before])
                    .await?
            }
            Some(section) => {
                let stmt = client.prepare_cached(&feed_sql(true)).await?;
                client
                    .query(&stmt, &[&query.lang, &limit, &from, &before, section])
                    .await?
            }
        };
        rows.iter().map(feed_row).collect()
    }

    async fn put_articles(&self, articles: Vec<Article>) -> Result<Touched, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_writes(&tx).await?;
        let mut all = Touched::default();
        let mut last_seq = 0;
        for article in articles {
            let before = article_by_id(&tx, &article.id).await?;
            let touched = Touched::between(before.as_ref(), Some(&article));
            if !touched.is_empty() {
                write_article(&tx, &article).await?;
                last_seq = log_change(&tx, &article.id, &touched).await?;
                all.extend(touched);
            }
        }
        if last_seq > 0 {
            // One notification for the batch: a bulk load would otherwise
            // queue thousands for every replica.
            notify(&tx, last_seq, None, &all).await?;
        }
        tx.commit().await?;
        Ok(all)
    }

    async fn put_article(
        &self,
        article: Article,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_writes(&tx).await?;
        let before = article_by_id(&tx, &article.id).await?;
        if if_match.is_some_and(|condition| !condition.holds(before.as_ref())) {
            return Err(StoreError::PreconditionFailed);
        }
        let touched = Touched::between(before.as_ref(), Some(&article));
        let mut seq = 0;
        if !touched.is_empty() {
            write_article(&tx, &article).await?;
            seq = log_change(&tx, &article.id, &touched).await?;
            notify(&tx, seq, Some(&article.id), &touched).await?;
        }
        tx.commit().await?;
        Ok(Change {
            before,
            after: Some(article),
            touched,
            seq,
        })
    }

    async fn delete_article(
        &self,
        id: String,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_writes(&tx).await?;
        let before = article_by_id(&tx, &id).await?;
        if if_match.is_some_and(|condition| !condition.holds(before.as_ref())) {
            return Err(StoreError::PreconditionFailed);
        }
        let touched = Touched::between(before.as_ref(), None);
        let mut seq = 0;
        if before.is_some() {
            let stmt = tx
                .prepare_cached("DELETE FROM articles WHERE id = $1")
                .await?;
            tx.execute(&stmt, &[&id]).await?;
            seq = log_change(&tx, &id, &touched).await?;
            notify(&tx, seq, Some(&id), &touched).await?;
        }
        tx.commit().await?;
        Ok(Change {
            before,
            after: None,
            touched,
            seq,
        })
    }

    async fn articles_after(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One statement, so one snapshot: a page never shows an article
        // without the versions a concurrent write gave it.
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ARTICLE_COLUMNS}, v.lang, {VERSION_COLUMNS}
                 FROM (SELECT * FROM articles WHERE id > $1 ORDER BY id LIMIT $2) a
                 LEFT JOIN versions v ON v.article_id = a.id
                 ORDER BY a.id, v.lang"
            ))
            .await?;
        let rows = client
            .query(&stmt, &[&after.unwrap_or_default(), &limit])
            .await?;
        articles_from_rows(&rows)
    }

    async fn changes_since(&self, seq: u64) -> Result<ChangeLog, StoreError> {
        let client = self.client().await?;
        let since = i64::try_from(seq).unwrap_or(i64::MAX);
        // The bounds and the records in one statement, so they agree.
        let stmt = client
            .prepare_cached(
                "SELECT b.oldest, b.latest, c.seq, c.langs, c.sections
                 FROM (SELECT coalesce(min(seq), 0) AS oldest, coalesce(max(seq), 0) AS latest
                       FROM changes) b
                 LEFT JOIN LATERAL (SELECT seq, langs, sections FROM changes
                                    WHERE seq > $1 ORDER BY seq LIMIT 10000) c ON true
                 ORDER BY c.seq",
            )
            .await?;
        let rows = client.query(&stmt, &[&since]).await?;
        let mut log = ChangeLog::default();
        for row in &rows {
            log.oldest = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
            log.latest = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
            let Some(seq) = row.try_get::<_, Option<i64>>(2)? else {
                continue;
            };
            log.records.push(ChangeRecord {
                seq: u64::try_from(seq).unwrap_or(0),
                touched: Touched {
                    langs: parse_json(row.try_get(3)?)?,
                    sections: parse_json(row.try_get(4)?)?,
                },
            });
        }
        Ok(log)
    }

    async fn article(&self, id: String) -> Result<Option<Article>, StoreError> {
        let client = self.client().await?;
        article_by_id(&client, &id).await
    }

    async fn article_count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM articles", &[])
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.batch_execute("SELECT 1").await?;
        Ok(())
    }

    fn wait_for_change(&self) -> impl Future<Output = ()> + Send {
        self.push.wake.notified()
    }

    fn push_epoch(&self) -> u64 {
        self.push.epoch.load(Ordering::Acquire)
    }
}

/// The feed query: the newest `$2` versions in language `$1` (and section
/// `$3`), each with its article and, aggregated in the same statement (one
/// round trip, one snapshot), its sibling versions ordered by language.
fn feed_sql(by_section: bool) -> String {
    let section = if by_section { "AND v.section = $5" } else { "" };
    format!(
        "SELECT f.*, s.langs, s.urls, s.translations
         FROM (SELECT {ARTICLE_COLUMNS}, {VERSION_COLUMNS}
               FROM versions v JOIN articles a ON a.id = v.article_id
               WHERE v.lang = $1 {section} AND v.published_ms >= $3 AND v.published_ms < $4
               ORDER BY v.published_ms DESC, v.article_id
               LIMIT $2) f
         CROSS JOIN LATERAL (
               SELECT array_agg(s.lang ORDER BY s.lang) AS langs,
                      array_agg(s.url ORDER BY s.lang) AS urls,
                      array_agg(s.translation ORDER BY s.lang) AS translations
               FROM versions s WHERE s.article_id = f.id AND s.lang <> $1) s
         ORDER BY f.published_ms DESC, f.id"
    )
}

/// Reads the [`ArticleColumns`] from column `at` on.
fn article_columns(row: &Row, at: usize) -> Result<ArticleColumns, StoreError> {
    Ok(ArticleColumns {
        id: row.try_get(at)?,
        section: row.try_get(at + 1)?,
        published: row.try_get(at + 2)?,
        published_ms: row.try_get(at + 3)?,
        updated: row.try_get(at + 4)?,
        tags: row.try_get(at + 5)?,
        authors: row.try_get(at + 6)?,
        image: row.try_get(at + 7)?,
    })
}

/// Reads the [`VersionColumns`] from column `at` on.
fn version_columns(row: &Row, at: usize) -> Result<VersionColumns, StoreError> {
    Ok(VersionColumns {
        translation: row.try_get(at)?,
        url: row.try_get(at + 1)?,
        updated: row.try_get(at + 2)?,
        title: row.try_get(at + 3)?,
        summary: row.try_get(at + 4)?,
        format: row.try_get(at + 5)?,
        body: row.try_get::<_, LongText>(at + 6)?.0,
    })
}

/// A TEXT column read with [`columns::long_text`].
struct LongText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for LongText {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(LongText(columns::long_text(raw)?))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

/// One row of [`feed_sql`].
fn feed_row(row: &Row) -> Result<FeedRow, StoreError> {
    let langs: Vec<String> = row.try_get::<_, Option<_>>(15)?.unwrap_or_default();
    let urls: Vec<Option<String>> = row.try_get::<_, Option<_>>(16)?.unwrap_or_default();
    let translations: Vec<String> = row.try_get::<_, Option<_>>(17)?.unwrap_or_default();
    if urls.len() != langs.len() || translations.len() != langs.len() {
        return Err(StoreError::Corrupt(
            "sibling columns of unequal length".to_owned(),
        ));
    }
    let siblings = langs
        .into_iter()
        .zip(urls)
        .zip(translations)
        .map(|((lang, url), translation)| columns::sibling(lang, url.as_deref(), &translation))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FeedRow {
        article: article_columns(row, 0)?.into_meta()?,
        version: version_columns(row, 8)?.into_version()?,
        siblings,
    })
}

/// Whole articles from rows of article columns, `lang`, then version columns
/// (a LEFT JOIN: `lang` is null for an article without versions), ordered by
/// article id then language.
fn articles_from_rows(rows: &[Row]) -> Result<Vec<Article>, StoreError> {
    let mut articles = Vec::new();
    let mut current: Option<(ArticleColumns, BTreeMap<String, Version>)> = None;
    for row in rows {
        let id: &str = row.try_get(0)?;
        if current.as_ref().is_none_or(|(a, _)| a.id != id) {
            if let Some((columns, versions)) = current.take() {
                articles.push(columns.into_article(versions)?);
            }
            current = Some((article_columns(row, 0)?, BTreeMap::new()));
        }
        if let (Some(lang), Some((_, versions))) =
            (row.try_get::<_, Option<String>>(8)?, current.as_mut())
        {
            versions.insert(lang, version_columns(row, 9)?.into_version()?);
        }
    }
    if let Some((columns, versions)) = current {
        articles.push(columns.into_article(versions)?);
    }
    Ok(articles)
}

/// One whole article, read in one statement.
async fn article_by_id(db: &impl GenericClient, id: &str) -> Result<Option<Article>, StoreError> {
    let stmt = db
        .prepare_cached(&format!(
            "SELECT {ARTICLE_COLUMNS}, v.lang, {VERSION_COLUMNS}
             FROM articles a LEFT JOIN versions v ON v.article_id = a.id
             WHERE a.id = $1 ORDER BY v.lang"
        ))
        .await?;
    let rows = db.query(&stmt, &[&id]).await?;
    Ok(articles_from_rows(&rows)?.pop())
}

/// Waits for every earlier write to commit, so this one's change-log sequence
/// number is above theirs and below every later one's: the log's order is the
/// order its records become visible in. Released at commit or rollback.
async fn lock_writes(db: &impl GenericClient) -> Result<(), StoreError> {
    db.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
        .await?;
    Ok(())
}

/// Replaces one article and all its versions (the caller holds the transaction).
async fn write_article(db: &impl GenericClient, article: &Article) -> Result<(), StoreError> {
    let a = ArticleColumns::encode(article)?;
    let (delete, upsert, insert) = tokio::try_join!(
        db.prepare_cached("DELETE FROM versions WHERE article_id = $1"),
        db.prepare_cached(
            "INSERT INTO articles (id, section, published, published_ms, updated, tags, authors, image)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET section = excluded.section,
                 published = excluded.published, published_ms = excluded.published_ms,
                 updated = excluded.updated, tags = excluded.tags, authors = excluded.authors,
                 image = excluded.image",
        ),
        // Every version in one statement: one round trip however many languages.
        db.prepare_cached(
            "INSERT INTO versions (article_id, lang, section, published_ms, translation, url,
                 updated, title, summary, format, body)
             SELECT $1, v.lang, $2, $3, v.translation, v.url, v.updated, v.title, v.summary,
                 v.format, v.body
             FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::text[])
                 AS v(lang, translation, url, updated, title, summary, format, body)",
        ),
    )?;
    // Independent, so sent together.
    let delete_params: [&(dyn ToSql + Sync); 1] = [&a.id];
    let upsert_params: [&(dyn ToSql + Sync); 8] = [
        &a.id,
        &a.section,
        &a.published,
        &a.published_ms,
        &a.updated,
        &a.tags,
        &a.authors,
        &a.image,
    ];
    tokio::try_join!(
        db.execute(&delete, &delete_params),
        db.execute(&upsert, &upsert_params),
    )?;
    let versions: Vec<(&String, VersionColumns)> = article
        .versions
        .iter()
        .map(|(lang, v)| (lang, VersionColumns::encode(v)))
        .collect();
    let langs: Vec<&str> = versions.iter().map(|(l, _)| l.as_str()).collect();
    let translations: Vec<&str> = versions
        .iter()
        .map(|(_, v)| v.translation.as_str())
        .collect();
    let urls: Vec<Option<&str>> = versions.iter().map(|(_, v)| v.url.as_deref()).collect();
    let updated: Vec<Option<&str>> = versions.iter().map(|(_, v)| v.updated.as_deref()).collect();
    let titles: Vec<Option<&str>> = versions.iter().map(|(_, v)| v.title.as_deref()).collect();
    let summaries: Vec<Option<&str>> = versions.iter().map(|(_, v)| v.summary.as_deref()).collect();
    let formats: Vec<&str> = versions.iter().map(|(_, v)| v.format.as_str()).collect();
    let bodies: Vec<&str> = versions.iter().map(|(_, v)| v.body.as_str()).collect();
    db.execute(
        &insert,
        &[
            &a.id,
            &a.section,
            &a.published_ms,
            &langs,
            &translations,
            &urls,
            &updated,
            &titles,
            &summaries,
            &formats,
            &bodies,
        ],
    )
    .await?;
    Ok(())
}

/// Appends a write to the change log and prunes what no follower needs.
async fn log_change(
    db: &impl GenericClient,
    id: &str,
    touched: &Touched,
) -> Result<u64, StoreError> {
    let stmt = db
        .prepare_cached(
            "INSERT INTO changes (article_id, langs, sections) VALUES ($1, $2, $3) RETURNING seq",
        )
        .await?;
    let seq: i64 = db
        .query_one(
            &stmt,
            &[&id, &to_json(&touched.langs)?, &to_json(&touched.sections)?],
        )
        .await?
        .try_get(0)?;
    if seq % 1000 == 0 {
        db.execute(
            "DELETE FROM changes WHERE seq <= $1",
            &[&(seq - CHANGES_KEPT)],
        )
        .await?;
    }
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// What a notification says. Followers only take it as "read the log now";
/// the details are for people watching the channel.
#[derive(serde::Serialize)]
struct Notice<'a> {
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    article: Option<&'a str>,
    langs: &'a BTreeSet<String>,
}

/// Queues a notification, delivered by PostgreSQL when (and only if) the
/// transaction commits.
async fn notify(
    db: &impl GenericClient,
    seq: u64,
    article: Option<&str>,
    touched: &Touched,
) -> Result<(), StoreError> {
    let payload = to_json(&Notice {
        seq,
        article,
        langs: &touched.langs,
    })?;
    let stmt = db.prepare_cached("SELECT pg_notify($1, $2)").await?;
    db.execute(&stmt, &[&CHANGE_CHANNEL, &payload]).await?;
    Ok(())
}

/// Keeps a connection LISTENing on [`CHANGE_CHANNEL`] for as long as the store
/// lives, reconnecting with backoff when it is lost. `ready` fires once the
/// first LISTEN is in place; every later one bumps the push epoch.
async fn listen(config: tokio_postgres::Config, push: Arc<Push>, ready: oneshot::Sender<()>) {
    let mut state = ListenState {
        push,
        ready: Some(ready),
    };
    let mut retry = LISTEN_RETRY_MIN;
    let mut quiet = false;
    loop {
        let (listened, reason) = listen_once(&config, &mut state).await;
        if listened {
            tracing::warn!(%reason, "lost the connection that hears other replicas' writes; reconnecting");
            retry = LISTEN_RETRY_MIN;
            quiet = false;
        } else if !quiet {
            // Once per outage: the retries that follow would only repeat it.
            tracing::warn!(%reason, "cannot listen for other replicas' writes; retrying");
            quiet = true;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MAX);
    }
}

struct ListenState {
    push: Arc<Push>,
    /// Told when the first LISTEN is in place; `None` afterwards.
    ready: Option<oneshot::Sender<()>>,
}

impl ListenState {
    fn listening(&mut self) {
        match self.ready.take() {
            Some(ready) => {
                let _ = ready.send(());
            }
            None => {
                self.push.epoch.fetch_add(1, Ordering::AcqRel);
                self.push.wake.notify_one();
                tracing::info!(
                    "listening for other replicas' writes again; retiring every feed once"
                );
            }
        }
    }
}

/// One listening session: connect, LISTEN, pass notifications on until the
/// connection ends. Returns whether LISTEN was in place, and why it ended.
async fn listen_once(config: &tokio_postgres::Config, state: &mut ListenState) -> (bool, String) {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(error) => return (false, error.to_string()),
    };
    let sql = format!("LISTEN {CHANGE_CHANNEL}");
    let subscribe = client.batch_execute(&sql);
    tokio::pin!(subscribe);
    let mut listening = false;
    loop {
        // The connection is driven here rather than spawned, because only
        // `poll_message` hands out notifications.
        tokio::select! {
            result = &mut subscribe, if !listening => match result {
                Ok(()) => {
                    listening = true;
                    state.listening();
                }
                Err(error) => return (false, error.to_string()),
            },
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(notice))) => {
                    tracing::debug!(payload = notice.payload(), "another writer committed");
                    state.push.wake.notify_one();
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return (listening, error.to_string()),
                None => return (listening, "the server closed the connection".to_owned()),
            },
        }
    }
}
