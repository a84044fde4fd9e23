//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single connection (SQLite has one writer anyway); reads
//! use a small pool of read-only connections, which WAL lets run beside a write.
//! Every call runs on tokio's blocking pool so the async runtime never waits on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::Semaphore;

use super::columns::{self, ArticleColumns, VersionColumns, parse_json, to_json};
use super::fedi::SQLITE_SCHEMA_FEDI;
use super::hub::{SQLITE_SCHEMA_HUB, SQLITE_SCHEMA_HUB_LOG};
use super::{
    ArticleStore, Change, ChangeLog, ChangeRecord, FeedQuery, FeedRow, IfMatch, Seek, StoreError,
    Touched,
};
use crate::article::Article;

/// Read connections kept open; more readers than cores would only contend.
const MAX_READERS: usize = 4;

/// The schema version this binary writes; `PRAGMA user_version` records it.
const SCHEMA_VERSION: i64 = 6;

/// Change-log rows kept; a reader further behind than this reloads everything.
const CHANGES_KEPT: i64 = 10_000;

/// Schema 1. `versions` repeats the article's section and publish time so that
/// "newest N in language L (and section S)" is one range scan of an index,
/// whatever the number of articles.
const SCHEMA_V1: &str = "
CREATE TABLE articles (
    id           TEXT PRIMARY KEY,
    section      TEXT,
    published    TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    updated      TEXT,
    tags         TEXT NOT NULL,
    authors      TEXT NOT NULL,
    image        TEXT
) STRICT;
CREATE TABLE versions (
    article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    lang         TEXT NOT NULL,
    section      TEXT,
    published_ms INTEGER NOT NULL,
    translation  TEXT NOT NULL,
    url          TEXT,
    updated      TEXT,
    title        TEXT,
    summary      TEXT,
    format       TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (article_id, lang)
) STRICT;
CREATE INDEX versions_by_language ON versions (lang, published_ms DESC, article_id);
CREATE INDEX versions_by_section ON versions (lang, section, published_ms DESC, article_id);
";

/// Schema 2: the change log other processes follow to invalidate their caches.
const SCHEMA_V2: &str = "
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    langs      TEXT NOT NULL,
    sections   TEXT NOT NULL
) STRICT;
";

/// Schema 5: the tag index, one row per language version and tag slug,
/// ordered as feeds are, so a tag feed is one range scan however many
/// articles and tags there are; and the slugs each change touched (NULL in
/// records written before: not known). [`backfill_tags`] fills the index.
const SCHEMA_V5: &str = "
CREATE TABLE article_tags (
    article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    lang         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    PRIMARY KEY (article_id, lang, slug)
) STRICT;
CREATE INDEX article_tags_by_slug ON article_tags (lang, slug, published_ms DESC, article_id);
ALTER TABLE changes ADD COLUMN tags TEXT;
";

pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The one write connection; the mutex is SQLite's single-writer rule made explicit.
    writer: Mutex<Connection>,
    /// Idle read connections, reused so each read skips opening the file.
    readers: Mutex<Vec<Connection>>,
    /// Caps concurrent reads at [`MAX_READERS`] blocking threads.
    read_permits: Semaphore,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and its folder if needed and
    /// bringing the schema up to date. Returns whether the store was just created.
    pub fn open(path: &Path) -> Result<(SqliteStore, bool), StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        // WAL lets readers run beside the writer; FULL makes each commit durable
        // before we answer, as the write API promises.
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        let created = migrate(&mut writer)?;
        let store = SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                read_permits: Semaphore::new(MAX_READERS),
            }),
        };
        Ok((store, created))
    }

    /// SQLite's plan for one feed's query (`EXPLAIN QUERY PLAN`), one step a
    /// line: how to check that a feed is read from one index range, as
    /// `PgStore::explain_feed` does for PostgreSQL.
    pub async fn explain_feed(&self, query: FeedQuery) -> Result<String, StoreError> {
        self.read(move |conn| {
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let sql = format!("EXPLAIN QUERY PLAN {}", feed_sql(&query));
            let mut stmt = conn.prepare(&sql)?;
            let steps = stmt
                .query_map(feed_values(&query, &limit).as_slice(), |row| {
                    row.get::<_, String>(3)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(steps.join("\n"))
        })
        .await
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .inner
            .read_permits
            .acquire()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = lock(&inner.readers).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            lock(&inner.readers).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` on the write connection on the blocking pool.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// A poisoned lock only means another thread panicked mid-call; the connection
/// itself is still sound (SQLite rolls back an unfinished transaction).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`]; returns true when it was created.
fn migrate(conn: &mut Connection) -> Result<bool, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the store has schema version {version}, newer than this Kabar's {SCHEMA_VERSION}"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(false);
    }
    // IMMEDIATE takes the write lock first, so two processes starting at once
    // migrate one after the other; the second then finds nothing to do.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (step, sql) in [
        (1, SCHEMA_V1),
        (2, SCHEMA_V2),
        (3, SQLITE_SCHEMA_HUB),
        (4, SQLITE_SCHEMA_HUB_LOG),
        (5, SCHEMA_V5),
        (6, SQLITE_SCHEMA_FEDI),
    ] {
        if version < step {
            tx.execute_batch(sql)?;
        }
    }
    if version < 5 {
        backfill_tags(&tx)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(version == 0)
}

/// Fills the tag index from the articles already stored (the step to
/// schema 5; slugs are Rust's to compute, so not SQL's).
fn backfill_tags(tx: &rusqlite::Transaction) -> Result<(), StoreError> {
    let mut stmt = tx.prepare(
        "SELECT a.id, a.tags, a.published_ms, v.lang
         FROM articles a JOIN versions v ON v.article_id = a.id",
    )?;
    let mut insert = tx.prepare(
        "INSERT OR IGNORE INTO article_tags (article_id, lang, slug, published_ms)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (id, tags, published_ms, lang): (String, String, i64, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let tags: Vec<String> = parse_json(&tags)?;
        for slug in super::slugs_of(&tags) {
            insert.execute(params![id, lang, slug, published_ms])?;
        }
    }
    Ok(())
}

impl ArticleStore for SqliteStore {
    async fn feed_rows(&self, query: FeedQuery) -> Result<Vec<FeedRow>, StoreError> {
        self.read(move |conn| feed_rows(conn, &query)).await
    }

    async fn published_near(&self, lang: String, seek: Seek) -> Result<Option<i64>, StoreError> {
        // Both read one entry of versions_by_language, whose order they follow.
        let (sql, at) = match seek {
            Seek::Before(at) => (
                "SELECT published_ms FROM versions WHERE lang = ?1 AND published_ms < ?2
                 ORDER BY published_ms DESC LIMIT 1",
                at,
            ),
            Seek::From(at) => (
                "SELECT published_ms FROM versions WHERE lang = ?1 AND published_ms >= ?2
                 ORDER BY published_ms LIMIT 1",
                at,
            ),
        };
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            Ok(stmt
                .query_row(params![lang, at], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn put_articles(&self, articles: Vec<Article>) -> Result<Touched, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut all = Touched::default();
            for article in articles {
                let before = article_by_id(&tx, &article.id)?;
                let touched = Touched::between(before.as_ref(), Some(&article));
                if !touched.is_empty() {
                    put_article(&tx, &article)?;
                    log_change(&tx, &article.id, &touched)?;
                    all.extend(touched);
                }
            }
            tx.commit()?;
            Ok(all)
        })
        .await
    }

