//! Pushing articles to followers: the store's change log turned into
//! `Create`, `Update` and `Delete` activities, queued durably, and sent
//! signed to each follower server's (shared) inbox.
//!
//! Like the WebSub hub's, the queue is filled from the change log, from a
//! position kept in the store and moved by compare-and-set in the same
//! transaction that queues the activities: so a write by any process or
//! replica goes out exactly once, and a restart between a write and its
//! delivery still delivers. Claimed rows carry an expiry, so a process that
//! dies mid-send leaves them to another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Fedi, documents};
use crate::config::Language;
use crate::feed;
use crate::metrics;
use crate::store::{
    ArticleStore, FediDelivery, FediOutcome, NewFediDelivery, PostState, StoreError,
};
use crate::urls;

/// How often the worker looks at the log and the queue when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);

/// Deliveries claimed at once.
const CLAIM: usize = 64;

/// Deliveries by outcome, and the queue's length as last seen.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    sent: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
}

impl DeliveryStats {
    pub fn sent(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    pub fn retried(&self) -> u64 {
        self.retried.load(Relaxed)
    }

    /// Prometheus text for `/metrics`.
    pub fn exposition(&self) -> String {
        let mut out = String::new();
        metrics::counter(
            &mut out,
            "kabar_activitypub_deliveries_sent_total",
            "Activities an inbox took (2xx).",
            self.sent.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_activitypub_deliveries_retried_total",
            "Delivery attempts that failed and were scheduled again.",
            self.retried.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_activitypub_deliveries_dropped_total",
            "Deliveries given up on (refused for good, or failing past retry_for_secs).",
            self.dropped.load(Relaxed),
        );
        metrics::gauge(
            &mut out,
            "kabar_activitypub_deliveries_pending",
            "Deliveries queued in the store, as last counted.",
            self.pending.load(Relaxed),
        );
        out
    }
}

/// The worker: catches up with the log and sends what is due, when woken or
/// every [`POLL`], until the `Fedi` or the store is gone.
pub async fn run<S: ArticleStore>(fedi: Weak<Fedi>, store: Weak<S>) {
    let Some(wake) = fedi.upgrade().map(|f| Arc::clone(&f.wake)) else {
        return;
    };
    loop {
        let notified = wake.notified();
        {
            let (Some(fedi), Some(store)) = (fedi.upgrade(), store.upgrade()) else {
                return;
            };
            if let Err(error) = catch_up(&fedi, &*store).await {
                tracing::warn!(%error, "fediverse: cannot turn the change log into activities");
            }
            if let Err(error) = send_due(&fedi, &store).await {
                tracing::warn!(%error, "fediverse: cannot send the queued activities");
            }
        }
        let _ = tokio::time::timeout(POLL, notified).await;
    }
}

/// Turns the change log since the store's position into queued activities.
async fn catch_up<S: ArticleStore>(fedi: &Fedi, store: &S) -> Result<(), StoreError> {
    let config = &fedi.config;
    let from = store.fedi_log_position().await?;
    let log = store.changes_since(from).await?;
    let Some(to) = log.records.last().map(|r| r.seq) else {
        return Ok(());
    };
    // What changed, by article: its state now is what goes out.
    let mut changed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in log.records {
        changed
            .entry(record.article_id)
            .or_default()
            .extend(record.touched.langs);
    }
    let mut feeds: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut inboxes: HashMap<String, Vec<String>> = HashMap::new();
    let (mut posts, mut deliveries) = (Vec::new(), Vec::new());
    for (id, langs) in changed {
        let article = store.article(id.clone()).await?;
        for lang in langs.iter().filter_map(|code| config.language(code)) {
            let code = lang.code().to_owned();
            let exists = article
                .as_ref()
                .is_some_and(|a| a.versions.contains_key(&code));
            let posted = store.fedi_posted(code.clone(), id.clone()).await?;
            let kind = match (exists, posted) {
                (true, true) => Kind::Update,
                (false, true) => Kind::Delete,
                (true, false) => {
                    // Only an item the feed shows is news: a backdated import
                    // of old articles does not flood followers.
                    if !feeds.contains_key(&code) {
                        let rows = store.feed_rows(feed::query(config, lang, None)).await?;
                        let ids = rows.into_iter().map(|r| r.article.id).collect();
                        feeds.insert(code.clone(), ids);
                    }
                    if !feeds[&code].contains(&id) {
                        continue;
                    }
                    Kind::Create
                }
                (false, false) => continue,
            };
            let Some(activity) = activity(fedi, lang, article.as_ref(), &id, kind, to) else {
                continue;
            };
            posts.push(PostState {
                lang: code.clone(),
                article_id: id.clone(),
                posted: kind != Kind::Delete,
            });
            if !inboxes.contains_key(&code) {
                inboxes.insert(code.clone(), store.follower_inboxes(code.clone()).await?);
            }
            let actor = urls::actor_url(config, lang.account_name());
            let body = activity.to_string();
            deliveries.extend(inboxes[&code].iter().map(|inbox| NewFediDelivery {
                inbox: inbox.clone(),
                actor: actor.clone(),
                activity: body.clone(),
            }));
        }
    }
    let queued = deliveries.len();
    let now_ms = chrono::Utc::now().timestamp_millis();
    if store
        .queue_fedi(from, to, posts, deliveries, now_ms)
        .await?
        && queued > 0
    {
        tracing::debug!(queued, "fediverse: activities queued");
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Update,
    Delete,
}

/// The activity for `article`'s version in `lang` (`None` when it cannot
/// be built); `seq` makes an update's or a deletion's id unique.
fn activity(
    fedi: &Fedi,
    lang: &Language,
    article: Option<&crate::article::Article>,
    id: &str,
    kind: Kind,
    seq: u64,
) -> Option<Value> {
    let config = &fedi.config;
    let actor = urls::actor_url(config, lang.account_name());
    let note_id = urls::note_url(config, lang.account_name(), id);
    if kind == Kind::Delete {
        let tombstone = json!({"id": note_id, "type": "Tombstone"});
        return Some(documents::activity(
            "Delete",
            format!("{note_id}#delete/{seq}"),
            &actor,
            tombstone,
        ));
    }
    let item = super::item_of(config, lang, article?.clone())?;
    let note = documents::strip_context(documents::note(config, lang, &item));
    Some(match kind {
        Kind::Create => documents::create(&actor, &note_id, note),
        _ => documents::activity("Update", format!("{note_id}#update/{seq}"), &actor, note),
    })
}

/// Sends the due deliveries this process can claim, and records how each went.
async fn send_due<S: ArticleStore>(fedi: &Arc<Fedi>, store: &Arc<S>) -> Result<(), StoreError> {
    let c = &fedi.config.activitypub;
    // A claim is a write, and SQLite has one writer: an idle queue (the
    // usual state) is seen with a read instead.
    let pending = store.fedi_pending().await?;
    fedi.stats.pending.store(pending, Relaxed);
    if pending == 0 {
        return Ok(());
    }
    loop {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let claim_ms = i64::try_from(c.request_timeout_secs.get() * 2000).unwrap_or(i64::MAX);
        let batch = store
            .claim_fedi(now_ms, CLAIM, now_ms.saturating_add(claim_ms))
            .await?;
        if batch.is_empty() {
            fedi.stats
                .pending
                .store(store.fedi_pending().await?, Relaxed);
            return Ok(());
        }
        let mut sends = JoinSet::new();
        for delivery in batch {
            let (fedi, store) = (Arc::clone(fedi), Arc::clone(store));
            sends.spawn(async move {
                let status = fedi
                    .post_bytes(
                        &*store,
                        &delivery.actor,
                        &delivery.inbox,
                        delivery.activity.clone().into_bytes(),
                    )
                    .await;
                let outcome = outcome(&fedi, &delivery, status);
                (delivery.id, outcome)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = sends.join_next().await {
            if let Ok(outcome) = done {
                outcomes.push(outcome);
            }
        }
        for (_, outcome) in &outcomes {
            let counter = match outcome {
                FediOutcome::Sent => &fedi.stats.sent,
                FediOutcome::Retry { .. } => &fedi.stats.retried,
                FediOutcome::Dropped => &fedi.stats.dropped,
            };
            counter.fetch_add(1, Relaxed);
        }
        store.finish_fedi(outcomes).await?;
    }
}

/// What a send's result means for its row: done, again later with
/// exponential backoff, or given up (refused for good, or failing past
/// `retry_for_secs` since it was queued).
fn outcome(
    fedi: &Fedi,
    delivery: &FediDelivery,
    result: Result<StatusCode, super::FetchError>,
) -> FediOutcome {
    let c = &fedi.config.activitypub;
    match &result {
        Ok(status) if status.is_success() => return FediOutcome::Sent,
        // The inbox is gone, or will never take it.
        Ok(status)
            if status.is_client_error()
                && *status != StatusCode::REQUEST_TIMEOUT
                && *status != StatusCode::TOO_MANY_REQUESTS =>
        {
            tracing::info!(inbox = %delivery.inbox, %status, "fediverse: activity refused; dropped");
            return FediOutcome::Dropped;
        }
        Ok(status) => tracing::debug!(inbox = %delivery.inbox, %status, "fediverse: will retry"),
        Err(error) => tracing::debug!(inbox = %delivery.inbox, %error, "fediverse: will retry"),
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let retry_for_ms =
        i64::try_from(c.retry_for_secs.get().saturating_mul(1000)).unwrap_or(i64::MAX);
    if now_ms.saturating_sub(delivery.first_ms) >= retry_for_ms {
        tracing::info!(inbox = %delivery.inbox, "fediverse: failing past retry_for_secs; dropped");
        return FediOutcome::Dropped;
    }
    let base = c.retry_base_secs.get().saturating_mul(1000);
    let wait = base
        .saturating_mul(1 << delivery.attempts.min(20))
        .min(c.retry_max_secs.get().saturating_mul(1000));
    FediOutcome::Retry {
        due_ms: now_ms.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
    }
}
