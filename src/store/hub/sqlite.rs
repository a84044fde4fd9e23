//! The hub's tables in the SQLite store. Every change runs on the one write
//! connection, so a claim needs no row locks: nothing else writes meanwhile.

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Delivery, DeliveryEnd, Finished, HubStore, LoggedChanges, NewSubscription, Room, Subscribed,
    SubscriptionCounts, SubscriptionLimits, Topics,
};
use crate::store::{SqliteStore, StoreError};

/// Schema 3: subscriptions and their pending deliveries (one row each at most).
pub(in crate::store) const SCHEMA_HUB: &str = "
CREATE TABLE hub_subscriptions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    topic            TEXT NOT NULL,
    callback         TEXT NOT NULL,
    host             TEXT NOT NULL,
    secret           TEXT,
    expires_ms       INTEGER NOT NULL,
    failing_since_ms INTEGER,
    UNIQUE (topic, callback)
) STRICT;
CREATE INDEX hub_subscriptions_by_host ON hub_subscriptions (host);
CREATE INDEX hub_subscriptions_by_expiry ON hub_subscriptions (expires_ms);
CREATE TABLE hub_deliveries (
    subscription_id  INTEGER PRIMARY KEY REFERENCES hub_subscriptions(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    committed_ms     INTEGER NOT NULL,
    due_ms           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    first_failure_ms INTEGER,
    claimed_until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX hub_deliveries_by_due ON hub_deliveries (due_ms);
";

/// Schema 4: how far the change log has been turned into deliveries (from
/// the log's end when the table is made: what came before was queued by the
/// write itself), and the log record each delivery waits for.
pub(in crate::store) const SCHEMA_HUB_LOG: &str = "
CREATE TABLE hub_log (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO hub_log (id, seq) SELECT 1, coalesce(max(seq), 0) FROM changes;
ALTER TABLE hub_deliveries ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;
";

/// Queues a delivery for each leased subscription of topic ?4 (committed ?1,
/// due now ?2, waiting for log record ?3), or folds the change into the row
/// waiting. `WHERE` before `ON CONFLICT` keeps SQLite from reading the upsert
/// as a join clause.
const ENQUEUE_TOPIC: &str = "
INSERT INTO hub_deliveries
    (subscription_id, version, committed_ms, due_ms, attempts, claimed_until_ms, log_seq)
SELECT id, 1, ?1, ?2, 0, 0, ?3 FROM hub_subscriptions WHERE topic = ?4 AND expires_ms > ?2
ON CONFLICT (subscription_id) DO UPDATE SET version = version + 1, log_seq = excluded.log_seq";

/// [`ENQUEUE_TOPIC`] for every leased subscription.
const ENQUEUE_ALL: &str = "
INSERT INTO hub_deliveries
    (subscription_id, version, committed_ms, due_ms, attempts, claimed_until_ms, log_seq)
SELECT id, 1, ?1, ?2, 0, 0, ?3 FROM hub_subscriptions WHERE expires_ms > ?2
ON CONFLICT (subscription_id) DO UPDATE SET version = version + 1, log_seq = excluded.log_seq";

fn count(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<u64, StoreError> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(params, |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl HubStore for SqliteStore {
    async fn subscribe(
        &self,
        sub: NewSubscription,
        limits: SubscriptionLimits,
        now_ms: i64,
    ) -> Result<Subscribed, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM hub_subscriptions WHERE topic = ?1 AND callback = ?2",
                )?
                .query_row(params![sub.topic, sub.callback], |r| r.get(0))
                .optional()?;
            let outcome = if let Some(id) = existing {
                tx.prepare_cached(
                    "UPDATE hub_subscriptions SET secret = ?2, expires_ms = ?3, host = ?4 WHERE id = ?1",
                )?
                .execute(params![id, sub.secret, sub.expires_ms, sub.host])?;
                Subscribed::Renewed
            } else if count(
                &tx,
                "SELECT count(*) FROM hub_subscriptions WHERE expires_ms > ?1",
                [now_ms],
            )? >= limits.total
            {
                Subscribed::OverLimit("the hub holds as many subscriptions as it may")
            } else if count(
                &tx,
                "SELECT count(*) FROM hub_subscriptions WHERE host = ?1 AND expires_ms > ?2",
                params![sub.host, now_ms],
            )? >= limits.per_host
            {
                Subscribed::OverLimit("too many subscriptions for callbacks on this host")
            } else {
                tx.prepare_cached(
                    "INSERT INTO hub_subscriptions (topic, callback, host, secret, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    sub.topic,
                    sub.callback,
                    sub.host,
                    sub.secret,
                    sub.expires_ms
                ])?;
                Subscribed::Created
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn unsubscribe(&self, topic: String, callback: String) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM hub_subscriptions WHERE topic = ?1 AND callback = ?2")?
                .execute(params![topic, callback])?;
            Ok(removed > 0)
        })
        .await
    }

    async fn subscription_room(
        &self,
        topic: String,
        callback: String,
        host: String,
        now_ms: i64,
    ) -> Result<Room, StoreError> {
        self.read(move |conn| {
            let renewal = count(
                conn,
                "SELECT count(*) FROM hub_subscriptions WHERE topic = ?1 AND callback = ?2",
                params![topic, callback],
            )? > 0;
            let total = count(
                conn,
                "SELECT count(*) FROM hub_subscriptions WHERE expires_ms > ?1",
                [now_ms],
            )?;
            let on_host = count(
                conn,
                "SELECT count(*) FROM hub_subscriptions WHERE host = ?1 AND expires_ms > ?2",
                params![host, now_ms],
            )?;
            Ok(Room {
                renewal,
                total,
                on_host,
            })
        })
        .await
    }

    async fn hub_log_position(&self) -> Result<u64, StoreError> {
        self.read(|conn| count(conn, "SELECT seq FROM hub_log", []))
            .await
    }

    async fn enqueue_deliveries(
        &self,
        changes: LoggedChanges,
        now_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let moved = tx
                .prepare_cached("UPDATE hub_log SET seq = ?2 WHERE seq = ?1")?
                .execute(params![as_i64(changes.from), as_i64(changes.to)])?;
            if moved == 0 {
                return Ok(None);
            }
            let (committed, to) = (changes.committed_ms, as_i64(changes.to));
            let rows = match &changes.topics {
                Topics::These(topics) => {
                    let mut upsert = tx.prepare_cached(ENQUEUE_TOPIC)?;
                    let mut rows = 0;
                    for topic in topics {
                        rows += upsert.execute(params![committed, now_ms, to, topic])?;
                    }
                    rows
                }
                Topics::All => tx
                    .prepare_cached(ENQUEUE_ALL)?
                    .execute(params![committed, now_ms, to])?,
            };
            tx.commit()?;
            Ok(Some(rows as u64))
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut claimed = Vec::new();
            {
                let mut due = tx.prepare_cached(
                    "SELECT d.subscription_id, d.version, s.topic, s.callback, s.secret,
                            d.committed_ms, d.attempts, d.first_failure_ms, d.log_seq, s.host
                     FROM hub_deliveries d JOIN hub_subscriptions s ON s.id = d.subscription_id
                     WHERE d.due_ms <= ?1 AND d.claimed_until_ms <= ?1 AND s.expires_ms > ?1
                     ORDER BY d.due_ms LIMIT ?2",
                )?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let mut rows = due.query(params![now_ms, limit])?;
                while let Some(row) = rows.next()? {
                    claimed.push(Delivery {
                        subscription: row.get(0)?,
                        version: row.get(1)?,
                        topic: row.get(2)?,
                        callback: row.get(3)?,
                        secret: row.get(4)?,
                        committed_ms: row.get(5)?,
                        attempts: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(u32::MAX),
                        first_failure_ms: row.get(7)?,
                        log_seq: u64::try_from(row.get::<_, i64>(8)?).unwrap_or(0),
                        host: row.get(9)?,
                    });
                }
                let mut claim = tx.prepare_cached(
                    "UPDATE hub_deliveries SET claimed_until_ms = ?2 WHERE subscription_id = ?1",
                )?;
                for delivery in &claimed {
                    claim.execute(params![delivery.subscription, claim_until_ms])?;
                }
            }
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn finish_deliveries(
        &self,
        finished: Vec<Finished>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut ended = 0;
            for one in finished {
                ended += u64::from(finish(&tx, one, now_ms)?);
            }
            tx.commit()?;
            Ok(ended)
        })
        .await
    }

    async fn expire_subscriptions(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM hub_subscriptions WHERE expires_ms <= ?1")?
                .execute([now_ms])?;
            Ok(removed as u64)
        })
        .await
    }

    async fn subscription_counts(&self, now_ms: i64) -> Result<SubscriptionCounts, StoreError> {
        self.read(move |conn| {
            Ok(SubscriptionCounts {
                active: count(
                    conn,
                    "SELECT count(*) FROM hub_subscriptions
                     WHERE expires_ms > ?1 AND failing_since_ms IS NULL",
                    [now_ms],
                )?,
                failing: count(
                    conn,
                    "SELECT count(*) FROM hub_subscriptions
                     WHERE expires_ms > ?1 AND failing_since_ms IS NOT NULL",
                    [now_ms],
                )?,
                pending_deliveries: count(conn, "SELECT count(*) FROM hub_deliveries", [])?,
            })
        })
        .await
    }
}

