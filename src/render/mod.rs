//! Renderers: one [`Feed`] into RSS 2.0, Atom 1.0 or JSON Feed 1.1 bytes, or
//! into a news sitemap or a preview page for people; the sitemap index, and
//! the site-wide OPML list and HTML index.
//!
//! Renderers only encode: every decision about content was made by the builder,
//! and the same input always gives the same bytes (no clock, no random order).

mod atom;
mod index;
mod json;
mod opml;
mod preview;
mod rss;
mod sitemap;

use crate::config::Config;
use crate::feed::Feed;
use crate::urls::Format;

pub use index::render as index;
pub use opml::render as opml;
pub use preview::{ArchiveMonths, Preview, render as preview, render_archive as archive_preview};
pub use sitemap::{Listed, index as sitemap_index, news as news_sitemap, news_language};

/// A format's name as people write it, for feed titles in the OPML list and the
/// index: "Atom", not "ATOM"; JSON Feed is the format's name, JSON only its syntax.
pub(crate) fn format_label(format: Format) -> &'static str {
    match format {
        Format::Rss => "RSS",
        Format::Atom => "Atom",
        Format::Json => "JSON Feed",
    }
}

/// The `generator` every feed names.
pub const GENERATOR: &str = concat!("Kabar ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("RSS: {0}")]
    Rss(#[from] ::rss::Error),
    #[error("Atom: {0}")]
    Atom(#[from] ::atom_syndication::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The bytes of `feed` in `format`.
pub fn feed(feed: &Feed, format: Format, config: &Config) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Rss => rss::render(feed, config),
        Format::Atom => atom::render(feed, config),
        Format::Json => json::render(feed, config),
    }
}

/// A first capacity for the output buffer of `feed`: its text plus room for
/// markup, escaping and links, so that a 200–300 KB feed is written into one
/// allocation instead of being copied through four doublings.
pub(crate) fn capacity(feed: &Feed) -> usize {
    let text: usize = feed
        .items
        .iter()
        .map(|i| i.content_html.len() + i.summary.len() + i.title.len())
        .sum();
    4096 + text + text / 4 + feed.items.len() * 2048
}

/// The links from an item to the other language versions of its article, as
/// RSS (`atom:link`) and Atom share them: `via` to the original it was
/// translated from, `related` to each sibling translation. Never `alternate`:
/// readers take an entry's last alternate link as the item's own.
pub(crate) fn language_links(
    item: &crate::feed::Item,
) -> impl Iterator<Item = ::atom_syndication::Link> + '_ {
    let link = |rel: &str, to: &crate::feed::LinkTo| ::atom_syndication::Link {
        href: to.url.clone(),
        rel: rel.to_owned(),
        hreflang: Some(to.lang.clone()),
        mime_type: Some("text/html".to_owned()),
        ..::atom_syndication::Link::default()
    };
    item.original
        .iter()
        .map(move |o| link("via", o))
        .chain(item.related.iter().map(move |r| link("related", r)))
}

/// The link from a feed to its page for people. Not `alternate`: that is
/// the site's own page (the channel's `link` in RSS), and readers take the
/// last alternate link as the site's; the page describes the feed, so
/// `describedby`.
pub(crate) fn preview_link(feed: &Feed) -> Option<::atom_syndication::Link> {
    feed.preview_url
        .as_ref()
        .map(|href| ::atom_syndication::Link {
            href: href.clone(),
            rel: "describedby".to_owned(),
            mime_type: Some("text/html".to_owned()),
            hreflang: Some(feed.lang.clone()),
            ..::atom_syndication::Link::default()
        })
}

/// Every feed the configuration defines, in a stable order: per language, the
/// language-wide feed, then one per section.
pub fn all_feeds(config: &Config) -> Vec<FeedEntry<'_>> {
    let mut feeds = Vec::new();
    for lang in &config.languages {
        feeds.push(FeedEntry {
            lang: lang.code(),
            section: None,
            title: lang.title.clone(),
        });
        for section in &config.sections {
            feeds.push(FeedEntry {
                lang: lang.code(),
                section: Some(section.slug()),
                title: format!("{} — {}", lang.title, section.name(lang.code())),
            });
        }
    }
    feeds
}

/// One configured feed (in every format), for the OPML list and the index.
pub struct FeedEntry<'a> {
    pub lang: &'a str,
    pub section: Option<&'a str>,
    pub title: String,
}