    async fn put_article(
        &self,
        article: Article,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let before = article_by_id(&tx, &article.id)?;
            if if_match.is_some_and(|condition| !condition.holds(before.as_ref())) {
                return Err(StoreError::PreconditionFailed);
            }
            let touched = Touched::between(before.as_ref(), Some(&article));
            let mut seq = 0;
            if !touched.is_empty() {
                put_article(&tx, &article)?;
                seq = log_change(&tx, &article.id, &touched)?;
            }
            tx.commit()?;
            Ok(Change {
                before,
                after: Some(article),
                touched,
                seq,
            })
        })
        .await
    }

    async fn delete_article(
        &self,
        id: String,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let before = article_by_id(&tx, &id)?;
            if if_match.is_some_and(|condition| !condition.holds(before.as_ref())) {
                return Err(StoreError::PreconditionFailed);
            }
            let touched = Touched::between(before.as_ref(), None);
            let mut seq = 0;
            if before.is_some() {
                tx.execute("DELETE FROM articles WHERE id = ?1", [&id])?;
                seq = log_change(&tx, &id, &touched)?;
            }
            tx.commit()?;
            Ok(Change {
                before,
                after: None,
                touched,
                seq,
            })
        })
        .await
    }

    async fn articles_after(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        self.read(move |conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt =
                conn.prepare_cached("SELECT id FROM articles WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let ids = stmt
                .query_map(params![after.unwrap_or_default(), limit], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut articles = Vec::with_capacity(ids.len());
            for id in ids {
                articles.extend(article_by_id(conn, &id)?);
            }
            Ok(articles)
        })
        .await
    }

    async fn changes_since(&self, seq: u64) -> Result<ChangeLog, StoreError> {
        self.read(move |conn| {
            let since = i64::try_from(seq).unwrap_or(i64::MAX);
            let mut stmt = conn.prepare_cached(
                "SELECT seq, langs, sections, tags, article_id FROM changes
                 WHERE seq > ?1 ORDER BY seq LIMIT 10000",
            )?;
            let mut records = Vec::new();
            let mut rows = stmt.query([since])?;
            while let Some(row) = rows.next()? {
                let tags = row.get::<_, Option<String>>(3)?;
                records.push(ChangeRecord {
                    seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                    article_id: row.get(4)?,
                    touched: Touched {
                        langs: parse_json(&row.get::<_, String>(1)?)?,
                        sections: parse_json(&row.get::<_, String>(2)?)?,
                        every_tag: tags.is_none(),
                        tags: tags
                            .as_deref()
                            .map(parse_json)
                            .transpose()?
                            .unwrap_or_default(),
                    },
                });
            }
            // One subquery per end: SQLite reads min() or max() alone from the
            // end of the rowid tree, but scans the whole log for both at once.
            let (oldest, latest): (i64, i64) = conn.query_row(
                "SELECT coalesce((SELECT min(seq) FROM changes), 0), \
                        coalesce((SELECT max(seq) FROM changes), 0)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(ChangeLog {
                records,
                oldest: u64::try_from(oldest).unwrap_or(0),
                latest: u64::try_from(latest).unwrap_or(0),
            })
        })
        .await
    }

    async fn article(&self, id: String) -> Result<Option<Article>, StoreError> {
        self.read(move |conn| article_by_id(conn, &id)).await
    }

    async fn article_count(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1 FROM articles LIMIT 1", [], |_| Ok(()))
                .optional()?;
            Ok(())
        })
        .await
    }
}

const FEED_COLUMNS: &str = "a.id, a.section, a.published, a.published_ms, a.updated, a.tags,
    a.authors, a.image, v.translation, v.url, v.updated, v.title, v.summary, v.format, v.body";

