//! The URL scheme: every path Kabar answers, in both directions. Routing reads
//! a request path into a [`Route`]; the renderers' self links, the OPML list,
//! the index, WebSub pings and the cache write paths and URLs from the same
//! functions, so a route and the links to it cannot drift apart.
//!
//! ```text
//! /                                      the HTML index
//! /feeds.opml                            every feed, for a reader's import
//! /{lang}/{format}                       a language's feed
//! /{lang}/{section}/{format}             one section of it
//! /{lang}/feed.html, /{lang}/{section}/feed.html
//!                                        a feed's preview page, for people
//! /{lang}/archive/{YYYY-MM}/atom.xml     a closed month (RFC 5005)
//! /{lang}/archive/{YYYY-MM}/feed.html    its page, for people
//! /{lang}/tags/{tag}/{format}            a language's items with one tag
//! /{lang}/news-sitemap.xml               a language's news of the last 48 hours
//! /sitemap.xml                           the index of the news sitemaps
//! /healthz /readyz /metrics              for operators
//! /websub                                the built-in WebSub hub (POST)
//! /.well-known/webfinger, /.well-known/nodeinfo, /nodeinfo/2.1, /ap/…
//!                                        the fediverse accounts (`http::fedi`)
//! ```
//!
//! Routes are told apart by their number of segments and fixed words; a
//! section slug cannot contain a `.`, so it never reads as a feed's file name.
//! A tag's `{tag}` is its slug ([`TagSlug`], `tag`), percent-encoded.

mod tag;

use std::fmt;
use std::ops::Range;

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;

use crate::config::Config;

pub use tag::TagSlug;

/// The three feed formats Kabar serves for every language and section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The last path segment of the feed's route.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.file_name() == name)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The media type without parameters, for `<link type=…>` and OPML.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// Short name for people and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }
}

