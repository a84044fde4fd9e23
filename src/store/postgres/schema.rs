//! The schema: its SQL, the version this binary writes, and the migration
//! that brings a database up to it under an advisory lock.

use deadpool_postgres::Pool;

use super::client;
use crate::store::columns::parse_json;
use crate::store::fedi::PG_SCHEMA_FEDI;
use crate::store::hub::{PG_SCHEMA_HUB, PG_SCHEMA_HUB_LOG};
use crate::store::{StoreError, slugs_of};

/// The schema version this binary writes; `kabar_schema` records it.
const SCHEMA_VERSION: i32 = 5;

/// Advisory lock key ("kabar" in ASCII, then a number; the write lock is the
/// next one). Migrations hold it, so replicas starting together migrate one
/// after the other.
const MIGRATION_LOCK: i64 = 0x6b61_6261_7201;

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

/// Schema 4: SQLite's schema 5, the tag index and the slugs each change
/// touched (NULL in records written before: not known). [`backfill_tags`]
/// fills the index.
const SCHEMA_V4: &str = r#"
CREATE TABLE article_tags (
    article_id   text COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    lang         text COLLATE "C" NOT NULL,
    slug         text COLLATE "C" NOT NULL,
    published_ms bigint NOT NULL,
    PRIMARY KEY (article_id, lang, slug)
);
CREATE INDEX article_tags_by_slug ON article_tags (lang, slug, published_ms DESC, article_id);
ALTER TABLE changes ADD COLUMN tags text;
"#;

/// Brings the schema to [`SCHEMA_VERSION`]; returns true when it was created.
/// DDL is transactional in PostgreSQL, so a migration lands whole or not at all.
pub(super) async fn migrate(pool: &Pool) -> Result<bool, StoreError> {
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
    for (step, sql) in [
        (1, SCHEMA_V1),
        (2, PG_SCHEMA_HUB),
        (3, PG_SCHEMA_HUB_LOG),
        (4, SCHEMA_V4),
        (5, PG_SCHEMA_FEDI),
    ] {
        if version < step {
            tx.batch_execute(sql).await?;
        }
    }
    if version < 4 {
        backfill_tags(&tx).await?;
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

/// Fills the tag index from the articles already stored (the step to
/// schema 4; slugs are Rust's to compute, so not SQL's).
async fn backfill_tags(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    let rows = tx
        .query(
            "SELECT a.id, a.tags, a.published_ms, v.lang
             FROM articles a JOIN versions v ON v.article_id = a.id",
            &[],
        )
        .await?;
    let insert = tx
        .prepare(
            "INSERT INTO article_tags (article_id, lang, slug, published_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .await?;
    for row in &rows {
        let id: &str = row.try_get(0)?;
        let tags: Vec<String> = parse_json(row.try_get(1)?)?;
        let published_ms: i64 = row.try_get(2)?;
        let lang: &str = row.try_get(3)?;
        for slug in slugs_of(&tags) {
            tx.execute(&insert, &[&id, &lang, &slug, &published_ms])
                .await?;
        }
    }
    Ok(())
}
