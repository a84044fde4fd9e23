//! Request paths to routes: percent-decoding, then the URL scheme
//! ([`crate::urls`]). A path that does not decode is a malformed request (400);
//! one that names nothing is a 404 listing what exists.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::config::Config;
use crate::metrics;
use crate::urls::{self, Resource};

pub use crate::urls::Route;

/// The metric label of a route.
pub fn metric(route: &Route) -> metrics::Route {
    match route {
        Route::Resource(Resource::Feed { .. } | Resource::Archive { .. }) => metrics::Route::Feed,
        Route::Resource(
            Resource::Preview { .. }
            | Resource::TagPreview { .. }
            | Resource::ArchivePreview { .. },
        ) => metrics::Route::Preview,
        // One label for every tag: the tags themselves are unbounded.
        Route::Resource(Resource::Tag { .. }) => metrics::Route::TagFeed,
        Route::Resource(Resource::NewsSitemap { .. } | Resource::SitemapIndex) => {
            metrics::Route::Sitemap
        }
        Route::Resource(Resource::Opml) => metrics::Route::Opml,
        Route::Resource(Resource::Index) => metrics::Route::Index,
        Route::Health => metrics::Route::Health,
        Route::Ready => metrics::Route::Ready,
        Route::Metrics => metrics::Route::Metrics,
        Route::Hub => metrics::Route::Hub,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The path does not decode (bad percent-encoding, not UTF-8, a NUL).
    BadRequest(String),
    /// Nothing by that name; the message lists what exists.
    NotFound(String),
}

/// Routes a request path (without the query string).
pub fn route(config: &Config, raw_path: &str) -> Result<Route, RouteError> {
    let path = decode(raw_path)?;
    urls::route(config, &path).map_err(|urls::NotFound(body)| RouteError::NotFound(body))
}

/// Percent-decodes the path; anything that does not decode to clean UTF-8 is a
/// malformed request, not a missing page. A path of printable ASCII without
/// escapes, as every feed URL is, is returned as it is.
fn decode(raw: &str) -> Result<Cow<'_, str>, RouteError> {
    if raw.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bad = |why: &str| RouteError::BadRequest(format!("400 Bad Request: {why} in the path.\n"));
    // percent_decode passes a malformed escape through as it is; this is stricter.
    let bytes = raw.as_bytes();
    for (i, _) in raw.match_indices('%') {
        let hex = bytes
            .get(i + 1..i + 3)
            .ok_or_else(|| bad("a truncated percent-escape"))?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(bad("a bad percent-escape"));
        }
    }
    let path = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| bad("bytes that are not UTF-8"))?;
    if path.chars().any(char::is_control) {
        return Err(bad("a control character"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::Format;

    fn config() -> Config {
        Config::parse(include_str!("../../feeds.toml"), "feeds.toml").unwrap()
    }

    #[test]
    fn escaped_paths_route_as_decoded() {
        let config = config();
        assert_eq!(
            route(&config, "/%7A%68/feed.json"),
            Ok(Route::Resource(Resource::Feed {
                lang: 2,
                section: None,
                format: Format::Json
            }))
        );
        assert!(
            matches!(route(&config, "/xx/rss.xml"), Err(RouteError::NotFound(b)) if b.contains("languages: id, en"))
        );
    }

    #[test]
    fn undecodable_paths_are_bad_requests() {
        let config = config();
        for path in [
            "/%zz/rss.xml",
            "/fr/%",
            "/%ff%fe/rss.xml",
            "/fr%00/rss.xml",
            "/fr\u{1}/rss.xml",
            "/fr\u{85}/rss.xml",
        ] {
            assert!(
                matches!(route(&config, path), Err(RouteError::BadRequest(_))),
                "{path}"
            );
        }
        // Past the plain-ASCII shortcut, clean paths are routed as decoded.
        for (path, language) in [("/日本/rss.xml", "日本"), ("/%E6%97%A5/rss.xml", "日")] {
            assert!(
                matches!(route(&config, path), Err(RouteError::NotFound(b)) if b.contains(&format!("unknown language {language:?}"))),
                "{path}"
            );
        }
        assert_eq!(
            route(&config, "/f%72/rss.xml"),
            route(&config, "/fr/rss.xml")
        );
    }
}
