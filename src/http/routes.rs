//! Request paths to what they name. Unknown names get a 404 that lists what
//! exists, so a mistyped feed URL tells its reader how to fix it.

use std::borrow::Cow;

use crate::archive::Month;
use crate::cache::Resource;
use crate::config::Config;
use crate::feed::Format;
use crate::metrics;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Resource(Resource),
    Health,
    Ready,
    Metrics,
}

impl Route {
    pub fn metric(&self) -> metrics::Route {
        match self {
            Route::Resource(Resource::Feed { .. } | Resource::Archive { .. }) => {
                metrics::Route::Feed
            }
            Route::Resource(Resource::Opml) => metrics::Route::Opml,
            Route::Resource(Resource::Index) => metrics::Route::Index,
            Route::Health => metrics::Route::Health,
            Route::Ready => metrics::Route::Ready,
            Route::Metrics => metrics::Route::Metrics,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The path does not decode (bad percent-encoding, not UTF-8, a NUL).
    BadRequest(String),
    /// Nothing by that name; the message lists what exists.
    NotFound(String),
}

/// The most path segments a route has (`/{lang}/archive/{month}/atom.xml`).
const MAX_SEGMENTS: usize = 4;

/// Routes a request path (without the query string). A plain path, as every
/// feed URL is, is matched in place: nothing is allocated on the way to a hit.
pub fn route(config: &Config, raw_path: &str) -> Result<Route, RouteError> {
    let path = decode(raw_path)?;
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
        ["feeds.opml"] => Ok(Route::Resource(Resource::Opml)),
        ["healthz"] => Ok(Route::Health),
        ["readyz"] => Ok(Route::Ready),
        ["metrics"] => Ok(Route::Metrics),
        [lang, "archive", month, "atom.xml"] => archive(config, lang, month),
        [lang, file] => feed(config, lang, None, file),
        [lang, section, file] => feed(config, lang, Some(section), file),
        _ => Err(no_route()),
    }
}

fn feed(
    config: &Config,
    lang: &str,
    section: Option<&str>,
    file: &str,
) -> Result<Route, RouteError> {
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
    let Some(format) = Format::from_file_name(file) else {
        return Err(not_found(config, &format!("unknown feed format {file:?}")));
    };
    Ok(Route::Resource(Resource::Feed {
        lang: lang_index,
        section: section_index,
        format,
    }))
}

/// `/{lang}/archive/{YYYY-MM}/atom.xml`: one closed month of a language (RFC 5005).
fn archive(config: &Config, lang: &str, month: &str) -> Result<Route, RouteError> {
    let Some(lang) = config.languages.iter().position(|l| l.code() == lang) else {
        return Err(not_found(config, &format!("unknown language {lang:?}")));
    };
    let Some(month) = Month::parse(month) else {
        return Err(not_found(
            config,
            &format!("{month:?} is not a month (YYYY-MM)"),
        ));
    };
    Ok(Route::Resource(Resource::Archive { lang, month }))
}

fn not_found(config: &Config, what: &str) -> RouteError {
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.file_name()).collect();
    RouteError::NotFound(format!(
        "404 Not Found: {what}.\n\
         Feeds are /{{language}}/{{format}} and /{{language}}/{{section}}/{{format}};\n\
         monthly archives are /{{language}}/archive/{{YYYY-MM}}/atom.xml.\n\
         languages: {}\nsections: {}\nformats: {}\nalso: /, /feeds.opml, /healthz, /readyz, /metrics\n",
        config.language_codes().join(", "),
        config.section_slugs().join(", "),
        formats.join(", "),
    ))
}

/// Percent-decodes the path; anything that does not decode to clean UTF-8 is a
/// malformed request, not a missing page. A path of printable ASCII without
/// escapes is returned as it is.
fn decode(raw: &str) -> Result<Cow<'_, str>, RouteError> {
    // Every feed URL: printable ASCII, no escapes, checked in one pass.
    if raw.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bad = |why: &str| RouteError::BadRequest(format!("400 Bad Request: {why} in the path.\n"));
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or_else(|| bad("a truncated percent-escape"))?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad("a bad percent-escape"))?;
                let byte = u8::from_str_radix(hex, 16).map_err(|_| bad("a bad percent-escape"))?;
                out.push(byte);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let path = String::from_utf8(out).map_err(|_| bad("bytes that are not UTF-8"))?;
    if path.chars().any(char::is_control) {
        return Err(bad("a control character"));
    }
    Ok(Cow::Owned(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(include_str!("../../feeds.toml"), "feeds.toml").unwrap()
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
        assert_eq!(
            route(&config, "/%7A%68/feed.json"),
            Ok(Route::Resource(Resource::Feed {
                lang: 2,
                section: None,
                format: Format::Json
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
    fn unknown_names_list_what_exists() {
        let config = config();
        let Err(RouteError::NotFound(body)) = route(&config, "/xx/rss.xml") else {
            panic!("expected 404");
        };
        assert!(body.contains("unknown language \"xx\""), "{body}");
        assert!(body.contains("languages: id, en, zh, ja, ar, fr"), "{body}");
        assert!(
            matches!(route(&config, "/fr/nope/rss.xml"), Err(RouteError::NotFound(b)) if b.contains("unknown section"))
        );
        assert!(
            matches!(route(&config, "/fr/rss.json"), Err(RouteError::NotFound(b)) if b.contains("unknown feed format"))
        );
        for path in [
            "/fr/world/extra/more/rss.xml",
            "/fr/archive/2026-10/atom.xml/x",
        ] {
            assert!(
                matches!(route(&config, path), Err(RouteError::NotFound(b)) if b.contains("no route")),
                "{path}"
            );
        }
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
