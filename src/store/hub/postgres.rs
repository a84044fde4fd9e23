//! The hub's tables in PostgreSQL, shared by replicas. Claims take rows with
//! `FOR UPDATE SKIP LOCKED` and stamp a claim expiry, so two replicas never
//! send the same row at once, and a replica that dies mid-delivery leaves it
//! to another once the claim runs out. New subscriptions take an advisory
//! lock, so replicas counting against the limits at once cannot overshoot.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{
    Delivery, DeliveryEnd, Finished, HubStore, LoggedChanges, NewSubscription, Room, Subscribed,
    SubscriptionCounts, SubscriptionLimits, Topics,
};
use crate::store::{PgStore, StoreError};

/// Advisory lock key ("kabar" in ASCII, then a number) that new
/// subscriptions hold while they count against the limits.
const SUBSCRIBE_LOCK: i64 = 0x6b61_6261_7203;

/// Schema 2: SQLite's schema 3, in PostgreSQL's types.
pub(in crate::store) const SCHEMA_HUB: &str = r#"
CREATE TABLE hub_subscriptions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic            text COLLATE "C" NOT NULL,
    callback         text COLLATE "C" NOT NULL,
    host             text COLLATE "C" NOT NULL,
    secret           text,
    expires_ms       bigint NOT NULL,
    failing_since_ms bigint,
    UNIQUE (topic, callback)
);
CREATE INDEX hub_subscriptions_by_host ON hub_subscriptions (host);
CREATE INDEX hub_subscriptions_by_expiry ON hub_subscriptions (expires_ms);
CREATE TABLE hub_deliveries (
    subscription_id  bigint PRIMARY KEY REFERENCES hub_subscriptions(id) ON DELETE CASCADE,
    version          bigint NOT NULL,
    committed_ms     bigint NOT NULL,
    due_ms           bigint NOT NULL,
    attempts         integer NOT NULL,
    first_failure_ms bigint,
    claimed_until_ms bigint NOT NULL
);
CREATE INDEX hub_deliveries_by_due ON hub_deliveries (due_ms);
"#;

