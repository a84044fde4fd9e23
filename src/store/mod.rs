//! The article store: where articles live, and the one query feeds are built from.
//!
//! The builder reads only through [`ArticleStore`], so the embedded SQLite store
//! ([`SqliteStore`]) and the shared PostgreSQL one ([`PgStore`]) stand side by
//! side without the rest of Kabar changing. Every method is async and never
//! blocks the runtime: SQLite calls run on the blocking pool, PostgreSQL's are
//! network I/O.

mod columns;
mod fedi;
mod hub;
mod own_writes;
mod postgres;
mod sqlite;

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, FixedOffset};
use url::Url;

pub use fedi::{FediDelivery, FediOutcome, FediStore, Follower, NewFediDelivery, PostState};
pub use hub::{
    Delivery, DeliveryEnd, Finished, HubStore, LoggedChanges, NewSubscription, Room, Subscribed,
    SubscriptionCounts, SubscriptionLimits, Topics,
};
pub use own_writes::OwnWrites;
pub use postgres::{CHANGE_CHANNEL, LISTEN_APPLICATION_NAME, PgStore};
pub use sqlite::SqliteStore;

use crate::article::{Article, Author, Image, Translation, Version};
use crate::urls::TagSlug;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled PostgreSQL connection could be had in time (the database is
    /// away, or every connection is busy).
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("the article does not match If-Match")]
    PreconditionFailed,
    #[error("cannot create the store's folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

/// Which items one feed shows: the newest `limit` versions in `lang`, optionally
/// of one section and with one tag, newest first, ties broken by article id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    pub lang: String,
    pub section: Option<String>,
    /// Only articles with a tag of this slug ([`TagSlug`]), read from the
    /// tag index.
    pub tag: Option<String>,
    pub limit: usize,
    /// Only items published in this range (Unix milliseconds, end excluded):
    /// everything for a subscription feed, one month for an archive.
    pub published_ms: std::ops::Range<i64>,
}

impl FeedQuery {
    /// Every publication time: the bounds of a subscription feed.
    pub const ALL_TIME: std::ops::Range<i64> = i64::MIN..i64::MAX;
}

/// Which side of an instant (Unix milliseconds) [`ArticleStore::published_near`]
/// looks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    /// The newest version published before it.
    Before(i64),
    /// The oldest version published at it or after.
    From(i64),
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

/// A condition a write puts on the stored article (`If-Match`, RFC 9110 §13.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the article must exist.
    Any,
    /// One of these entity tags (see [`Article::etag`]) must be the current one.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Whether `current` (the stored article, if any) satisfies the condition.
    pub fn holds(&self, current: Option<&Article>) -> bool {
        match (self, current) {
            (_, None) => false,
            (IfMatch::Any, Some(_)) => true,
            (IfMatch::Tags(tags), Some(article)) => {
                let etag = article.etag();
                tags.contains(&etag)
            }
        }
    }
}

/// What one write did to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub before: Option<Article>,
    pub after: Option<Article>,
    /// The feeds whose bytes the write changed; empty when nothing changed.
    pub touched: Touched,
    /// The write's place in the change log; 0 when nothing changed.
    pub seq: u64,
}

/// The languages, sections and tags whose feeds a write changed. A feed of
/// language L (all sections, or section S, or tag T) changed when L is here
/// (and S or T is, or it is the language-wide feed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub langs: BTreeSet<String>,
    pub sections: BTreeSet<String>,
    /// The slugs of the tags the article had before the write and after it.
    pub tags: BTreeSet<String>,
    /// Set when the tags are not known (a change-log record written before
    /// the log kept them): every tag feed of the languages changed.
    pub every_tag: bool,
}

