//! The fediverse's part of the store: the signing keys every replica shares,
//! and who follows each language's account. [`super::ArticleStore`] requires
//! it, so the accounts live with the articles, in one place for every replica.

mod postgres;
mod sqlite;

use std::future::Future;

pub(super) use postgres::SCHEMA_FEDI as PG_SCHEMA_FEDI;
pub(super) use sqlite::SCHEMA_FEDI as SQLITE_SCHEMA_FEDI;

use super::StoreError;

/// Someone on another server who follows a language's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    /// The followed account's language code.
    pub lang: String,
    /// The follower's actor id (a URL).
    pub actor: String,
    /// Its personal inbox.
    pub inbox: String,
    /// Its server's shared inbox, when it has one: deliveries go there, once
    /// per server.
    pub shared_inbox: Option<String>,
}

/// Whether an article's version in a language has been posted (so a later
/// write is an `Update`, or a `Delete`), as a stretch of the log leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostState {
    pub lang: String,
    pub article_id: String,
    pub posted: bool,
}

/// An activity to post to one inbox, signed by `actor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFediDelivery {
    pub inbox: String,
    pub actor: String,
    /// The activity's JSON.
    pub activity: String,
}

/// A queued delivery, claimed by this process for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FediDelivery {
    pub id: i64,
    pub inbox: String,
    pub actor: String,
    pub activity: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was queued.
    pub first_ms: i64,
}

/// What became of a claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FediOutcome {
    /// The inbox took it: the row goes.
    Sent,
    /// Try again at this time.
    Retry { due_ms: i64 },
    /// Given up on: the row goes.
    Dropped,
}

pub trait FediStore: Send + Sync + 'static {
    /// The private key stored under `name` (PKCS#8 PEM), if any.
    fn fedi_key(
        &self,
        name: String,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Stores `pem` under `name` unless a key is there already, and returns
    /// the key stored: replicas starting at once all end up with one key.
    fn keep_fedi_key(
        &self,
        name: String,
        pem: String,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Records `follower` (or its new inboxes); true when it is new.
    fn follow(
        &self,
        follower: Follower,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends `actor`'s following of `lang`'s account; false if it did not follow.
    fn unfollow(
        &self,
        lang: String,
        actor: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets `actor` wherever it followed (its account was deleted); how
    /// many followings ended.
    fn forget_follower(
        &self,
        actor: String,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many follow `lang`'s account.
    fn follower_count(&self, lang: String) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The inboxes that reach every follower of `lang`'s account: a shared
    /// inbox once for all its server's followers, else each personal inbox.
    fn follower_inboxes(
        &self,
        lang: String,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// How far the change log has been turned into activities.
    fn fedi_log_position(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether `article_id`'s version in `lang` has been posted.
    fn fedi_posted(
        &self,
        lang: String,
        article_id: String,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// In one transaction, if the position still is `from`: moves it to
    /// `to`, records `posts` and queues `deliveries` (due at once). False
    /// when another process moved it first (and queued them itself).
    fn queue_fedi(
        &self,
        from: u64,
        to: u64,
        posts: Vec<PostState>,
        deliveries: Vec<NewFediDelivery>,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims up to `limit` due deliveries until `claim_until_ms`, so no
    /// other process sends them meanwhile.
    fn claim_fedi(
        &self,
        now_ms: i64,
        limit: usize,
        claim_until_ms: i64,
    ) -> impl Future<Output = Result<Vec<FediDelivery>, StoreError>> + Send;

    /// Records what became of claimed deliveries.
    fn finish_fedi(
        &self,
        outcomes: Vec<(i64, FediOutcome)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many deliveries are queued.
    fn fedi_pending(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
