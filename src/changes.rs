//! Following the store's change log, so that writes made by another process (a
//! bulk import into the same SQLite file, another replica on a shared
//! database) retire the feeds they touched here too: within a poll interval,
//! or at once when the store pushes a hint (PostgreSQL's LISTEN/NOTIFY) or a
//! hub delivery waits for a change. Once other writers' changes are retired
//! here, the built-in hub queues their deliveries.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::store::{ArticleStore, Touched};

/// How often the change log is read: the bound on how stale another
/// process's write can look here.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Reads the change log forever, retiring the feeds other processes' writes
/// touched. Run it as a background task for as long as the server serves.
pub async fn follow<S: ArticleStore>(app: Arc<App<S>>) {
    let mut epoch = app.store.push_epoch();
    let mut last = match app.store.changes_since(u64::MAX).await {
        Ok(log) => log.latest,
        Err(_) => 0,
    };
    app.log_seen.followed(last);
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = app.store.wait_for_change() => {
                // Read now; the next poll is a full interval away again.
                interval.reset();
            }
            () = app.log_seen.wanted() => interval.reset(),
        }
        let now = app.store.push_epoch();
        if now != epoch {
            // The push channel was lost and is back: hints were missed and
            // the database may not be the one we followed (see
            // `ArticleStore::push_epoch`), so start again from a clean cache
            // and the log's current end. The end is read first: a write
            // committed after it is still read from the log, one before it
            // is covered by retiring everything.
            epoch = now;
            if let Ok(log) = app.store.changes_since(u64::MAX).await {
                last = log.latest;
            }
            app.own_writes.forget_all();
            tracing::info!("store reconnected; retiring every feed once");
            app.cache.invalidate_all();
        }
        let log = match app.store.changes_since(last).await {
            Ok(log) => log,
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "cannot read the change log; feeds may lag behind other writers");
                }
                failing = true;
                continue;
            }
        };
        failing = false;
        if log.latest < last || (log.oldest > last + 1 && !log.records.is_empty()) {
            // The log was reset or pruned past us: anything may have changed.
            tracing::info!(
                last,
                oldest = log.oldest,
                latest = log.latest,
                "change log skipped ahead; retiring every feed"
            );
            app.cache.invalidate_all();
            app.own_writes.forget_up_to(log.latest);
            last = log.latest;
            app.log_seen.followed(last);
            app.hub.catch_up(&*app.store).await;
            continue;
        }
        let mut touched = Touched::default();
        for record in log.records {
            last = last.max(record.seq);
            if !app.own_writes.take(record.seq) {
                touched.extend(record.touched);
            }
        }
        // An own write marked after we passed it was retired twice; drop its mark.
        app.own_writes.forget_up_to(last);
        if !touched.is_empty() {
            let resources = app.cache.retire(&touched).await;
            tracing::debug!(
                feeds = resources.len(),
                "retired feeds changed by another writer"
            );
        }
        app.log_seen.followed(last);
        if !touched.is_empty() {
            app.hub.catch_up(&*app.store).await;
            app.fedi.wake();
        }
    }
}
