//! Header values a resource carries whatever its bytes: `Cache-Control` for
//! shared caches and the WebSub discovery `Link`.

use hyper::header::HeaderValue;

use crate::config::Config;
use crate::urls::{self, Resource};

/// How long shared caches may keep a closed month's archive: closed months
/// change only when an old article is corrected.
const ARCHIVE_MAX_AGE_SECS: u64 = 86_400;

/// `Cache-Control` of feeds (and OPML, index) and of monthly archives, made
/// once from the configuration.
#[derive(Debug, Clone)]
pub struct CacheControl {
    feeds: HeaderValue,
    archives: HeaderValue,
}

impl CacheControl {
    pub fn new(config: &Config) -> Self {
        let c = &config.cache;
        let feeds = HeaderValue::from_str(&format!(
            "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
            c.max_age_secs, c.stale_while_revalidate_secs, c.stale_if_error_secs
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"));
        let archives = HeaderValue::from_str(&format!(
            "public, max-age={ARCHIVE_MAX_AGE_SECS}, stale-if-error={}",
            c.stale_if_error_secs
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=86400"));
        CacheControl { feeds, archives }
    }

    /// The value for `resource`.
    pub fn of(&self, resource: Resource) -> &HeaderValue {
        match resource {
            Resource::Archive { .. } | Resource::ArchivePreview { .. } => &self.archives,
            _ => &self.feeds,
        }
    }
}

/// `Link: <hub>; rel="hub", <self>; rel="self"` for WebSub discovery; an
/// archive (which never changes) names no hub.
pub fn link(config: &Config, self_url: &str, archive: bool) -> Option<HeaderValue> {
    let mut links: Vec<String> = urls::hubs(config)
        .into_iter()
        .filter(|_| !archive)
        .map(|hub| format!("<{hub}>; rel=\"hub\""))
        .collect();
    links.push(format!("<{self_url}>; rel=\"self\""));
    HeaderValue::from_str(&links.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::{Format, Month};

    fn config(edit: impl Fn(String) -> String) -> Config {
        Config::parse(
            &edit(include_str!("../../feeds.toml").to_owned()),
            "feeds.toml",
        )
        .expect("config")
    }

    #[test]
    fn archives_are_kept_a_day_and_feeds_as_configured() {
        let config = config(|t| t);
        let c = &config.cache;
        let values = CacheControl::new(&config);
        let feed = Resource::Feed {
            lang: 0,
            section: None,
            format: Format::Rss,
        };
        assert_eq!(
            values.of(feed),
            &format!(
                "public, max-age={}, stale-while-revalidate={}, stale-if-error={}",
                c.max_age_secs, c.stale_while_revalidate_secs, c.stale_if_error_secs
            )
        );
        assert_eq!(values.of(Resource::Opml), values.of(feed));
        let archive = Resource::Archive {
            lang: 0,
            month: Month::parse("2026-01").expect("month"),
        };
        assert_eq!(
            values.of(archive),
            &format!(
                "public, max-age=86400, stale-if-error={}",
                c.stale_if_error_secs
            )
        );
    }

    #[test]
    fn the_link_header_names_every_hub_then_the_feed() {
        let config = config(|t| {
            t.replace(
                "hubs = []",
                "hubs = [\"https://hub.example/\", \"https://pubsubhubbub.example/\"]",
            )
        });
        assert_eq!(config.site.hubs.len(), 2, "the edit took");
        let self_url = "http://127.0.0.1:8080/fr/rss.xml";
        let hubs: String = urls::hubs(&config)
            .iter()
            .map(|hub| format!("<{hub}>; rel=\"hub\", "))
            .collect();
        assert!(hubs.contains("<https://pubsubhubbub.example/>"), "{hubs}");
        assert_eq!(
            link(&config, self_url, false).expect("a valid value"),
            format!("{hubs}<{self_url}>; rel=\"self\"").as_str()
        );
        assert_eq!(
            link(&config, self_url, true).expect("a valid value"),
            format!("<{self_url}>; rel=\"self\"").as_str(),
            "an archive names no hub"
        );
    }
}