impl Touched {
    /// The feeds that differ between `before` and `after` of one article.
    ///
    /// Replacing one version's text touches that language alone. Anything every
    /// item shows (times, section, tags, authors, image) or that sibling items
    /// link to (which versions exist, their URLs) touches every language.
    pub fn between(before: Option<&Article>, after: Option<&Article>) -> Touched {
        let langs_of = |a: Option<&Article>| -> BTreeSet<String> {
            a.map(|a| a.versions.keys().cloned().collect())
                .unwrap_or_default()
        };
        let all: BTreeSet<String> = langs_of(before).union(&langs_of(after)).cloned().collect();
        let langs = match (before, after) {
            (Some(b), Some(a)) if !shared_parts_differ(b, a) => all
                .into_iter()
                .filter(|l| b.versions.get(l) != a.versions.get(l))
                .collect(),
            (None, None) => BTreeSet::new(),
            _ => all,
        };
        let (sections, tags) = if langs.is_empty() {
            (BTreeSet::new(), BTreeSet::new())
        } else {
            let articles = || [before, after].into_iter().flatten();
            (
                articles().filter_map(|a| a.section.clone()).collect(),
                articles().flat_map(tag_slugs).collect(),
            )
        };
        Touched {
            langs,
            sections,
            tags,
            every_tag: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.langs.is_empty()
    }

    /// Adds `other`'s feeds to these.
    pub fn extend(&mut self, other: Touched) {
        self.langs.extend(other.langs);
        self.sections.extend(other.sections);
        self.tags.extend(other.tags);
        self.every_tag |= other.every_tag;
    }
}

/// The slugs of an article's tags, each once: what the tag index holds for
/// each of its language versions (tags without a slug have no feed).
pub fn tag_slugs(article: &Article) -> BTreeSet<String> {
    slugs_of(&article.tags)
}

/// The slugs of `tags`, each once.
fn slugs_of(tags: &[String]) -> BTreeSet<String> {
    tags.iter()
        .filter_map(|t| TagSlug::of(t))
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// True when a change shows in every language version's item.
fn shared_parts_differ(b: &Article, a: &Article) -> bool {
    let sibling_links_differ = b.versions.len() != a.versions.len()
        || b.versions.iter().any(|(lang, bv)| {
            a.versions
                .get(lang)
                .is_none_or(|av| av.url != bv.url || av.translation != bv.translation)
        });
    b.section != a.section
        || b.published != a.published
        || b.updated != a.updated
        || b.tags != a.tags
        || b.authors != a.authors
        || b.image != a.image
        || sibling_links_differ
}

/// One committed write, as other processes learn of it from the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub seq: u64,
    /// The article the write was to.
    pub article_id: String,
    pub touched: Touched,
}

/// A slice of the change log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeLog {
    /// Records after the asked-for sequence number, oldest first.
    pub records: Vec<ChangeRecord>,
    /// The oldest sequence number still kept (0 when the log is empty): a
    /// follower behind it missed pruned records and must assume anything changed.
    pub oldest: u64,
    /// The newest sequence number (0 when the log is empty).
    pub latest: u64,
}

/// What Kabar needs from a database of articles. It keeps the built-in
/// WebSub hub's subscribers ([`HubStore`]) and the fediverse accounts' keys
/// and followers ([`FediStore`]) too, so they share its durability and its
/// replicas.
pub trait ArticleStore: HubStore + FediStore + Send + Sync + 'static {
    /// The rows of one feed, in feed order.
    fn feed_rows(
        &self,
        query: FeedQuery,
    ) -> impl Future<Output = Result<Vec<FeedRow>, StoreError>> + Send;

    /// When the version of `lang` nearest to `seek`'s instant, on its side, was
    /// published (Unix milliseconds); `None` when there is none. An archive
    /// finds the months either side of it that have items this way: one step
    /// into the language's index each way, however many empty months lie
    /// between, and without reading the rows themselves.
    fn published_near(
        &self,
        lang: String,
        seek: Seek,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Creates or replaces whole articles, all in one durable transaction
    /// (bulk import); returns the feeds they touched.
    fn put_articles(
        &self,
        articles: Vec<Article>,
    ) -> impl Future<Output = Result<Touched, StoreError>> + Send;

    /// Creates or replaces one article in one durable transaction, if `if_match`
    /// (checked inside the transaction) holds.
    fn put_article(
        &self,
        article: Article,
        if_match: Option<IfMatch>,
    ) -> impl Future<Output = Result<Change, StoreError>> + Send;

    /// Removes an article and all its versions; `before` is `None` when there was
    /// no such article.
    fn delete_article(
        &self,
        id: String,
        if_match: Option<IfMatch>,
    ) -> impl Future<Output = Result<Change, StoreError>> + Send;

    /// Up to `limit` whole articles with ids after `after`, in id order (export).
    fn articles_after(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Article>, StoreError>> + Send;

    /// Committed writes with a sequence number above `seq` (at most a few
    /// thousand at a time), for followers in other processes.
    fn changes_since(&self, seq: u64)
    -> impl Future<Output = Result<ChangeLog, StoreError>> + Send;

    /// One whole article, as it was put.
    fn article(
        &self,
        id: String,
    ) -> impl Future<Output = Result<Option<Article>, StoreError>> + Send;

    /// How many articles are stored.
    fn article_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Succeeds when the store answers queries.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Resolves when another process may have written: a hint to read the
    /// change log now rather than at the next poll. The log stays the source
    /// of truth, so a store that cannot push (SQLite) never resolves, and a
    /// missed hint only costs one poll interval.
    fn wait_for_change(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Counts the times the store lost its push channel and got it back. Hints
    /// were missed in between, and a lost connection may mean the database
    /// itself changed under us (a failover to a standby that lacks the last
    /// commits hands out the same sequence numbers again), which the log alone
    /// cannot show; so when this moves the follower retires every feed once:
    /// correctness over hit rate.
    fn push_epoch(&self) -> u64 {
        0
    }
}
