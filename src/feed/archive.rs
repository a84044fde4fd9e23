//! Monthly archives (RFC 5005, "Feed Paging and Archiving", §4): an aggregator
//! that subscribes late walks `prev-archive` links back from the subscription
//! feed through one closed month at a time, and `next-archive` links forward.
//!
//! A month is closed once the language has an item in a later month: the
//! subscription feed holds the current one. Only a closed month with items in
//! the language has an archive; any other month is not found. So no archive
//! document is empty, the links between archives pass over empty months, and
//! a crawler asking for every month since 1970 makes nothing for the months
//! that hold nothing. Archives are read with the same store query as feeds,
//! bounded by publication time; their neighbours with one index step each way.

use super::{Feed, History, build::tag_prefix};
use crate::config::{Config, Direction, Language};
use crate::store::{ArticleStore, FeedQuery, FeedRow, Seek, StoreError};
use crate::urls::{self, Month};

/// Items in one archive document at most; a month of one language's news fits.
pub const MAX_ITEMS: usize = 5000;

/// What one month's archive document is made of.
#[derive(Debug)]
pub struct MonthRows {
    /// The closest earlier month with items, for `prev-archive`.
    pub prev: Option<Month>,
    /// The closest later closed month with items, for `next-archive`; `None`
    /// for the newest archive, whose next items are the subscription feed's.
    pub next: Option<Month>,
    /// The month's items, newest first; never empty.
    pub rows: Vec<FeedRow>,
}

/// A month's archive, or why it has none.
#[derive(Debug)]
pub enum MonthArchive {
    Rows(MonthRows),
    /// The month is the current one, or later: the subscription feed holds it.
    NotClosed,
    /// No item of the language was published in the month.
    Empty,
}

/// The rows and neighbours of `lang`'s archive for `month`. A month without
/// items, the answer to most of a crawler's requests, costs one index step.
pub async fn month_rows<S: ArticleStore>(
    store: &S,
    config: &Config,
    lang: &str,
    month: Month,
) -> Result<MonthArchive, StoreError> {
    let zone = config.site.time_zone;
    let range = month.range_ms(zone);
    let first = store
        .published_near(lang.to_owned(), Seek::From(range.start))
        .await?;
    if first.is_none_or(|first| first >= range.end) {
        return Ok(MonthArchive::Empty);
    }
    let Some(next) = month_near(store, config, lang, Seek::From(range.end)).await? else {
        // Nothing after it: the month is the current one.
        return Ok(MonthArchive::NotClosed);
    };
    let (rows, prev, current) = tokio::try_join!(
        store.feed_rows(query(lang, MAX_ITEMS, range.clone())),
        month_near(store, config, lang, Seek::Before(range.start)),
        month_near(store, config, lang, Seek::Before(i64::MAX)),
    )?;
    if rows.is_empty() {
        // Its items were deleted between the queries.
        return Ok(MonthArchive::Empty);
    }
    Ok(MonthArchive::Rows(MonthRows {
        prev,
        // The month after it may be the current one, which is no archive.
        next: Some(next).filter(|next| current.is_some_and(|current| *next < current)),
        rows,
    }))
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
    let before = Seek::Before(current.range_ms(zone).start);
    month_near(store, config, lang, before).await
}

/// The month of the item of `lang` nearest to `seek`.
async fn month_near<S: ArticleStore>(
    store: &S,
    config: &Config,
    lang: &str,
    seek: Seek,
) -> Result<Option<Month>, StoreError> {
    let published = store.published_near(lang.to_owned(), seek).await?;
    Ok(published.map(|ms| Month::of(ms, config.site.time_zone)))
}

/// Items of `lang` in every section published in `published_ms`, newest first.
fn query(lang: &str, limit: usize, published_ms: std::ops::Range<i64>) -> FeedQuery {
    FeedQuery {
        tag: None,
        lang: lang.to_owned(),
        section: None,
        limit,
        published_ms,
    }
}

/// What goes before an archive title's `YYYY-MM`. After right-to-left
/// letters its two numbers are laid out as separate runs and read backwards
/// (`09-2026`); a left-to-right mark keeps them one run.
pub fn month_mark(direction: Direction) -> &'static str {
    match direction {
        Direction::Rtl => "\u{200E}",
        Direction::Ltr => "",
    }
}

/// The archive of `lang` for `month`: the month's items, marked as an archive
/// and linked to the subscription feed and the archives either side of it.
/// Its `updated` is its newest entry's, as for any feed.
pub fn build(config: &Config, lang: &Language, month: Month, found: &MonthRows) -> Feed {
    let mut feed = super::build(config, lang, None, &found.rows);
    let code = lang.code();
    feed.id = format!("{}feed/{code}/archive/{month}", tag_prefix(config));
    feed.title = format!("{} — {}{month}", feed.title, month_mark(lang.direction));
    feed.preview_url = Some(urls::archive_preview_url(config, code, month));
    let subscription =
        std::mem::replace(&mut feed.urls.atom, urls::archive_url(config, code, month));
    let url = |month: Month| urls::archive_url(config, code, month);
    feed.history = History {
        prev_archive: found.prev.map(url),
        next_archive: found.next.map(url),
        current: Some(subscription),
    };
    feed
}
