//! The schema: its SQL, the version this binary writes, and the migration
//! that brings a database up to it under an advisory lock.

use deadpool_postgres::Pool;

use super::client;
use crate::store::StoreError;
use crate::store::hub::{PG_SCHEMA_HUB, PG_SCHEMA_HUB_LOG};

/// The schema version this binary writes; `kabar_schema` records it.
const SCHEMA_VERSION: i32 = 3;

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
    for (step, sql) in [(1, SCHEMA_V1), (2, PG_SCHEMA_HUB), (3, PG_SCHEMA_HUB_LOG)] {
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
