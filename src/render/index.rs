//! The HTML index at `/`: every feed, with autodiscovery links, grouped by
//! language; each language is written in its own script and direction.

use std::fmt::Write;

use super::{all_feeds, format_label};
use crate::config::Config;
use crate::text::{escape_html as esc, xml_safe};
use crate::urls::{self, Format};

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1d232a;--muted:#5b6570;--bg:#f6f4ef;--card:#fff;--line:#e3ded3;--accent:#b3261e}
@media (prefers-color-scheme:dark){:root{--fg:#e9e6df;--muted:#a7a29a;--bg:#16181b;--card:#1f2226;--line:#33373c;--accent:#ff8a80}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans Arabic','Noto Sans CJK SC',sans-serif;color:var(--fg);background:var(--bg)}
header{padding:2.5rem 1.25rem 1.5rem;max-width:72rem;margin:auto}
h1{margin:0 0 .25rem;font-size:2rem;letter-spacing:-.01em}
header p{margin:.25rem 0;color:var(--muted)}
main{max-width:72rem;margin:auto;padding:0 1.25rem 3rem;display:grid;gap:1.25rem;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr))}
section{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:1.25rem 1.25rem 1rem}
h2{margin:0;font-size:1.35rem}
.code{font:600 .75rem/1 ui-monospace,monospace;color:var(--muted);border:1px solid var(--line);border-radius:6px;padding:.2rem .35rem;margin-inline-start:.5rem;vertical-align:middle}
.desc{color:var(--muted);margin:.35rem 0 .9rem;font-size:.95rem}
ul{list-style:none;margin:0;padding:0}
li{display:flex;justify-content:space-between;align-items:center;gap:.75rem;padding:.45rem 0;border-top:1px solid var(--line)}
li .feed{overflow-wrap:anywhere;color:inherit;text-decoration:none}
li .feed:hover{text-decoration:underline}
.formats{display:flex;gap:.35rem;flex-shrink:0}
.formats a{font:600 .72rem/1 ui-monospace,monospace;white-space:nowrap;text-decoration:none;color:var(--accent);border:1px solid currentColor;border-radius:999px;padding:.3rem .5rem}
.formats a:hover{background:var(--accent);color:var(--card)}
footer{max-width:72rem;margin:auto;padding:0 1.25rem 2rem;color:var(--muted);font-size:.9rem}
footer a{color:inherit}
";

pub fn render(config: &Config) -> Vec<u8> {
    let site = esc(&xml_safe(&config.site.name));
    let original = config.original_language();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{original}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{site} — feeds</title>\n<style>{STYLE}</style>\n"
    );
    write_autodiscovery(&mut out, config);
    let _ = write!(
        out,
        "</head>\n<body>\n<header>\n<h1>{site}</h1>\n\
         <p>RSS, Atom and JSON feeds in every language of the site. Translated items link back to the original.</p>\n\
         <p><a href=\"{opml}\">feeds.opml</a> — every feed in one file for your reader.</p>\n\
         <p><a href=\"{sitemaps}\">sitemap.xml</a> — each language's news of the last two days, for news search engines.</p>\n</header>\n<main>\n",
        opml = esc(&urls::opml_url(config)),
        sitemaps = esc(&urls::sitemap_index_url(config)),
    );
    let feeds = all_feeds(config);
    for lang in &config.languages {
        let code = lang.code();
        let _ = write!(
            out,
            "<section lang=\"{code}\" dir=\"{dir}\">\n<h2>{name}<span class=\"code\" dir=\"ltr\">{code}</span></h2>\n\
             <p class=\"desc\">{desc}</p>\n<ul>\n",
            dir = lang.direction.as_str(),
            name = esc(&xml_safe(&lang.name)),
            desc = esc(&xml_safe(&lang.description)),
        );
        for feed in feeds.iter().filter(|f| f.lang == code) {
            let label = match feed.section.and_then(|s| config.section(s)) {
                Some(section) => section.name(code).to_owned(),
                None => lang.title.clone(),
            };
            // The feed's name leads to its page for people; the formats to the feed.
            let _ = write!(
                out,
                "<li><a class=\"feed\" href=\"{}\">{}</a><span class=\"formats\" dir=\"ltr\">",
                esc(&urls::preview_url(config, feed.lang, feed.section)),
                esc(&xml_safe(&label))
            );
            for format in Format::ALL {
                let _ = write!(
                    out,
                    "<a href=\"{}\" type=\"{}\">{}</a>",
                    esc(&urls::feed_url(config, feed.lang, feed.section, format)),
                    format.media_type(),
                    format_label(format)
                );
            }
            out.push_str("</span></li>\n");
        }
        out.push_str("</ul>\n</section>\n");
    }
    let _ = write!(
        out,
        "</main>\n<footer><a href=\"{}\">{}</a></footer>\n</body>\n</html>\n",
        esc(config.site.url.as_str()),
        esc(config.site.url.as_str())
    );
    out.into_bytes()
}

/// `<link rel="alternate">` for every feed, so browsers and readers find them all.
fn write_autodiscovery(out: &mut String, config: &Config) {
    for feed in all_feeds(config) {
        for format in Format::ALL {
            let _ = writeln!(
                out,
                "<link rel=\"alternate\" type=\"{}\" hreflang=\"{}\" title=\"{} ({})\" href=\"{}\">",
                format.media_type(),
                feed.lang,
                esc(&xml_safe(&feed.title)),
                format_label(format),
                esc(&urls::feed_url(config, feed.lang, feed.section, format)),
            );
        }
    }
}
