//! The article store: where articles live, and the one query feeds are built from.
//!
//! The builder reads only through [`ArticleStore`], so another database can stand
//! beside SQLite without the rest of Kabar changing. Every method is async and
//! never blocks the runtime: SQLite calls run on the blocking pool.

mod sqlite;

use std::future::Future;

use chrono::{DateTime, FixedOffset};
use url::Url;

pub use sqlite::SqliteStore;

use crate::article::{Article, Author, Image, Translation, Version};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("cannot create the store's folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

/// Which items one feed shows: the newest `limit` versions in `lang`, optionally
/// of one section, newest first, ties broken by article id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    pub lang: String,
    pub section: Option<String>,
    pub limit: usize,
}

/// One version with what the feed item needs from its article.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    pub article: ArticleMeta,
    pub version: Version,
    /// Every other language version of the article (for `via` and `related` links).
    pub siblings: Vec<Sibling>,
}

/// The language-independent part of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleMeta {
    pub id: String,
    pub section: Option<String>,
    pub published: DateTime<FixedOffset>,
    pub updated: DateTime<FixedOffset>,
    pub tags: Vec<String>,
    pub authors: Vec<Author>,
    pub image: Option<Image>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sibling {
    pub lang: String,
    pub url: Option<Url>,
    pub translation: Translation,
}

/// What Kabar needs from a database of articles.
pub trait ArticleStore: Send + Sync + 'static {
    /// The rows of one feed, in feed order.
    fn feed_rows(
        &self,
        query: FeedQuery,
    ) -> impl Future<Output = Result<Vec<FeedRow>, StoreError>> + Send;

    /// Creates or replaces whole articles, all in one durable transaction.
    fn put_articles(
        &self,
        articles: Vec<Article>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One whole article, as it was put.
    fn article(
        &self,
        id: String,
    ) -> impl Future<Output = Result<Option<Article>, StoreError>> + Send;

    /// How many articles are stored.
    fn article_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Succeeds when the store answers queries.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
