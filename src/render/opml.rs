//! OPML 2.0: every feed Kabar serves, grouped by language, for one-step import.

use std::fmt::Write;

use super::all_feeds;
use crate::config::Config;
use crate::text::{escape_html as esc, xml_safe};
use crate::urls::{self, Format};

pub fn render(config: &Config) -> Vec<u8> {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    let _ = writeln!(out, "<title>{}</title>", esc(&xml_safe(&config.site.name)));
    let _ = writeln!(out, "<ownerId>{}</ownerId>", esc(config.site.url.as_str()));
    out.push_str("<docs>http://opml.org/spec2.opml</docs>\n</head>\n<body>\n");
    let feeds = all_feeds(config);
    for lang in &config.languages {
        let _ = writeln!(
            out,
            "<outline text=\"{name}\" title=\"{name}\" language=\"{code}\">",
            name = esc(&xml_safe(&lang.name)),
            code = lang.code()
        );
        for feed in feeds.iter().filter(|f| f.lang == lang.code()) {
            for format in Format::ALL {
                let title = format!("{} ({})", feed.title, format.name().to_uppercase());
                let _ = writeln!(
                    out,
                    "  <outline type=\"rss\" version=\"{version}\" text=\"{title}\" title=\"{title}\" language=\"{code}\" xmlUrl=\"{url}\" htmlUrl=\"{html}\"/>",
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

/// OPML's `version` attribute: readers use it to pick a parser.
fn opml_version(format: Format) -> &'static str {
    match format {
        Format::Rss => "RSS2",
        Format::Atom => "ATOM1",
        Format::Json => "JSONFEED1",
    }
}
