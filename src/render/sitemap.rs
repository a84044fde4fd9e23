//! Sitemaps for news search engines: a language's news sitemap (sitemaps.org
//! 0.9 with Google's news extension, and `xhtml:link` alternates between an
//! article's language versions) and the sitemap index that lists them.
//!
//! Like the feeds, a sitemap is made from a built [`Feed`], so its titles,
//! links and dates are the feed items' own.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat};
use chrono_tz::Tz;

use crate::config::Config;
use crate::feed::{Feed, Item};
use crate::text::{escape_html as esc, xml_safe};

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const NEWS_NS: &str = "http://www.google.com/schemas/sitemap-news/0.9";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// The news sitemap of `feed`, built from a language's news rows.
pub fn news(config: &Config, feed: &Feed) -> Vec<u8> {
    let mut out = String::with_capacity(1024 + feed.items.len() * 1024);
    let _ = writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"{SITEMAP_NS}\" xmlns:news=\"{NEWS_NS}\" xmlns:xhtml=\"{XHTML_NS}\">"
    );
    let publication = esc(&xml_safe(&config.site.name));
    let language = news_language(&feed.lang);
    for item in &feed.items {
        out.push_str("<url>\n");
        let _ = writeln!(out, "  <loc>{}</loc>", esc(&item.link));
        for (hreflang, href) in alternates(item) {
            let _ = writeln!(
                out,
                "  <xhtml:link rel=\"alternate\" hreflang=\"{}\" href=\"{}\"/>",
                esc(hreflang),
                esc(href)
            );
        }
        let _ = writeln!(
            out,
            "  <news:news>\n    <news:publication>\n      <news:name>{publication}</news:name>\n      <news:language>{language}</news:language>\n    </news:publication>\n    <news:publication_date>{}</news:publication_date>\n    <news:title>{}</news:title>\n  </news:news>",
            w3c_datetime(&item.published),
            esc(&item.title),
        );
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    out.into_bytes()
}

/// One sitemap the index lists: its URL and when its newest item changed
/// (`None` while the language has no news).
pub struct Listed {
    pub url: String,
    pub updated: Option<DateTime<Tz>>,
}

/// The sitemap index of the languages' news sitemaps.
pub fn index(sitemaps: &[Listed]) -> Vec<u8> {
    let mut out = String::with_capacity(256 + sitemaps.len() * 160);
    let _ = writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<sitemapindex xmlns=\"{SITEMAP_NS}\">"
    );
    for sitemap in sitemaps {
        let _ = write!(out, "<sitemap>\n  <loc>{}</loc>\n", esc(&sitemap.url));
        if let Some(updated) = &sitemap.updated {
            let _ = writeln!(out, "  <lastmod>{}</lastmod>", w3c_datetime(updated));
        }
        out.push_str("</sitemap>\n");
    }
    out.push_str("</sitemapindex>\n");
    out.into_bytes()
}

/// Every language version of the item's article with its page, the item's
/// own first, then `x-default`: the Indonesian original, which a reader of
/// none of these languages should get.
fn alternates(item: &Item) -> impl Iterator<Item = (&str, &str)> {
    let own = (item.lang.as_str(), item.link.as_str());
    let original = item
        .original
        .as_ref()
        .map(|o| (o.lang.as_str(), o.url.as_str()));
    let related = item
        .related
        .iter()
        .map(|r| (r.lang.as_str(), r.url.as_str()));
    let default = ("x-default", original.map_or(own.1, |(_, url)| url));
    std::iter::once(own)
        .chain(original)
        .chain(related)
        .chain(std::iter::once(default))
}

/// A W3C datetime (the profile of ISO 8601 sitemaps use), to the second,
/// in the site's zone as the feeds write it.
fn w3c_datetime(time: &DateTime<Tz>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The publication language as Google News names it: the ISO 639 code,
/// except Chinese, which it names by script: `zh-cn` (simplified, also for
/// a bare `zh`) and `zh-tw` (traditional).
pub fn news_language(code: &str) -> String {
    let lower = code.to_ascii_lowercase();
    let mut subtags = lower.split(['-', '_']);
    let primary = subtags.next().unwrap_or_default();
    if primary != "zh" {
        return primary.to_owned();
    }
    let traditional = subtags.any(|s| matches!(s, "hant" | "tw" | "hk" | "mo"));
    if traditional { "zh-tw" } else { "zh-cn" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_news_names_chinese_by_script_and_the_rest_by_iso_639() {
        for (code, expected) in [
            ("zh", "zh-cn"),
            ("zh-Hans", "zh-cn"),
            ("zh-CN", "zh-cn"),
            ("zh-Hant", "zh-tw"),
            ("zh-TW", "zh-tw"),
            ("zh-Hant-HK", "zh-tw"),
            ("id", "id"),
            ("fr", "fr"),
            ("pt-BR", "pt"),
            ("fil", "fil"),
        ] {
            assert_eq!(news_language(code), expected, "{code}");
        }
    }
}
