//! What the built-in WebSub hub keeps in the store: verified subscriptions
//! and the deliveries waiting for them, so both survive restarts and several
//! replicas share them.
//!
//! A subscription has at most one pending delivery row. The hub queues rows
//! from the store's change log, which every write appends to in its own
//! transaction: `hub_log` holds how far the log has been turned into
//! deliveries, and moves in the same transaction as the rows it queues, so a
//! crash between a write's commit and its deliveries loses nothing, and
//! replicas reading the log together queue each change once. A change to a
//! topic inserts the row or, when one waits, bumps its `version`: many
//! changes collapse into one delivery, whose body is read when it is sent. A
//! sender claims rows for a while (`claimed_until_ms`), so a replica that
//! dies mid-delivery leaves the row to another once the claim runs out; a
//! success removes the row only if no change came since the claim, else the
//! newest body goes out next.
//!
//! Times are Unix milliseconds, passed in by the caller so tests can move them.

mod postgres;
mod sqlite;

use std::future::Future;

pub(super) use self::postgres::{SCHEMA_HUB as PG_SCHEMA_HUB, SCHEMA_HUB_LOG as PG_SCHEMA_HUB_LOG};
pub(super) use self::sqlite::{
    SCHEMA_HUB as SQLITE_SCHEMA_HUB, SCHEMA_HUB_LOG as SQLITE_SCHEMA_HUB_LOG,
};
use super::StoreError;

/// A subscription whose intent the callback confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// One of Kabar's subscription feed URLs.
    pub topic: String,
    pub callback: String,
    /// The callback's host, for the per-host limit.
    pub host: String,
    /// For `X-Hub-Signature`; fewer than 200 bytes.
    pub secret: Option<String>,
    pub expires_ms: i64,
}

/// The bounds on subscriptions, from `[hub]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionLimits {
    pub total: u64,
    pub per_host: u64,
}

/// What [`HubStore::subscribe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribed {
    Created,
    /// The topic and callback were subscribed already: new lease, new secret.
    Renewed,
    /// Not stored: a limit is reached (the reason, for `hub.reason`).
    OverLimit(&'static str),
}

/// A claimed delivery: which subscription, what to send where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub subscription: i64,
    /// The row's version when claimed: a success removes the row only if
    /// it is unchanged.
    pub version: i64,
    pub topic: String,
    pub callback: String,
    /// The callback's host, lowercased: what the per-host limit counts.
    pub host: String,
    pub secret: Option<String>,
    /// When the oldest change waiting in this row was committed.
    pub committed_ms: i64,
    /// The newest change-log record folded into this row: the sender's
    /// render cache must have followed the log this far before it reads
    /// the body, or it could send the bytes from before the change.
    pub log_seq: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the first of them failed.
    pub first_failure_ms: Option<i64>,
}

/// A stretch of the change log, for [`HubStore::enqueue_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChanges {
    /// The hub's log position when it read the stretch: the rows are queued
    /// only if the position still is this (no other replica got there first).
    pub from: u64,
    /// The stretch's last record: the hub's new position.
    pub to: u64,
    pub topics: Topics,
    /// When the changes were committed, as near as the reader knows.
    pub committed_ms: i64,
}

/// Which subscriptions a stretch of the change log concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topics {
    /// The subscriptions to these topics.
    These(Vec<String>),
    /// Every subscription: the log was pruned or reset past the hub's
    /// position, so anything may have changed.
    All,
}

/// How one claimed delivery ended, for [`HubStore::finish_deliveries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    pub subscription: i64,
    /// The version it was claimed at.
    pub version: i64,
    pub end: DeliveryEnd,
}

/// How a claimed delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEnd {
    /// The subscriber answered 2xx.
    Delivered,
    /// It failed; try again at `due_ms`.
    Retry { due_ms: i64 },
    /// Retried for long enough: drop it, and end the subscription if its
    /// deliveries have failed since before `end_if_failing_since_ms`.
    Dropped { end_if_failing_since_ms: i64 },
    /// The subscriber answered 410 Gone: end the subscription.
    Gone,
}

/// Room for one more subscription, as [`HubStore::subscription_room`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// The topic and callback are subscribed already: a renewal takes no room.
    pub renewal: bool,
    /// Leased subscriptions in all.
    pub total: u64,
    /// Leased subscriptions whose callback is on the host.
    pub on_host: u64,
}

/// Subscriptions by state, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionCounts {
    /// Leased, and its last delivery (if any) succeeded.
    pub active: u64,
    /// Leased, but deliveries have been dropped since its last success.
    pub failing: u64,
    /// Deliveries waiting (due, retrying or being sent).
    pub pending_deliveries: u64,
}

/// The hub's part of the store; [`super::ArticleStore`] requires it, so
/// every store that serves feeds can also keep their subscribers.
pub trait HubStore: Send + Sync + 'static {
    /// Stores a verified subscription, or renews the one for the same topic
    /// and callback; a new one only while `limits` allow (checked in the
    /// same transaction, so replicas cannot overshoot together).
    fn subscribe(
        &self,
        subscription: NewSubscription,
        limits: SubscriptionLimits,
        now_ms: i64,
    ) -> impl Future<Output = Result<Subscribed, StoreError>> + Send;

    /// Removes a subscription and its pending delivery; false if there was none.
    fn unsubscribe(
        &self,
        topic: String,
        callback: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// What a subscription request would take: to refuse one at once when no
    /// room is left.
    fn subscription_room(
        &self,
        topic: String,
        callback: String,
        host: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<Room, StoreError>> + Send;

    /// How far the change log has been turned into deliveries: the last
    /// record's sequence number.
    fn hub_log_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Queues a delivery for every leased subscription of the changes' topics
    /// (or folds the change into the one waiting) and moves the log position
    /// from `changes.from` to `changes.to`, in one transaction, if the
    /// position is still `from`. Returns how many rows, or `None` when the
    /// position had moved: someone else queued these changes.
    fn enqueue_deliveries(
        &self,
        changes: LoggedChanges,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Claims up to `limit` due deliveries of leased subscriptions until
    /// `claim_until_ms`, oldest due first; rows another sender holds are skipped.
    fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Records how claimed deliveries ended, all in one transaction (a
    /// fan-out finishes thousands a second); returns how many subscriptions
    /// that ended.
    fn finish_deliveries(
        &self,
        finished: Vec<Finished>,
        now_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Removes subscriptions whose lease ran out; returns how many.
    fn expire_subscriptions(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    fn subscription_counts(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = Result<SubscriptionCounts, StoreError>> + Send;
}
