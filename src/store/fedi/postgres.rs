//! The fediverse's tables in PostgreSQL, shared by replicas.

use super::{FediStore, Follower};
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
}
