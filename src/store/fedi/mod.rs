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
}