/// A feed's query. By language, then optionally section and tag: one range
/// scan of versions_by_language, versions_by_section or article_tags_by_slug
/// (see [`SqliteStore::explain_feed`]). Its values are [`feed_values`].
fn feed_sql(query: &FeedQuery) -> String {
    // Without statistics SQLite's planner takes versions_by_language for a
    // section's feed too, and filters each row by section on the table: the
    // rarer the section, the more rows it reads. Named, the index is one range.
    let versions = match (&query.tag, &query.section) {
        (None, Some(_)) => "versions v INDEXED BY versions_by_section",
        _ => "versions v",
    };
    let mut sql = match &query.tag {
        None => format!(
            "SELECT {FEED_COLUMNS} FROM {versions} JOIN articles a ON a.id = v.article_id
             WHERE v.lang = ?1 AND v.published_ms >= ?3 AND v.published_ms < ?4"
        ),
        Some(_) => format!(
            "SELECT {FEED_COLUMNS} FROM article_tags t
             JOIN versions v ON v.article_id = t.article_id AND v.lang = t.lang
             JOIN articles a ON a.id = t.article_id
             WHERE t.lang = ?1 AND t.published_ms >= ?3 AND t.published_ms < ?4
                 AND t.slug = ?5"
        ),
    };
    if query.section.is_some() {
        let at = if query.tag.is_some() { 6 } else { 5 };
        sql.push_str(&format!(" AND v.section = ?{at}"));
    }
    sql.push_str(match query.tag {
        None => " ORDER BY v.published_ms DESC, v.article_id LIMIT ?2",
        Some(_) => " ORDER BY t.published_ms DESC, t.article_id LIMIT ?2",
    });
    sql
}

/// The values of [`feed_sql`]`(query)`, in its placeholders' order.
fn feed_values<'a>(query: &'a FeedQuery, limit: &'a i64) -> Vec<&'a dyn rusqlite::ToSql> {
    let range = &query.published_ms;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&query.lang, limit, &range.start, &range.end];
    values.extend(query.tag.as_ref().map(|t| t as &dyn rusqlite::ToSql));
    values.extend(query.section.as_ref().map(|s| s as &dyn rusqlite::ToSql));
    values
}

fn feed_rows(conn: &Connection, query: &FeedQuery) -> Result<Vec<FeedRow>, StoreError> {
    // One read transaction: the rows and their siblings come from one
    // snapshot, and SQLite takes the WAL read lock once instead of per query.
    let tx = conn.unchecked_transaction()?;
    let conn = &*tx;
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let mut rows = Vec::with_capacity(query.limit.min(256));
    let mut collect = |row: &Row| -> Result<(), StoreError> {
        rows.push(FeedRow {
            article: article_columns(row, 0)?.into_meta()?,
            version: version_columns(row, 8)?.into_version()?,
            siblings: Vec::new(),
        });
        Ok(())
    };
    let sql = feed_sql(query);
    let values = feed_values(query, &limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut result = stmt.query(values.as_slice())?;
    while let Some(row) = result.next()? {
        collect(row)?;
    }
    drop(result);
    drop(stmt);
    let mut stmt = conn.prepare_cached(
        "SELECT lang, url, translation FROM versions
         WHERE article_id = ?1 AND lang <> ?2 ORDER BY lang",
    )?;
    for row in &mut rows {
        let siblings = stmt.query_map(params![row.article.id, query.lang], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for sibling in siblings {
            let (lang, url, translation) = sibling?;
            row.siblings
                .push(columns::sibling(lang, url.as_deref(), &translation)?);
        }
    }
    drop(stmt);
    tx.commit()?;
    Ok(rows)
}

/// Reads id, section, published, published_ms, updated, tags, authors, image
/// from column `at` on.
fn article_columns(row: &Row, at: usize) -> rusqlite::Result<ArticleColumns> {
    Ok(ArticleColumns {
        id: row.get(at)?,
        section: row.get(at + 1)?,
        published: row.get(at + 2)?,
        published_ms: row.get(at + 3)?,
        updated: row.get(at + 4)?,
        tags: row.get(at + 5)?,
        authors: row.get(at + 6)?,
        image: row.get(at + 7)?,
    })
}

/// Reads translation, url, updated, title, summary, format, body from column `at` on.
fn version_columns(row: &Row, at: usize) -> rusqlite::Result<VersionColumns> {
    Ok(VersionColumns {
        translation: row.get(at)?,
        url: row.get(at + 1)?,
        updated: row.get(at + 2)?,
        title: row.get(at + 3)?,
        summary: row.get(at + 4)?,
        format: row.get(at + 5)?,
        body: long_text(row, at + 6)?,
    })
}

/// A TEXT column read with [`columns::long_text`].
fn long_text(row: &Row, at: usize) -> rusqlite::Result<String> {
    use rusqlite::types::{FromSqlError, Type, ValueRef};
    match row.get_ref(at)? {
        ValueRef::Text(bytes) => columns::long_text(bytes).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(at, Type::Text, Box::new(error))
        }),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            at,
            other.data_type(),
            Box::new(FromSqlError::InvalidType),
        )),
    }
}

