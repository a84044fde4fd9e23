//! The feed builder: turns store rows into the items of one feed.
//!
//! Everything a renderer needs is decided here, once, in one format-neutral
//! [`Feed`]: derived titles, clean summaries, sanitized content with the
//! translation notice, stable ids, links to the original and the siblings. Every
//! string that leaves this module is XML 1.0 legal, so the renderers only encode.
//! `build` makes a subscription feed's items (and a news sitemap's, from
//! [`news_query`]'s rows), `archive` a closed month's.

pub mod archive;
mod build;

use chrono::DateTime;
use chrono_tz::Tz;

use crate::article::{Author, Image, Translation};
use crate::config::{Config, Direction, Language, Section};
use crate::store::FeedQuery;
use crate::urls::{Format, TagSlug};

pub use build::{build, build_tag, notice, updated_of};

/// How far back a news sitemap reaches: news search engines take the
/// articles of the last two days from it.
pub const NEWS_WINDOW_MS: i64 = 48 * 3600 * 1000;

/// The most articles a news sitemap lists (Google News reads no more).
pub const NEWS_MAX_ITEMS: usize = 1000;

/// One feed, ready to render in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// tag: URI of the feed (Atom `id`).
    pub id: String,
    pub lang: String,
    pub direction: Direction,
    pub title: String,
    pub description: String,
    /// The site's page this feed follows.
    pub home_url: String,
    /// The feed's own URL in each format, for self and alternate links.
    pub urls: FeedUrls,
    /// The feed's page for people (`feed.html`).
    pub preview_url: Option<String>,
    pub section: Option<SectionRef>,
    /// Scheme (RSS `domain`) of the category that says how an item was translated.
    pub translation_scheme: String,
    /// Links between the subscription feed and its monthly archives (RFC 5005).
    pub history: History,
    /// The newest `updated` among the items: the feed's Last-Modified.
    pub updated: DateTime<Tz>,
    pub items: Vec<Item>,
}

/// A feed's place in its language's history (RFC 5005 §4), which a reader
/// walks to see every item the language ever had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The next older archive: from the subscription feed, the newest closed
    /// month; from an archive, the month before it that has items.
    pub prev_archive: Option<String>,
    /// Set on archive documents only: the next newer archive, the month after
    /// it that has items. The newest archive has none: what follows it is the
    /// subscription feed, which is no archive and is linked as `current`.
    pub next_archive: Option<String>,
    /// Set on archive documents only: the subscription feed they belong to.
    pub current: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrls {
    pub rss: String,
    pub atom: String,
    pub json: String,
}

impl FeedUrls {
    pub fn get(&self, format: Format) -> &str {
        match format {
            Format::Rss => &self.rss,
            Format::Atom => &self.atom,
            Format::Json => &self.json,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRef {
    pub slug: String,
    /// The section's name in the feed's language.
    pub name: String,
}

/// One article version as a feed item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// tag: URI per article and language; never changes when the text does.
    pub id: String,
    /// tag: URI of the article, shared by all its language versions.
    pub article_uri: String,
    /// The CMS id, shared by all language versions.
    pub article_id: String,
    /// The item's language: the feed's.
    pub lang: String,
    pub title: String,
    /// The item's own page, in the feed's language: its only `alternate` link.
    pub link: String,
    /// Plain text, whitespace folded, cut to the configured length.
    pub summary: String,
    /// Sanitized HTML with `lang`/`dir`, the notice and link to the original.
    pub content_html: String,
    pub published: DateTime<Tz>,
    pub updated: DateTime<Tz>,
    pub authors: Vec<Author>,
    pub section: Option<SectionRef>,
    pub tags: Vec<String>,
    /// The feeds of `tags`, one for each, in the feed's language (`None` for
    /// a tag with no slug).
    pub tag_feeds: Vec<Option<FeedUrls>>,
    pub image: Option<Image>,
    pub translation: Translation,
    /// The original this item was translated from; `None` for originals.
    pub original: Option<LinkTo>,
    /// The article's other translations (not this one, not the original).
    pub related: Vec<LinkTo>,
}

/// A link to another language version of the same article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTo {
    pub lang: String,
    pub url: String,
}

/// The store query for a language's news sitemap at `now_ms`: its newest
/// items published in the last [`NEWS_WINDOW_MS`], from the same index as
/// its feed.
pub fn news_query(lang: &Language, now_ms: i64) -> FeedQuery {
    FeedQuery {
        lang: lang.code().to_owned(),
        section: None,
        tag: None,
        limit: NEWS_MAX_ITEMS,
        published_ms: now_ms.saturating_sub(NEWS_WINDOW_MS)..i64::MAX,
    }
}

/// The store query for one feed.
pub fn query(config: &Config, lang: &Language, section: Option<&Section>) -> FeedQuery {
    FeedQuery {
        lang: lang.code().to_owned(),
        section: section.map(|s| s.slug().to_owned()),
        tag: None,
        limit: config.feeds.items.get(),
        published_ms: FeedQuery::ALL_TIME,
    }
}

/// The store query for a language's tag feed: as long as its feed, from
/// the tag index.
pub fn tag_query(config: &Config, lang: &Language, tag: &TagSlug) -> FeedQuery {
    FeedQuery {
        tag: Some(tag.as_str().to_owned()),
        ..query(config, lang, None)
    }
}
