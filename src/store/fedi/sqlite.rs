//! The fediverse's tables in the SQLite store.

use rusqlite::{OptionalExtension, params};

use super::{FediDelivery, FediOutcome, FediStore, Follower, NewFediDelivery, PostState};
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
CREATE TABLE fedi_log (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO fedi_log (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;
CREATE TABLE fedi_posts (
    lang       TEXT NOT NULL,
    article_id TEXT NOT NULL,
    PRIMARY KEY (lang, article_id)
) STRICT;
INSERT INTO fedi_posts (lang, article_id) SELECT lang, article_id FROM versions;
CREATE TABLE fedi_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    inbox            TEXT NOT NULL,
    actor            TEXT NOT NULL,
    activity         TEXT NOT NULL,
    due_ms           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    first_ms         INTEGER NOT NULL,
    claimed_until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX fedi_deliveries_by_due ON fedi_deliveries (due_ms);
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

    async fn fedi_log_position(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let seq: i64 = conn.query_row("SELECT seq FROM fedi_log", [], |row| row.get(0))?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
        .await
    }

    async fn fedi_posted(&self, lang: String, article_id: String) -> Result<bool, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM fedi_posts WHERE lang = ?1 AND article_id = ?2")?
                .exists(params![lang, article_id])?)
        })
        .await
    }

    async fn queue_fedi(
        &self,
        from: u64,
        to: u64,
        posts: Vec<PostState>,
        deliveries: Vec<NewFediDelivery>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let moved = tx
                .prepare_cached("UPDATE fedi_log SET seq = ?2 WHERE seq = ?1")?
                .execute(params![as_i64(from), as_i64(to)])?;
            if moved == 0 {
                return Ok(false);
            }
            for post in &posts {
                let sql = if post.posted {
                    "INSERT INTO fedi_posts (lang, article_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM fedi_posts WHERE lang = ?1 AND article_id = ?2"
                };
                tx.prepare_cached(sql)?
                    .execute(params![post.lang, post.article_id])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO fedi_deliveries
                     (inbox, actor, activity, due_ms, attempts, first_ms, claimed_until_ms)
                 VALUES (?1, ?2, ?3, ?4, 0, ?4, 0)",
            )?;
            for d in &deliveries {
                insert.execute(params![d.inbox, d.actor, d.activity, now_ms])?;
            }
            drop(insert);
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn claim_fedi(
        &self,
        now_ms: i64,
        limit: usize,
        claim_until_ms: i64,
    ) -> Result<Vec<FediDelivery>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let claimed = {
                let mut query = tx.prepare_cached(
                    "UPDATE fedi_deliveries SET claimed_until_ms = ?3
                     WHERE id IN (SELECT id FROM fedi_deliveries
                                  WHERE due_ms <= ?1 AND claimed_until_ms <= ?1
                                  ORDER BY due_ms, id LIMIT ?2)
                     RETURNING id, inbox, actor, activity, attempts, first_ms",
                )?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                query
                    .query_map(params![now_ms, limit, claim_until_ms], |row| {
                        Ok(FediDelivery {
                            id: row.get(0)?,
                            inbox: row.get(1)?,
                            actor: row.get(2)?,
                            activity: row.get(3)?,
                            attempts: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(u32::MAX),
                            first_ms: row.get(5)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn finish_fedi(&self, outcomes: Vec<(i64, FediOutcome)>) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            for (id, outcome) in &outcomes {
                match outcome {
                    FediOutcome::Sent | FediOutcome::Dropped => {
                        tx.prepare_cached("DELETE FROM fedi_deliveries WHERE id = ?1")?
                            .execute([id])?;
                    }
                    FediOutcome::Retry { due_ms } => {
                        tx.prepare_cached(
                            "UPDATE fedi_deliveries
                             SET due_ms = ?2, attempts = attempts + 1, claimed_until_ms = 0
                             WHERE id = ?1",
                        )?
                        .execute(params![id, due_ms])?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn fedi_pending(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let n: i64 =
                conn.query_row("SELECT count(*) FROM fedi_deliveries", [], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