/// Schema 3: SQLite's schema 4, in PostgreSQL's types.
pub(in crate::store) const SCHEMA_HUB_LOG: &str = r#"
CREATE TABLE hub_log (
    id  integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO hub_log (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;
ALTER TABLE hub_deliveries ADD COLUMN log_seq bigint NOT NULL DEFAULT 0;
"#;

/// Queues a delivery for each leased subscription of the topics $4 (committed
/// $1, due now $2, waiting for log record $3), or folds the change into the
/// row waiting; [`ENQUEUE_ALL`] for every leased subscription.
const ENQUEUE_TOPICS: &str = "
INSERT INTO hub_deliveries
    (subscription_id, version, committed_ms, due_ms, attempts, claimed_until_ms, log_seq)
SELECT id, 1, $1, $2, 0, 0, $3 FROM hub_subscriptions WHERE topic = ANY($4) AND expires_ms > $2
ON CONFLICT (subscription_id) DO UPDATE
SET version = hub_deliveries.version + 1, log_seq = excluded.log_seq";
const ENQUEUE_ALL: &str = "
INSERT INTO hub_deliveries
    (subscription_id, version, committed_ms, due_ms, attempts, claimed_until_ms, log_seq)
SELECT id, 1, $1, $2, 0, 0, $3 FROM hub_subscriptions WHERE expires_ms > $2
ON CONFLICT (subscription_id) DO UPDATE
SET version = hub_deliveries.version + 1, log_seq = excluded.log_seq";

const COUNT_LEASED: &str = "SELECT count(*) FROM hub_subscriptions WHERE expires_ms > $1";
const COUNT_ON_HOST: &str =
    "SELECT count(*) FROM hub_subscriptions WHERE host = $1 AND expires_ms > $2";

async fn count(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let n: i64 = db.query_one(sql, params).await?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn delivery(row: &Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        subscription: row.try_get(0)?,
        version: row.try_get(1)?,
        topic: row.try_get(2)?,
        callback: row.try_get(3)?,
        secret: row.try_get(4)?,
        committed_ms: row.try_get(5)?,
        attempts: u32::try_from(row.try_get::<_, i32>(6)?).unwrap_or(0),
        first_failure_ms: row.try_get(7)?,
        log_seq: u64::try_from(row.try_get::<_, i64>(8)?).unwrap_or(0),
        host: row.try_get(9)?,
    })
}

impl HubStore for PgStore {
    async fn subscribe(
        &self,
        sub: NewSubscription,
        limits: SubscriptionLimits,
        now_ms: i64,
    ) -> Result<Subscribed, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SUBSCRIBE_LOCK])
            .await?;
        let renewed = tx
            .execute(
                "UPDATE hub_subscriptions SET secret = $3, expires_ms = $4, host = $5
                 WHERE topic = $1 AND callback = $2",
                &[
                    &sub.topic,
                    &sub.callback,
                    &sub.secret,
                    &sub.expires_ms,
                    &sub.host,
                ],
            )
            .await?;
        let outcome = if renewed > 0 {
            Subscribed::Renewed
        } else if count(&tx, COUNT_LEASED, &[&now_ms]).await? >= limits.total {
            Subscribed::OverLimit("the hub holds as many subscriptions as it may")
        } else if count(&tx, COUNT_ON_HOST, &[&sub.host, &now_ms]).await? >= limits.per_host {
            Subscribed::OverLimit("too many subscriptions for callbacks on this host")
        } else {
            tx.execute(
                "INSERT INTO hub_subscriptions (topic, callback, host, secret, expires_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &sub.topic,
                    &sub.callback,
                    &sub.host,
                    &sub.secret,
                    &sub.expires_ms,
                ],
            )
            .await?;
            Subscribed::Created
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn unsubscribe(&self, topic: String, callback: String) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM hub_subscriptions WHERE topic = $1 AND callback = $2",
                &[&topic, &callback],
            )
            .await?;
        Ok(removed > 0)
    }

    async fn subscription_room(
        &self,
        topic: String,
        callback: String,
        host: String,
        now_ms: i64,
    ) -> Result<Room, StoreError> {
        let client = self.client().await?;
        let renewal = count(
            &client,
            "SELECT count(*) FROM hub_subscriptions WHERE topic = $1 AND callback = $2",
            &[&topic, &callback],
        )
        .await?
            > 0;
        let total = count(&client, COUNT_LEASED, &[&now_ms]).await?;
        let on_host = count(&client, COUNT_ON_HOST, &[&host, &now_ms]).await?;
        Ok(Room {
            renewal,
            total,
            on_host,
        })
    }

    async fn hub_log_position(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        count(&client, "SELECT seq FROM hub_log", &[]).await
    }

    async fn enqueue_deliveries(
        &self,
        changes: LoggedChanges,
        now_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row lock serialises replicas: the second waits for the first
        // to commit, then finds the position moved and queues nothing.
        let (from, to) = (as_i64(changes.from), as_i64(changes.to));
        let moved = tx
            .execute("UPDATE hub_log SET seq = $2 WHERE seq = $1", &[&from, &to])
            .await?;
        if moved == 0 {
            return Ok(None);
        }
        let committed = changes.committed_ms;
        let rows = match &changes.topics {
            Topics::These(topics) => {
                tx.execute(ENQUEUE_TOPICS, &[&committed, &now_ms, &to, topics])
                    .await?
            }
            Topics::All => tx.execute(ENQUEUE_ALL, &[&committed, &now_ms, &to]).await?,
        };
        tx.commit().await?;
        Ok(Some(rows))
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                "WITH due AS (
                     SELECT d.subscription_id FROM hub_deliveries d
                     JOIN hub_subscriptions s ON s.id = d.subscription_id
                     WHERE d.due_ms <= $1 AND d.claimed_until_ms <= $1 AND s.expires_ms > $1
                     ORDER BY d.due_ms LIMIT $2
                     FOR UPDATE OF d SKIP LOCKED)
                 UPDATE hub_deliveries d SET claimed_until_ms = $3
                 FROM due, hub_subscriptions s
                 WHERE d.subscription_id = due.subscription_id AND s.id = d.subscription_id
                 RETURNING d.subscription_id, d.version, s.topic, s.callback, s.secret,
                           d.committed_ms, d.attempts, d.first_failure_ms, d.log_seq, s.host",
                &[&now_ms, &limit, &claim_until_ms],
            )
            .await?;
        rows.iter().map(delivery).collect()
    }

    async fn finish_deliveries(
        &self,
        finished: Vec<Finished>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Successes, nearly all of a fan-out, go in three statements however
        // many there are; the rest one by one.
        let (delivered, others): (Vec<Finished>, Vec<Finished>) = finished
            .into_iter()
            .partition(|f| f.end == DeliveryEnd::Delivered);
        delivered_all(&tx, &delivered, now_ms).await?;
        let mut ended = 0;
        for one in others {
            ended += u64::from(finish(&tx, one, now_ms).await?);
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn expire_subscriptions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "DELETE FROM hub_subscriptions WHERE expires_ms <= $1",
                &[&now_ms],
            )
            .await?)
    }

    async fn subscription_counts(&self, now_ms: i64) -> Result<SubscriptionCounts, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE expires_ms > $1 AND failing_since_ms IS NULL),
                        count(*) FILTER (WHERE expires_ms > $1 AND failing_since_ms IS NOT NULL),
                        (SELECT count(*) FROM hub_deliveries)
                 FROM hub_subscriptions",
                &[&now_ms],
            )
            .await?;
        let n = |i: usize| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0))
        };
        Ok(SubscriptionCounts {
            active: n(0)?,
            failing: n(1)?,
            pending_deliveries: n(2)?,
        })
    }
}

