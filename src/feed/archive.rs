//! Monthly archives (RFC 5005, "Feed Paging and Archiving"): an aggregator that
//! subscribes late walks `prev-archive` links back from the subscription feed
//! through one closed month at a time.
//!
//! A month is closed once the language has an item in a later month: the
//! subscription feed holds the current one. Archives are read with the same
//! store query as feeds, bounded by publication time.

use super::{Feed, History, build::tag_prefix};
use crate::config::{Config, Language};
use crate::store::{ArticleStore, FeedQuery, FeedRow, StoreError};
use crate::urls::{self, Month};

/// Items in one archive document at most; a month of one language's news fits.
pub const MAX_ITEMS: usize = 5000;

/// What one month's archive document is made of.
#[derive(Debug)]
pub struct MonthRows {
    /// The closed month before it that has items, for its `prev-archive` link.
    pub prev: Option<Month>,
    /// The month's items, newest first.
    pub rows: Vec<FeedRow>,
}

/// The rows of `lang`'s archive for `month`, or `None` when the month is not
/// closed (it is the current month, or later): the subscription feed holds it.
pub async fn month_rows<S: ArticleStore>(
    store: &S,
    config: &Config,
    lang: &str,
    month: Month,
) -> Result<Option<MonthRows>, StoreError> {
    let zone = config.site.time_zone;
    let newest = store.feed_rows(query(lang, 1, FeedQuery::ALL_TIME)).await?;
    let current = newest
        .first()
        .map(|row| Month::of(row.article.published.timestamp_millis(), zone));
    if current.is_none_or(|current| month >= current) {
        return Ok(None);
    }
    let range = month.range_ms(zone);
    let prev = month_before(store, config, lang, range.start).await?;
    let rows = store.feed_rows(query(lang, MAX_ITEMS, range)).await?;
    Ok(Some(MonthRows { prev, rows }))
}

/// The newest closed month of `lang`, for the subscription feed whose newest
/// item is `newest`: the month of the newest item before `newest`'s month.
pub async fn newest_closed<S: ArticleStore>(
    store: &S,
    config: &Config,
    lang: &str,
    newest: &FeedRow,
) -> Result<Option<Month>, StoreError> {
    let zone = config.site.time_zone;
    let current = Month::of(newest.article.published.timestamp_millis(), zone);
    month_before(store, config, lang, current.range_ms(zone).start).await
}

/// The month of the newest item of `lang` published before `before_ms`.
async fn month_before<S: ArticleStore>(
    store: &S,
    config: &Config,
    lang: &str,
    before_ms: i64,
) -> Result<Option<Month>, StoreError> {
    let rows = store.feed_rows(query(lang, 1, i64::MIN..before_ms)).await?;
    let zone = config.site.time_zone;
    Ok(rows
        .first()
        .map(|row| Month::of(row.article.published.timestamp_millis(), zone)))
}

/// Items of `lang` in every section published in `published_ms`, newest first.
fn query(lang: &str, limit: usize, published_ms: std::ops::Range<i64>) -> FeedQuery {
    FeedQuery {
        lang: lang.to_owned(),
        section: None,
        limit,
        published_ms,
    }
}

/// The archive of `lang` for `month`: the month's items, marked as an archive
/// and linked to the subscription feed and the archive before it.
pub fn build(
    config: &Config,
    lang: &Language,
    month: Month,
    prev_archive: Option<Month>,
    rows: &[FeedRow],
) -> Feed {
    let mut feed = super::build(config, lang, None, rows);
    let code = lang.code();
    feed.id = format!("{}feed/{code}/archive/{month}", tag_prefix(config));
    feed.title = format!("{} — {month}", feed.title);
    let subscription =
        std::mem::replace(&mut feed.urls.atom, urls::archive_url(config, code, month));
    feed.history = History {
        prev_archive: prev_archive.map(|m| urls::archive_url(config, code, m)),
        current: Some(subscription),
    };
    feed
}