/// A calendar month, `YYYY-MM` in routes. Months are counted in the site's
/// time zone, so an article belongs to the month its readers saw it published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (years 1970 to 9999).
    pub fn parse(s: &str) -> Option<Month> {
        let (year, month) = s.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let month: u32 = month.parse().ok()?;
        ((1970..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The month `unix_ms` falls in, in `zone`.
    pub fn of(unix_ms: i64, zone: Tz) -> Month {
        let time = chrono::DateTime::from_timestamp_millis(unix_ms)
            .unwrap_or_default()
            .with_timezone(&zone);
        Month {
            year: time.year(),
            month: time.month(),
        }
    }

    /// Unix milliseconds from the first instant of this month to the first of
    /// the next, in `zone`.
    pub fn range_ms(self, zone: Tz) -> Range<i64> {
        self.start_ms(zone)..self.next().start_ms(zone)
    }

    fn start_ms(self, zone: Tz) -> i64 {
        zone.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .earliest()
            .map_or(i64::MAX, |t| t.timestamp_millis())
    }

    /// The month's first day, for writing the month the way a language does.
    pub fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Something Kabar renders: a feed (by index into the configuration's languages
/// and sections), a language's monthly Atom archive, a language's news
/// sitemap, the sitemap index, the OPML list or the HTML index. Small and
/// `Copy`, so a cache lookup hashes a few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Feed {
        lang: usize,
        section: Option<usize>,
        format: Format,
    },
    Archive {
        lang: usize,
        month: Month,
    },
    /// A monthly archive as a page a person reads, like [`Resource::Preview`].
    ArchivePreview {
        lang: usize,
        month: Month,
    },
    /// A feed as a page a person reads: at its own URL (`feed.html`), or
    /// answering a browser's navigation to the feed in `format`, whose URL
    /// it offers to copy.
    Preview {
        lang: usize,
        section: Option<usize>,
        format: Format,
    },
    /// A language's items with one tag: an ordinary cache entry, not a slot.
    Tag {
        lang: usize,
        tag: TagSlug,
        format: Format,
    },
    /// A tag feed as a page a person reads, like [`Resource::Preview`].
    TagPreview {
        lang: usize,
        tag: TagSlug,
        format: Format,
    },
    NewsSitemap {
        lang: usize,
    },
    SitemapIndex,
    Opml,
    Index,
}

impl Resource {
    /// The public URL of this resource, or `None` when an index names nothing
    /// in `config`.
    pub fn url(self, config: &Config) -> Option<String> {
        let lang = |i: usize| config.languages.get(i).map(|l| l.code());
        Some(match self {
            Resource::Feed {
                lang: l,
                section,
                format,
            } => {
                let section = match section {
                    Some(s) => Some(config.sections.get(s)?.slug()),
                    None => None,
                };
                feed_url(config, lang(l)?, section, format)
            }
            Resource::Archive { lang: l, month } => archive_url(config, lang(l)?, month),
            Resource::ArchivePreview { lang: l, month } => {
                archive_preview_url(config, lang(l)?, month)
            }
            Resource::Preview {
                lang: l, section, ..
            } => {
                let section = match section {
                    Some(s) => Some(config.sections.get(s)?.slug()),
                    None => None,
                };
                preview_url(config, lang(l)?, section)
            }
            Resource::Tag {
                lang: l,
                tag,
                format,
            } => tag_feed_url(config, lang(l)?, &tag, format),
            Resource::TagPreview { lang: l, tag, .. } => tag_preview_url(config, lang(l)?, &tag),
            Resource::NewsSitemap { lang: l } => news_sitemap_url(config, lang(l)?),
            Resource::SitemapIndex => public_url(config, SITEMAP_INDEX),
            Resource::Opml => public_url(config, OPML),
            Resource::Index => index_url(config),
        })
    }
}

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Resource(Resource),
    Health,
    Ready,
    Metrics,
    /// The built-in WebSub hub's endpoint.
    Hub,
}

/// `/feeds.opml` without its leading `/`.
const OPML: &str = "feeds.opml";

/// The path segment that leads to a language's monthly archives.
const ARCHIVE: &str = "archive";

/// The path segment that leads to a language's tag feeds.
const TAGS: &str = "tags";

/// `/sitemap.xml` without its leading `/`: the index of the news sitemaps.
const SITEMAP_INDEX: &str = "sitemap.xml";

/// The last segment of a language's news sitemap.
const NEWS_SITEMAP: &str = "news-sitemap.xml";

/// The last segment of a feed's preview page.
const PREVIEW: &str = "feed.html";

/// `/websub` without its leading `/`: the built-in hub's endpoint.
const HUB: &str = "websub";

/// The most path segments a route has (`/{lang}/archive/{month}/atom.xml`).
const MAX_SEGMENTS: usize = 4;

/// The path of a feed, starting with `/`.
pub fn feed_path(lang: &str, section: Option<&str>, format: Format) -> String {
    match section {
        Some(section) => format!("/{lang}/{section}/{}", format.file_name()),
        None => format!("/{lang}/{}", format.file_name()),
    }
}

/// The public URL of a feed.
pub fn feed_url(config: &Config, lang: &str, section: Option<&str>, format: Format) -> String {
    public_url(config, &feed_path(lang, section, format)[1..])
}

/// The public URL of a feed's preview page. Every format of a feed shares
/// it: the page offers the RSS feed to copy, and links the others.
pub fn preview_url(config: &Config, lang: &str, section: Option<&str>) -> String {
    match section {
        Some(section) => public_url(config, &format!("{lang}/{section}/{PREVIEW}")),
        None => public_url(config, &format!("{lang}/{PREVIEW}")),
    }
}

/// The public URL of a tag feed's preview page.
pub fn tag_preview_url(config: &Config, lang: &str, tag: &TagSlug) -> String {
    public_url(
        config,
        &format!("{lang}/{TAGS}/{}/{PREVIEW}", tag.encoded()),
    )
}

/// The public URL of the feed of a language's items tagged `tag`.
pub fn tag_feed_url(config: &Config, lang: &str, tag: &TagSlug, format: Format) -> String {
    public_url(
        config,
        &format!("{lang}/{TAGS}/{}/{}", tag.encoded(), format.file_name()),
    )
}

/// The public URL of a language's archive for `month`.
pub fn archive_url(config: &Config, lang: &str, month: Month) -> String {
    public_url(
        config,
        &format!("{lang}/{ARCHIVE}/{month}/{}", Format::Atom.file_name()),
    )
}

/// The public URL of a monthly archive's preview page.
pub fn archive_preview_url(config: &Config, lang: &str, month: Month) -> String {
    public_url(config, &format!("{lang}/{ARCHIVE}/{month}/{PREVIEW}"))
}

/// The public URL of a language's news sitemap.
pub fn news_sitemap_url(config: &Config, lang: &str) -> String {
    public_url(config, &format!("{lang}/{NEWS_SITEMAP}"))
}

/// The public URL of the sitemap index.
pub fn sitemap_index_url(config: &Config) -> String {
    public_url(config, SITEMAP_INDEX)
}

/// The public URL of the HTML index of every feed.
pub fn index_url(config: &Config) -> String {
    public_url(config, "")
}

/// The public URL of the OPML list of every feed.
pub fn opml_url(config: &Config) -> String {
    public_url(config, OPML)
}

/// Where the fediverse accounts live: `/ap/{account}` and below.
pub const ACTIVITYPUB: &str = "ap";

/// The id of a language's fediverse account (an ActivityPub actor).
pub fn actor_url(config: &Config, account: &str) -> String {
    public_url(config, &format!("{ACTIVITYPUB}/{account}"))
}

/// The id of an article's post by a language's account (its `Note`).
pub fn note_url(config: &Config, account: &str, article_id: &str) -> String {
    public_url(
        config,
        &format!("{ACTIVITYPUB}/{account}/notes/{article_id}"),
    )
}

/// The site's own actor, which signs what the site fetches from other servers.
pub fn instance_actor_url(config: &Config) -> String {
    public_url(config, &format!("{ACTIVITYPUB}/actor"))
}

/// The inbox every account shares.
pub fn shared_inbox_url(config: &Config) -> String {
    public_url(config, &format!("{ACTIVITYPUB}/inbox"))
}

/// The built-in WebSub hub's URL, `None` when `[hub]` turns it off.
pub fn hub_url(config: &Config) -> Option<String> {
    config.hub.enabled.then(|| public_url(config, HUB))
}

/// The hubs a subscription feed advertises (`atom:link rel="hub"`, JSON Feed
/// `hubs`, the `Link` header): the built-in one first, then `[site] hubs`.
/// Archives advertise none: they never change, so there is nothing to push.
pub fn hubs(config: &Config) -> Vec<String> {
    hub_url(config)
        .into_iter()
        .chain(config.site.hubs.iter().map(ToString::to_string))
        .collect()
}

/// The subscription feed a WebSub topic names: one of Kabar's language,
/// section or tag feed URLs, exactly as the feeds give it in their self links
/// (a tag's slug percent-encoded). Archives, OPML and the index are not topics.
pub fn topic(config: &Config, topic: &str) -> Option<Resource> {
    let base = config.server.public_url.as_str();
    let path = topic.strip_prefix(base.strip_suffix('/').unwrap_or(base))?;
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    match route(config, &decoded) {
        Ok(Route::Resource(resource @ (Resource::Feed { .. } | Resource::Tag { .. })))
            if resource.url(config).as_deref() == Some(topic) =>
        {
            Some(resource)
        }
        _ => None,
    }
}

/// `path` (without its leading `/`) under the server's public URL.
fn public_url(config: &Config, path: &str) -> String {
    config.server.public_url.join(path)
}

/// Why a path names nothing: the message lists what exists, so a mistyped
/// feed URL tells its reader how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound(pub String);

/// Reads a decoded request path (without the query string). A plain path, as
/// every feed URL is, is matched in place: nothing is allocated on the way.
pub fn route(config: &Config, path: &str) -> Result<Route, NotFound> {
    let no_route = || not_found(config, &format!("no route for {path:?}"));
    let mut segments = [""; MAX_SEGMENTS];
    let mut count = 0;
    for segment in path.trim_start_matches('/').split('/') {
        let slot = segments.get_mut(count).ok_or_else(no_route)?;
        *slot = segment;
        count += 1;
    }
    match &segments[..count] {
        [""] => Ok(Route::Resource(Resource::Index)),
        [OPML] => Ok(Route::Resource(Resource::Opml)),
        [SITEMAP_INDEX] => Ok(Route::Resource(Resource::SitemapIndex)),
        ["healthz"] => Ok(Route::Health),
        ["readyz"] => Ok(Route::Ready),
        ["metrics"] => Ok(Route::Metrics),
        [HUB] => Ok(Route::Hub),
        [lang, ARCHIVE, month, file] => archive(config, lang, month, file),
        [lang, TAGS, tag, file] => tag_feed(config, lang, tag, file),
        [lang, NEWS_SITEMAP] => news_sitemap(config, lang),
        [lang, file] => feed(config, lang, None, file),
        [lang, section, file] => feed(config, lang, Some(section), file),
        _ => Err(no_route()),
    }
}

fn feed(config: &Config, lang: &str, section: Option<&str>, file: &str) -> Result<Route, NotFound> {
    let Some(lang_index) = config.languages.iter().position(|l| l.code() == lang) else {
        return Err(not_found(config, &format!("unknown language {lang:?}")));
    };
    let section_index = match section {
        None => None,
        Some(slug) => match config.sections.iter().position(|s| s.slug() == slug) {
            Some(i) => Some(i),
            None => return Err(not_found(config, &format!("unknown section {slug:?}"))),
        },
    };
    if file == PREVIEW {
        return Ok(Route::Resource(Resource::Preview {
            lang: lang_index,
            section: section_index,
            format: Format::Rss,
        }));
    }
    let Some(format) = Format::from_file_name(file) else {
        return Err(not_found(config, &format!("unknown feed format {file:?}")));
    };
    Ok(Route::Resource(Resource::Feed {
        lang: lang_index,
        section: section_index,
        format,
    }))
}

/// `/{lang}/archive/{YYYY-MM}/atom.xml`: one closed month of a language (RFC
/// 5005); `feed.html` in place of `atom.xml` is its page.
fn archive(config: &Config, lang: &str, month: &str, file: &str) -> Result<Route, NotFound> {
    let Some(lang) = config.languages.iter().position(|l| l.code() == lang) else {
        return Err(not_found(config, &format!("unknown language {lang:?}")));
    };
    let Some(month) = Month::parse(month) else {
        return Err(not_found(
            config,
            &format!("{month:?} is not a month (YYYY-MM)"),
        ));
    };
    match file {
        PREVIEW => Ok(Route::Resource(Resource::ArchivePreview { lang, month })),
        "atom.xml" => Ok(Route::Resource(Resource::Archive { lang, month })),
        _ => Err(not_found(
            config,
            &format!("archives are Atom only (atom.xml), not {file:?}"),
        )),
    }
}

/// `/{lang}/tags/{tag}/{format}`: whether the tag has items in the language
/// is the store's to say (a 404 when it has none).
fn tag_feed(config: &Config, lang: &str, tag: &str, file: &str) -> Result<Route, NotFound> {
    let Some(lang) = config.languages.iter().position(|l| l.code() == lang) else {
        return Err(not_found(config, &format!("unknown language {lang:?}")));
    };
    let Some(tag) = TagSlug::parse(tag) else {
        return Err(not_found(
            config,
            &format!("{tag:?} is not a tag slug (README.md, \"Tag feeds\", has the rule)"),
        ));
    };
    if file == PREVIEW {
        return Ok(Route::Resource(Resource::TagPreview {
            lang,
            tag,
            format: Format::Rss,
        }));
    }
    let Some(format) = Format::from_file_name(file) else {
        return Err(not_found(config, &format!("unknown feed format {file:?}")));
    };
    Ok(Route::Resource(Resource::Tag { lang, tag, format }))
}

/// `/{lang}/news-sitemap.xml`.
fn news_sitemap(config: &Config, lang: &str) -> Result<Route, NotFound> {
    match config.languages.iter().position(|l| l.code() == lang) {
        Some(lang) => Ok(Route::Resource(Resource::NewsSitemap { lang })),
        None => Err(not_found(config, &format!("unknown language {lang:?}"))),
    }
}

fn not_found(config: &Config, what: &str) -> NotFound {
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.file_name()).collect();
    NotFound(format!(
        "404 Not Found: {what}.\n\
         Feeds are /{{language}}/{{format}} and /{{language}}/{{section}}/{{format}},\n\
         each with a page for people at feed.html in place of the format;\n\
         tag feeds are /{{language}}/tags/{{tag}}/{{format}};\n\
         monthly archives are /{{language}}/archive/{{YYYY-MM}}/atom.xml (and feed.html);\n\
         news sitemaps are /{{language}}/news-sitemap.xml, listed in /sitemap.xml.\n\
         languages: {}\nsections: {}\nformats: {}\nalso: /, /feeds.opml, /healthz, /readyz, /metrics, /websub\n",
        config.language_codes().join(", "),
        config.section_slugs().join(", "),
        formats.join(", "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(include_str!("../feeds.toml"), "feeds.toml").unwrap()
    }

    #[test]
    fn feeds_route_to_their_resource() {
        let config = config();
        assert_eq!(
            route(&config, "/fr/world/atom.xml"),
            Ok(Route::Resource(Resource::Feed {
                lang: 5,
                section: Some(1),
                format: Format::Atom
            }))
        );
        assert_eq!(route(&config, "/"), Ok(Route::Resource(Resource::Index)));
        assert_eq!(
            route(&config, "/ar/archive/2026-10/atom.xml"),
            Ok(Route::Resource(Resource::Archive {
                lang: 4,
                month: Month::parse("2026-10").unwrap()
            }))
        );
    }

    #[test]
    fn every_resource_routes_back_from_its_url() {
        let config = config();
        let mut resources = vec![Resource::Opml, Resource::Index, Resource::SitemapIndex];
        for lang in 0..config.languages.len() {
            resources.push(Resource::NewsSitemap { lang });
            resources.push(Resource::Archive {
                lang,
                month: Month::parse("2025-02").unwrap(),
            });
            resources.push(Resource::ArchivePreview {
                lang,
                month: Month::parse("2025-02").unwrap(),
            });
            for section in std::iter::once(None).chain((0..config.sections.len()).map(Some)) {
                resources.push(Resource::Preview {
                    lang,
                    section,
                    format: Format::Rss,
                });
                for format in Format::ALL {
                    resources.push(Resource::Feed {
                        lang,
                        section,
                        format,
                    });
                }
            }
        }
        let base = config.server.public_url.as_str();
        for resource in resources {
            let url = resource.url(&config).expect("a configured resource");
            let path = &url[base.len() - 1..];
            assert_eq!(route(&config, path), Ok(Route::Resource(resource)), "{url}");
        }
        assert_eq!(
            Resource::Feed {
                lang: 99,
                section: None,
                format: Format::Rss
            }
            .url(&config),
            None
        );
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let config = config();
        let Err(NotFound(body)) = route(&config, "/xx/rss.xml") else {
            panic!("expected 404");
        };
        assert!(body.contains("unknown language \"xx\""), "{body}");
        assert!(body.contains("languages: id, en, zh, ja, ar, fr"), "{body}");
        assert!(
            matches!(route(&config, "/fr/nope/rss.xml"), Err(NotFound(b)) if b.contains("unknown section"))
        );
        assert!(
            matches!(route(&config, "/fr/rss.json"), Err(NotFound(b)) if b.contains("unknown feed format"))
        );
        assert!(
            matches!(route(&config, "/fr/archive/2026-10/rss.xml"), Err(NotFound(b)) if b.contains("Atom only"))
        );
        for path in [
            "/fr/world/extra/more/rss.xml",
            "/fr/archive/2026-10/atom.xml/x",
        ] {
            assert!(
                matches!(route(&config, path), Err(NotFound(b)) if b.contains("no route")),
                "{path}"
            );
        }
    }

    #[test]
    fn topics_are_the_subscription_feeds_and_hubs_lead_with_ours() {
        let config = config();
        let fr = feed_url(&config, "fr", Some("world"), Format::Json);
        assert!(matches!(topic(&config, &fr), Some(Resource::Feed { .. })));
        for not_a_topic in [
            archive_url(&config, "fr", Month::parse("2026-01").unwrap()),
            opml_url(&config),
            public_url(&config, ""),
            public_url(&config, "websub"),
            "https://elsewhere.example/fr/rss.xml".to_owned(),
            format!("{fr}?x=1"),
            format!("{fr}/"),
        ] {
            assert_eq!(topic(&config, &not_a_topic), None, "{not_a_topic}");
        }
        assert_eq!(hubs(&config), [public_url(&config, "websub")]);
        let mut off = config.clone();
        off.hub.enabled = false;
        assert_eq!(hubs(&off), Vec::<String>::new());
    }

    #[test]
    fn tag_feeds_route_by_slug_and_are_topics() {
        let config = config();
        let base = config.server.public_url.as_str();
        for tag in ["Économie Verte", "经济 政策"] {
            let slug = TagSlug::of(tag).expect("a slug");
            for format in Format::ALL {
                let resource = Resource::Tag {
                    lang: 5,
                    tag: slug,
                    format,
                };
                let url = resource.url(&config).expect("a url");
                assert!(url.is_ascii(), "{url}");
                let decoded = percent_encoding::percent_decode_str(&url[base.len() - 1..])
                    .decode_utf8()
                    .expect("utf-8")
                    .into_owned();
                assert_eq!(route(&config, &decoded), Ok(Route::Resource(resource)));
                assert_eq!(topic(&config, &url), Some(resource), "{url}");
            }
        }
        assert_eq!(
            tag_feed_url(
                &config,
                "fr",
                &TagSlug::of("Économie Verte").unwrap(),
                Format::Rss
            ),
            format!("{base}fr/tags/economie-verte/rss.xml")
        );
        // The decoded form of a non-ASCII topic is not the self link.
        let zh = TagSlug::of("经济").unwrap();
        let decoded = format!("{base}zh/tags/{zh}/rss.xml");
        assert_eq!(topic(&config, &decoded), None);
        for path in [
            "/fr/tags/Economie/rss.xml",
            "/fr/tags/a--b/rss.xml",
            "/fr/tags//rss.xml",
        ] {
            assert!(
                matches!(route(&config, path), Err(NotFound(b)) if b.contains("not a tag slug")),
                "{path}"
            );
        }
        assert!(
            matches!(route(&config, "/xx/tags/a/rss.xml"), Err(NotFound(b)) if b.contains("unknown language"))
        );
        assert!(
            matches!(route(&config, "/fr/tags/a/rss.json"), Err(NotFound(b)) if b.contains("unknown feed format"))
        );
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(
            Month::parse("2026-10").map(|m| m.to_string()),
            Some("2026-10".to_owned())
        );
        for bad in [
            "2026-13",
            "2026-00",
            "26-10",
            "2026-1",
            "2026/10",
            "1969-12",
            "2026-10-01",
            "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn months_follow_the_site_time_zone() {
        let jakarta: Tz = "Asia/Jakarta".parse().unwrap();
        // 2026-10-31T20:00:00Z is already November 1st in Jakarta (UTC+7).
        let ms = chrono::Utc
            .with_ymd_and_hms(2026, 10, 31, 20, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(Month::of(ms, jakarta).to_string(), "2026-11");
        let october = Month::parse("2026-10").unwrap().range_ms(jakarta);
        assert!(!october.contains(&ms));
        assert_eq!(
            october.end,
            Month::parse("2026-11").unwrap().range_ms(jakarta).start
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
    }
}