/// Records successes: each row goes unless a change came while it was sent
/// (its version moved), in which case the newest body is due now.
async fn delivered_all(
    tx: &impl GenericClient,
    delivered: &[Finished],
    now_ms: i64,
) -> Result<(), StoreError> {
    if delivered.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = delivered.iter().map(|f| f.subscription).collect();
    let versions: Vec<i64> = delivered.iter().map(|f| f.version).collect();
    tx.execute(
        "DELETE FROM hub_deliveries d USING unnest($1::bigint[], $2::bigint[]) AS f(id, version)
         WHERE d.subscription_id = f.id AND d.version = f.version",
        &[&ids, &versions],
    )
    .await?;
    tx.execute(
        "UPDATE hub_deliveries SET due_ms = $2, claimed_until_ms = 0,
             attempts = 0, first_failure_ms = NULL
         WHERE subscription_id = ANY($1)",
        &[&ids, &now_ms],
    )
    .await?;
    tx.execute(
        "UPDATE hub_subscriptions SET failing_since_ms = NULL
         WHERE id = ANY($1) AND failing_since_ms IS NOT NULL",
        &[&ids],
    )
    .await?;
    Ok(())
}

/// Records how one claimed delivery ended; true if that ended the subscription.
async fn finish(tx: &impl GenericClient, one: Finished, now_ms: i64) -> Result<bool, StoreError> {
    let Finished {
        subscription, end, ..
    } = one;
    let mut ended = false;
    match end {
        DeliveryEnd::Delivered => delivered_all(tx, &[one], now_ms).await?,
        DeliveryEnd::Retry { due_ms } => {
            tx.execute(
                "UPDATE hub_deliveries SET attempts = attempts + 1, due_ms = $2,
                     claimed_until_ms = 0, first_failure_ms = coalesce(first_failure_ms, $3)
                 WHERE subscription_id = $1",
                &[&subscription, &due_ms, &now_ms],
            )
            .await?;
        }
        DeliveryEnd::Dropped {
            end_if_failing_since_ms,
        } => {
            let first_failure: Option<i64> = tx
                .query_opt(
                    "DELETE FROM hub_deliveries WHERE subscription_id = $1
                     RETURNING first_failure_ms",
                    &[&subscription],
                )
                .await?
                .map(|row| row.try_get::<_, Option<i64>>(0))
                .transpose()?
                .flatten();
            let since = first_failure.unwrap_or(now_ms);
            tx.execute(
                "UPDATE hub_subscriptions SET failing_since_ms = coalesce(failing_since_ms, $2)
                 WHERE id = $1",
                &[&subscription, &since],
            )
            .await?;
            ended = tx
                .execute(
                    "DELETE FROM hub_subscriptions WHERE id = $1 AND failing_since_ms <= $2",
                    &[&subscription, &end_if_failing_since_ms],
                )
                .await?
                > 0;
        }
        DeliveryEnd::Gone => {
            ended = tx
                .execute(
                    "DELETE FROM hub_subscriptions WHERE id = $1",
                    &[&subscription],
                )
                .await?
                > 0;
        }
    }
    Ok(ended)
}

fn as_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
