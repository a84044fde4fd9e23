//! The fediverse's tables in the SQLite store.

use rusqlite::{OptionalExtension, params};

use super::{FediStore, Follower};
use crate::store::{SqliteStore, StoreError};

/// Schema 6: signing keys, and the followers of each language's account.
pub(in crate::store) const SCHEMA_FEDI: &str = "
CREATE TABLE fedi_keys (
    name TEXT PRIMARY KEY,
    pem  TEXT NOT NULL
) STRICT;
CREATE TABLE fedi_followers (
    lang         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    inbox        TEXT NOT NULL,
    shared_inbox TEXT,
    since_ms     INTEGER NOT NULL,
    PRIMARY KEY (lang, actor)
) STRICT;
CREATE INDEX fedi_followers_by_actor ON fedi_followers (actor);
";

impl FediStore for SqliteStore {
    async fn fedi_key(&self, name: String) -> Result<Option<String>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT pem FROM fedi_keys WHERE name = ?1")?
                .query_row([&name], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn keep_fedi_key(&self, name: String, pem: String) -> Result<String, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO fedi_keys (name, pem) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, pem],
            )?;
            let kept: String = tx.query_row(
                "SELECT pem FROM fedi_keys WHERE name = ?1",
                [&name],
                |row| row.get(0),
            )?;
            tx.commit()?;
            Ok(kept)
        })
        .await
    }

    async fn follow(&self, follower: Follower, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let known = tx
                .prepare_cached("SELECT 1 FROM fedi_followers WHERE lang = ?1 AND actor = ?2")?
                .exists(params![follower.lang, follower.actor])?;
            tx.prepare_cached(
                "INSERT INTO fedi_followers (lang, actor, inbox, shared_inbox, since_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (lang, actor) DO UPDATE
                 SET inbox = excluded.inbox, shared_inbox = excluded.shared_inbox",
            )?
            .execute(params![
                follower.lang,
                follower.actor,
                follower.inbox,
                follower.shared_inbox,
                now_ms
            ])?;
            tx.commit()?;
            Ok(!known)
        })
        .await
    }

    async fn unfollow(&self, lang: String, actor: String) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached("DELETE FROM fedi_followers WHERE lang = ?1 AND actor = ?2")?
                .execute(params![lang, actor])?
                > 0)
        })
        .await
    }

    async fn forget_follower(&self, actor: String) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM fedi_followers WHERE actor = ?1")?
                .execute([actor])?;
            Ok(u64::try_from(removed).unwrap_or(0))
        })
        .await
    }

    async fn follower_count(&self, lang: String) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM fedi_followers WHERE lang = ?1")?
                .query_row([lang], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn follower_inboxes(&self, lang: String) -> Result<Vec<String>, StoreError> {
        self.read(move |conn| {
            let mut query = conn.prepare_cached(
                "SELECT DISTINCT coalesce(shared_inbox, inbox) AS to_inbox FROM fedi_followers
                 WHERE lang = ?1 ORDER BY to_inbox",
            )?;
            let inboxes = query
                .query_map([lang], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(inboxes)
        })
        .await
    }
}
