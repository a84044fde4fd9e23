//! OPML 2.0: every feed Kabar serves, grouped by language, for one-step import.
//!
//! Written to the subset the W3C feed validator and readers' importers agree
//! on: `<head>` holds the title and owner only (the validator knows no `docs`);
//! a language is a folder outline with nothing but `text`, because an outline
//! with more attributes needs a `type` to say what they mean; and each feed is a
//! `type="rss"` outline (OPML's one type for a subscription, whatever the
//! format), with `version` only where OPML defines a value for it, RSS 2.0.

use std::fmt::Write;

use super::{all_feeds, format_label};
use crate::config::Config;
use crate::text::{escape_html as esc, xml_safe};
use crate::urls::{self, Format};

pub fn render(config: &Config) -> Vec<u8> {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&xml_safe(&config.site.name)));
    let _ = writeln!(out, "<ownerId>{}</ownerId>", esc(config.site.url.as_str()));
    out.push_str("</head>\n<body>\n");
    let feeds = all_feeds(config);
    for lang in &config.languages {
        let _ = writeln!(out, "<outline text=\"{}\">", esc(&xml_safe(&lang.name)));
        for feed in feeds.iter().filter(|f| f.lang == lang.code()) {
            for format in Format::ALL {
                let title = format!("{} ({})", feed.title, format_label(format));
                let _ = writeln!(
                    out,
                    "  <outline type=\"rss\"{version} text=\"{title}\" title=\"{title}\" language=\"{code}\" xmlUrl=\"{url}\" htmlUrl=\"{html}\"/>",
                    version = opml_version(format),
                    title = esc(&xml_safe(&title)),
                    code = feed.lang,
                    url = esc(&urls::feed_url(config, feed.lang, feed.section, format)),
                    html = esc(lang.home_url.as_ref().unwrap_or(&config.site.url).as_str()),
                );
            }
        }
        out.push_str("</outline>\n");
    }
    out.push_str("</body>\n</opml>\n");
    out.into_bytes()
}

/// The `version` attribute of a feed's outline, with its leading space, or
/// nothing. OPML 2.0 defines values for RSS alone (`RSS`, `RSS1`, `RSS2`,
/// `scriptingNews`); readers detect Atom and JSON Feed from the document
/// they fetch, and an invented value only trips validators.
fn opml_version(format: Format) -> &'static str {
    match format {
        Format::Rss => " version=\"RSS2\"",
        Format::Atom | Format::Json => "",
    }
}
