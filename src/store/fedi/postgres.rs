//! The fediverse's tables in PostgreSQL, shared by replicas.

use super::{FediDelivery, FediOutcome, FediStore, Follower, NewFediDelivery, PostState};
use crate::store::{PgStore, StoreError};

/// Schema 5: SQLite's schema 6, in PostgreSQL's types.
pub(in crate::store) const SCHEMA_FEDI: &str = r#"
CREATE TABLE fedi_keys (
    name text COLLATE "C" PRIMARY KEY,
    pem  text NOT NULL
);
CREATE TABLE fedi_followers (
    lang         text COLLATE "C" NOT NULL,
    actor        text COLLATE "C" NOT NULL,
    inbox        text NOT NULL,
    shared_inbox text,
    since_ms     bigint NOT NULL,
    PRIMARY KEY (lang, actor)
);
CREATE INDEX fedi_followers_by_actor ON fedi_followers (actor);
CREATE TABLE fedi_log (
    id  integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO fedi_log (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;
CREATE TABLE fedi_posts (
    lang       text COLLATE "C" NOT NULL,
    article_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (lang, article_id)
);
INSERT INTO fedi_posts (lang, article_id) SELECT lang, article_id FROM versions;
CREATE TABLE fedi_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbox            text NOT NULL,
    actor            text NOT NULL,
    activity         text NOT NULL,
    due_ms           bigint NOT NULL,
    attempts         integer NOT NULL,
    first_ms         bigint NOT NULL,
    claimed_until_ms bigint NOT NULL
);
CREATE INDEX fedi_deliveries_by_due ON fedi_deliveries (due_ms);
"#;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl FediStore for PgStore {
    async fn fedi_key(&self, name: String) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT pem FROM fedi_keys WHERE name = $1", &[&name])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn keep_fedi_key(&self, name: String, pem: String) -> Result<String, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO fedi_keys (name, pem) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &pem],
            )
            .await?;
        // A committed row is never replaced, so this reads the one every
        // replica keeps.
        let row = client
            .query_one("SELECT pem FROM fedi_keys WHERE name = $1", &[&name])
            .await?;
        Ok(row.get(0))
    }

    async fn follow(&self, follower: Follower, now_ms: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        // xmax = 0 only on a row this statement inserted.
        let row = client
            .query_one(
                "INSERT INTO fedi_followers (lang, actor, inbox, shared_inbox, since_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (lang, actor) DO UPDATE
                 SET inbox = excluded.inbox, shared_inbox = excluded.shared_inbox
                 RETURNING (xmax = 0)",
                &[
                    &follower.lang,
                    &follower.actor,
                    &follower.inbox,
                    &follower.shared_inbox,
                    &now_ms,
                ],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn unfollow(&self, lang: String, actor: String) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM fedi_followers WHERE lang = $1 AND actor = $2",
                &[&lang, &actor],
            )
            .await?;
        Ok(removed > 0)
    }

    async fn forget_follower(&self, actor: String) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute("DELETE FROM fedi_followers WHERE actor = $1", &[&actor])
            .await?)
    }

    async fn follower_count(&self, lang: String) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM fedi_followers WHERE lang = $1",
                &[&lang],
            )
            .await?;
        Ok(count(row.get(0)))
    }

    async fn follower_inboxes(&self, lang: String) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT coalesce(shared_inbox, inbox) AS to_inbox FROM fedi_followers
                 WHERE lang = $1 ORDER BY to_inbox",
                &[&lang],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn fedi_log_position(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client.query_one("SELECT seq FROM fedi_log", &[]).await?;
        Ok(count(row.get(0)))
    }

    async fn fedi_posted(&self, lang: String, article_id: String) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT 1 FROM fedi_posts WHERE lang = $1 AND article_id = $2",
                &[&lang, &article_id],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn queue_fedi(
        &self,
        from: u64,
        to: u64,
        posts: Vec<PostState>,
        deliveries: Vec<NewFediDelivery>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The compare-and-set: a replica that moved the position first holds
        // the row until it commits, and this one then finds it moved.
        let moved = tx
            .execute(
                "UPDATE fedi_log SET seq = $2 WHERE seq = $1",
                &[&as_i64(from), &as_i64(to)],
            )
            .await?;
        if moved == 0 {
            return Ok(false);
        }
        for post in &posts {
            let sql = if post.posted {
                "INSERT INTO fedi_posts (lang, article_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM fedi_posts WHERE lang = $1 AND article_id = $2"
            };
            tx.execute(sql, &[&post.lang, &post.article_id]).await?;
        }
        let insert = tx
            .prepare(
                "INSERT INTO fedi_deliveries
                     (inbox, actor, activity, due_ms, attempts, first_ms, claimed_until_ms)
                 VALUES ($1, $2, $3, $4, 0, $4, 0)",
            )
            .await?;
        for d in &deliveries {
            tx.execute(&insert, &[&d.inbox, &d.actor, &d.activity, &now_ms])
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_fedi(
        &self,
        now_ms: i64,
        limit: usize,
        claim_until_ms: i64,
    ) -> Result<Vec<FediDelivery>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "UPDATE fedi_deliveries SET claimed_until_ms = $3
                 WHERE id IN (SELECT id FROM fedi_deliveries
                              WHERE due_ms <= $1 AND claimed_until_ms <= $1
                              ORDER BY due_ms, id LIMIT $2
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, inbox, actor, activity, attempts, first_ms",
                &[&now_ms, &limit, &claim_until_ms],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| FediDelivery {
                id: row.get(0),
                inbox: row.get(1),
                actor: row.get(2),
                activity: row.get(3),
                attempts: u32::try_from(row.get::<_, i32>(4)).unwrap_or(u32::MAX),
                first_ms: row.get(5),
            })
            .collect())
    }

    async fn finish_fedi(&self, outcomes: Vec<(i64, FediOutcome)>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for (id, outcome) in &outcomes {
            match outcome {
                FediOutcome::Sent | FediOutcome::Dropped => {
                    tx.execute("DELETE FROM fedi_deliveries WHERE id = $1", &[id])
                        .await?;
                }
                FediOutcome::Retry { due_ms } => {
                    tx.execute(
                        "UPDATE fedi_deliveries
                         SET due_ms = $2, attempts = attempts + 1, claimed_until_ms = 0
                         WHERE id = $1",
                        &[id, due_ms],
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fedi_pending(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM fedi_deliveries", &[])
            .await?;
        Ok(count(row.get(0)))
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