/// Records how one claimed delivery ended; true if that ended the subscription.
fn finish(tx: &rusqlite::Transaction, one: Finished, now_ms: i64) -> Result<bool, StoreError> {
    let Finished {
        subscription,
        version,
        end,
    } = one;
    let mut ended = false;
    match end {
        DeliveryEnd::Delivered => {
            let removed = tx
                .prepare_cached(
                    "DELETE FROM hub_deliveries WHERE subscription_id = ?1 AND version = ?2",
                )?
                .execute(params![subscription, version])?;
            if removed == 0 {
                // A change came while this one was sent: send the newest now.
                tx.prepare_cached(
                    "UPDATE hub_deliveries SET due_ms = ?2, claimed_until_ms = 0,
                         attempts = 0, first_failure_ms = NULL
                     WHERE subscription_id = ?1",
                )?
                .execute(params![subscription, now_ms])?;
            }
            tx.prepare_cached(
                "UPDATE hub_subscriptions SET failing_since_ms = NULL WHERE id = ?1",
            )?
            .execute([subscription])?;
        }
        DeliveryEnd::Retry { due_ms } => {
            tx.prepare_cached(
                "UPDATE hub_deliveries SET attempts = attempts + 1, due_ms = ?2,
                     claimed_until_ms = 0, first_failure_ms = coalesce(first_failure_ms, ?3)
                 WHERE subscription_id = ?1",
            )?
            .execute(params![subscription, due_ms, now_ms])?;
        }
        DeliveryEnd::Dropped {
            end_if_failing_since_ms,
        } => {
            let first_failure: Option<Option<i64>> = tx
                .prepare_cached(
                    "SELECT first_failure_ms FROM hub_deliveries WHERE subscription_id = ?1",
                )?
                .query_row([subscription], |r| r.get(0))
                .optional()?;
            tx.prepare_cached("DELETE FROM hub_deliveries WHERE subscription_id = ?1")?
                .execute([subscription])?;
            let since = first_failure.flatten().unwrap_or(now_ms);
            tx.prepare_cached(
                "UPDATE hub_subscriptions SET failing_since_ms = coalesce(failing_since_ms, ?2)
                 WHERE id = ?1",
            )?
            .execute(params![subscription, since])?;
            ended = tx
                .prepare_cached(
                    "DELETE FROM hub_subscriptions WHERE id = ?1 AND failing_since_ms <= ?2",
                )?
                .execute(params![subscription, end_if_failing_since_ms])?
                > 0;
        }
        DeliveryEnd::Gone => {
            ended = tx
                .prepare_cached("DELETE FROM hub_subscriptions WHERE id = ?1")?
                .execute([subscription])?
                > 0;
        }
    }
    Ok(ended)
}

fn as_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