fn article_by_id(conn: &Connection, id: &str) -> Result<Option<Article>, StoreError> {
    let columns = conn
        .prepare_cached(
            "SELECT id, section, published, published_ms, updated, tags, authors, image
             FROM articles WHERE id = ?1",
        )?
        .query_row([id], |row| article_columns(row, 0))
        .optional()?;
    let Some(columns) = columns else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT lang, translation, url, updated, title, summary, format, body
         FROM versions WHERE article_id = ?1 ORDER BY lang",
    )?;
    let mut versions = std::collections::BTreeMap::new();
    let mut result = stmt.query([id])?;
    while let Some(row) = result.next()? {
        versions.insert(
            row.get::<_, String>(0)?,
            version_columns(row, 1)?.into_version()?,
        );
    }
    columns.into_article(versions).map(Some)
}

/// Replaces one article and all its versions (the caller holds the transaction).
fn put_article(tx: &rusqlite::Transaction, article: &Article) -> Result<(), StoreError> {
    let a = ArticleColumns::encode(article)?;
    tx.execute("DELETE FROM versions WHERE article_id = ?1", [&a.id])?;
    tx.execute("DELETE FROM article_tags WHERE article_id = ?1", [&a.id])?;
    tx.prepare_cached(
        "INSERT INTO articles (id, section, published, published_ms, updated, tags, authors, image)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET section = excluded.section, published = excluded.published,
             published_ms = excluded.published_ms, updated = excluded.updated, tags = excluded.tags,
             authors = excluded.authors, image = excluded.image",
    )?
    .execute(params![
        a.id,
        a.section,
        a.published,
        a.published_ms,
        a.updated,
        a.tags,
        a.authors,
        a.image,
    ])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO versions (article_id, lang, section, published_ms, translation, url, updated,
             title, summary, format, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (lang, version) in &article.versions {
        let v = VersionColumns::encode(version);
        insert.execute(params![
            a.id,
            lang,
            a.section,
            a.published_ms,
            v.translation,
            v.url,
            v.updated,
            v.title,
            v.summary,
            v.format,
            v.body,
        ])?;
    }
    let mut tag = tx.prepare_cached(
        "INSERT INTO article_tags (article_id, lang, slug, published_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let slugs = super::tag_slugs(article);
    for lang in article.versions.keys() {
        for slug in &slugs {
            tag.execute(params![a.id, lang, slug, a.published_ms])?;
        }
    }
    Ok(())
}

/// Appends a write to the change log and prunes what no follower needs.
fn log_change(tx: &rusqlite::Transaction, id: &str, touched: &Touched) -> Result<u64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO changes (article_id, langs, sections, tags) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        id,
        to_json(&touched.langs)?,
        to_json(&touched.sections)?,
        to_json(&touched.tags)?
    ])?;
    let seq = tx.last_insert_rowid();
    if seq % 1000 == 0 {
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [seq - CHANGES_KEPT])?;
    }
    Ok(u64::try_from(seq).unwrap_or(0))
}
