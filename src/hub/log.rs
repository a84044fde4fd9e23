//! From the change log to deliveries. Every write, by this process or another
//! (a replica, `kabar import`), appends to the store's change log in its own
//! transaction. The hub reads the log from the position the store keeps for
//! it and queues the deliveries of what it read in the transaction that
//! moves the position on, so a process that dies between a write's commit
//! and its deliveries loses nothing: whoever reads the log next queues them,
//! and replicas reading it together queue each change once.

use std::collections::BTreeSet;

use super::{Hub, now_ms};
use crate::serve::touched_feeds;
use crate::store::{ArticleStore, ChangeLog, LoggedChanges, StoreError, Topics};

/// Reads of the log one catch-up makes at most: a log written faster than
/// that is caught up by the next write, follower step or sweep.
const MAX_ROUNDS: usize = 16;

impl Hub {
    /// Queues the deliveries for every change logged since the hub's
    /// position. Call it after this process's render cache has retired the
    /// feeds those changes touched, so the bodies sent are the new ones.
    pub async fn catch_up<S: ArticleStore>(&self, store: &S) {
        if !self.enabled() {
            return;
        }
        // One catch-up at a time in this process; other replicas are kept
        // apart by the position's compare-and-set.
        let _one = self.inner.catching_up.lock().await;
        for _ in 0..MAX_ROUNDS {
            match self.catch_up_once(store).await {
                Ok(true) => continue,
                Ok(false) => return,
                Err(error) => {
                    tracing::error!(%error, "WebSub: cannot queue deliveries from the change log");
                    return;
                }
            }
        }
    }

    /// Queues one read's worth of changes; true if there may be more.
    async fn catch_up_once<S: ArticleStore>(&self, store: &S) -> Result<bool, StoreError> {
        let from = store.hub_log_position().await?;
        let log = store.changes_since(from).await?;
        let Some((to, topics)) = self.stretch(from, &log) else {
            return Ok(false);
        };
        let now = now_ms();
        let changes = LoggedChanges {
            from,
            to,
            topics,
            committed_ms: now,
        };
        match store.enqueue_deliveries(changes, now).await? {
            // Another replica moved the position first: read again from there.
            None => Ok(true),
            Some(rows) => {
                if rows > 0 {
                    self.inner.wake.notify_one();
                }
                Ok(to < log.latest)
            }
        }
    }

    /// The log position after `log` and the topics its records changed, or
    /// `None` when there is nothing new.
    fn stretch(&self, from: u64, log: &ChangeLog) -> Option<(u64, Topics)> {
        if log.latest < from || (log.oldest > from + 1 && !log.records.is_empty()) {
            // The log was reset or pruned past the position: anything may
            // have changed, so every subscriber gets the current body.
            return Some((log.latest, Topics::All));
        }
        let to = log.records.last()?.seq;
        if log.records.iter().any(|r| r.touched.every_tag) {
            // A record from before the log kept tags: which tag feeds changed
            // is not known, so every subscriber gets the current body.
            return Some((to, Topics::All));
        }
        let config = &self.inner.config;
        let topics: BTreeSet<String> = log
            .records
            .iter()
            .flat_map(|record| touched_feeds(config, &record.touched))
            .filter_map(|resource| resource.url(config))
            .collect();
        Some((to, Topics::These(topics.into_iter().collect())))
    }
}
