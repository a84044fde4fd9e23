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
//!
//! This file holds [`PgStore`] and its write path; `schema` creates and
//! migrates the tables, `rows` holds the queries' column lists and decodes
//! their rows, and `listen` keeps the LISTEN connection.

mod listen;
mod rows;
mod schema;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use self::listen::{KEEPALIVE_IDLE, Push, listen};
use self::rows::{ARTICLE_COLUMNS, VERSION_COLUMNS, articles_from_rows, feed_row, feed_sql};
use self::schema::migrate;
use super::columns::{ArticleColumns, VersionColumns, parse_json, to_json};
use super::{
    ArticleStore, Change, ChangeLog, ChangeRecord, FeedQuery, FeedRow, IfMatch, Seek, StoreError,
    Touched,
};
use crate::article::Article;

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

/// Change-log rows kept; a follower further behind than this reloads everything.
const CHANGES_KEPT: i64 = 10_000;

/// Advisory lock key ("kabar" in ASCII, then a number) that every write
/// transaction holds, so change-log order is commit order. Migrations hold the
/// one before it (`schema::MIGRATION_LOCK`).
const WRITE_LOCK: i64 = 0x6b61_6261_7202;

pub struct PgStore {
    /// Connections for reads and writes.
    pool: Pool,
    /// What the listening connection tells the change-log follower.
    push: Arc<Push>,
    /// The task that holds the listening connection; stopped with the store.
    listener: JoinHandle<()>,
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

    pub(in crate::store) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        client(&self.pool).await
    }

    /// PostgreSQL's plan for one feed's query, run (`EXPLAIN ANALYZE`) on the
    /// live data: how an operator checks that a feed is still one index range
    /// scan on their database (ARCHITECTURE.md shows the expected plan).
    pub async fn explain_feed(&self, query: &FeedQuery) -> Result<String, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let (from, before) = (query.published_ms.start, query.published_ms.end);
        let sql = format!(
            "EXPLAIN (ANALYZE, COSTS OFF) {}",
            feed_sql(query.section.is_some(), query.tag.is_some())
        );
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&query.lang, &limit, &from, &before];
        values.extend(query.tag.as_ref().map(|t| t as &(dyn ToSql + Sync)));
        values.extend(query.section.as_ref().map(|s| s as &(dyn ToSql + Sync)));
        let rows = client.query(&sql, &values).await?;
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

impl ArticleStore for PgStore {
    async fn feed_rows(&self, query: FeedQuery) -> Result<Vec<FeedRow>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let (from, before) = (query.published_ms.start, query.published_ms.end);
        let stmt = client
            .prepare_cached(&feed_sql(query.section.is_some(), query.tag.is_some()))
            .await?;
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&query.lang, &limit, &from, &before];
        values.extend(query.tag.as_ref().map(|t| t as &(dyn ToSql + Sync)));
        values.extend(query.section.as_ref().map(|s| s as &(dyn ToSql + Sync)));
        let rows = client.query(&stmt, &values).await?;
        rows.iter().map(feed_row).collect()
    }

    async fn published_near(&self, lang: String, seek: Seek) -> Result<Option<i64>, StoreError> {
        // Both read one entry of versions_by_language, whose order they follow.
        let (sql, at) = match seek {
            Seek::Before(at) => (
                "SELECT published_ms FROM versions WHERE lang = $1 AND published_ms < $2
                 ORDER BY published_ms DESC LIMIT 1",
                at,
            ),
            Seek::From(at) => (
                "SELECT published_ms FROM versions WHERE lang = $1 AND published_ms >= $2
                 ORDER BY published_ms LIMIT 1",
                at,
            ),
        };
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        let row = client.query_opt(&stmt, &[&lang, &at]).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
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
                "SELECT b.oldest, b.latest, c.seq, c.langs, c.sections, c.tags, c.article_id
                 FROM (SELECT coalesce(min(seq), 0) AS oldest, coalesce(max(seq), 0) AS latest
                       FROM changes) b
                 LEFT JOIN LATERAL (SELECT seq, langs, sections, tags, article_id FROM changes
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
            let tags: Option<&str> = row.try_get(5)?;
            log.records.push(ChangeRecord {
                seq: u64::try_from(seq).unwrap_or(0),
                article_id: row.try_get(6)?,
                touched: Touched {
                    langs: parse_json(row.try_get(3)?)?,
                    sections: parse_json(row.try_get(4)?)?,
                    every_tag: tags.is_none(),
                    tags: tags.map(parse_json).transpose()?.unwrap_or_default(),
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
    let (delete, delete_tags, upsert, insert, insert_tags) = tokio::try_join!(
        db.prepare_cached("DELETE FROM versions WHERE article_id = $1"),
        db.prepare_cached("DELETE FROM article_tags WHERE article_id = $1"),
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
        // The tag index: every language version times every tag slug.
        db.prepare_cached(
            "INSERT INTO article_tags (article_id, lang, slug, published_ms)
             SELECT $1, l.lang, t.slug, $2
             FROM unnest($3::text[]) AS l(lang) CROSS JOIN unnest($4::text[]) AS t(slug)",
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
        db.execute(&delete_tags, &delete_params),
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
    let slugs: Vec<String> = super::tag_slugs(article).into_iter().collect();
    if !slugs.is_empty() {
        db.execute(&insert_tags, &[&a.id, &a.published_ms, &langs, &slugs])
            .await?;
    }
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
            "INSERT INTO changes (article_id, langs, sections, tags) VALUES ($1, $2, $3, $4)
             RETURNING seq",
        )
        .await?;
    let seq: i64 = db
        .query_one(
            &stmt,
            &[
                &id,
                &to_json(&touched.langs)?,
                &to_json(&touched.sections)?,
                &to_json(&touched.tags)?,
            ],
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
