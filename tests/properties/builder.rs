//! The whole builder on generated feed rows: every feed of every format is
//! well-formed and clean, and its titles and summaries keep to their lengths.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use kabar::article::{Author, BodyFormat, Image, Translation, Version};
use kabar::store::{ArticleMeta, FeedRow, Sibling};
use kabar::urls::Format;

use super::strategies::{html_fragment, nasty_text};
use super::{assert_clean, proptest_config};

/// The bundled configuration, as the demo runs with it.
fn config() -> kabar::Config {
    kabar::Config::parse(include_str!("../../feeds.toml"), "feeds.toml")
        .expect("the bundled feeds.toml")
}

/// One generated language version.
#[derive(Debug, Clone)]
struct GenVersion {
    title: Option<String>,
    summary: Option<String>,
    body: String,
    format: BodyFormat,
    url: Option<Url>,
    human: bool,
}

/// A version of any format, with or without its own title, summary and page.
fn version() -> impl Strategy<Value = GenVersion> {
    let body = prop_oneof![
        nasty_text(24).prop_map(|b| (b, BodyFormat::Text)),
        html_fragment().prop_map(|b| (b, BodyFormat::Html)),
    ];
    let url = prop::option::of(prop::sample::select(vec![
        "https://kabar.example/fr/monde/berita?id=1&x=2",
        "https://kabar.example/ar/%D8%B9/",
        "http://other.example/a/b/",
    ]));
    (
        prop::option::weighted(0.6, nasty_text(8)),
        prop::option::of(prop_oneof![nasty_text(16), html_fragment()]),
        body,
        url,
        any::<bool>(),
    )
        .prop_map(|(title, summary, (body, format), url, human)| GenVersion {
            title,
            summary,
            body,
            format,
            url: url.and_then(|u| Url::parse(u).ok()),
            human,
        })
}

/// One generated article: what every language shares, and up to three versions.
#[derive(Debug, Clone)]
struct GenArticle {
    section: Option<&'static str>,
    tags: Vec<String>,
    authors: Vec<(String, Option<String>)>,
    image_alt: Option<Option<String>>,
    versions: BTreeMap<&'static str, GenVersion>,
}

/// An article in up to three of the configured languages.
fn article() -> impl Strategy<Value = GenArticle> {
    (
        prop::option::of(prop::sample::select(vec!["national", "world", "business"])),
        prop::collection::vec(nasty_text(4), 0..3),
        prop::collection::vec((nasty_text(4), prop::option::of(nasty_text(3))), 0..3),
        prop::option::of(prop::option::of(nasty_text(6))),
        prop::collection::btree_map(
            prop::sample::select(vec!["id", "fr", "ar", "zh"]),
            version(),
            1..4,
        ),
    )
        .prop_map(|(section, tags, authors, image_alt, versions)| GenArticle {
            section,
            tags,
            authors,
            image_alt,
            versions,
        })
}

/// The feed rows of `lang` for the generated articles, newest first.
fn rows(articles: &[GenArticle], lang: &str) -> Vec<FeedRow> {
    let start: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2026-11-03T21:35:00+07:00").expect("a valid time");
    articles
        .iter()
        .enumerate()
        .filter_map(|(i, article)| {
            let generated = article.versions.get(lang)?;
            let published = start - Duration::hours(i64::try_from(i).unwrap_or(0));
            let translation = |lang: &str, v: &GenVersion| match (lang, v.human) {
                ("id", _) => Translation::Original,
                (_, true) => Translation::Human,
                (_, false) => Translation::Machine,
            };
            let image = article.image_alt.clone().map(|alt| Image {
                url: Url::parse("https://kabar.example/img/a.jpg").expect("a valid URL"),
                mime_type: "image/jpeg".to_owned(),
                length: None,
                width: Some(1200),
                height: Some(675),
                alt,
            });
            Some(FeedRow {
                article: ArticleMeta {
                    id: format!("artikel-{i}"),
                    section: article.section.map(str::to_owned),
                    published,
                    updated: published + Duration::minutes(5),
                    tags: article.tags.clone(),
                    authors: article
                        .authors
                        .iter()
                        .map(|(name, email)| Author {
                            name: name.clone(),
                            email: email.clone(),
                            url: None,
                        })
                        .collect(),
                    image,
                },
                version: Version {
                    translation: translation(lang, generated),
                    title: generated.title.clone(),
                    summary: generated.summary.clone(),
                    body: generated.body.clone(),
                    format: generated.format,
                    url: generated.url.clone(),
                    updated: None,
                },
                siblings: article
                    .versions
                    .iter()
                    .filter(|(other, _)| **other != lang)
                    .map(|(other, v)| Sibling {
                        lang: (*other).to_owned(),
                        url: v.url.clone(),
                        translation: translation(other, v),
                    })
                    .collect(),
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(proptest_config(64))]

    #[test]
    fn every_feed_is_well_formed_and_within_its_lengths(
        articles in prop::collection::vec(article(), 1..5),
    ) {
        let config = config();
        let title_length = config.feeds.title_length.get();
        let summary_length = config.feeds.summary_length.get();
        for code in ["fr", "ar", "id"] {
            let lang = config.language(code).expect("a configured language");
            let rows = rows(&articles, code);
            for section in [None, config.section("world")] {
                let feed = kabar::feed::build(&config, lang, section, &rows);
                for item in &feed.items {
                    let titled = item.title.graphemes(true).count();
                    prop_assert!(titled <= title_length && titled > 0, "title {:?}", item.title);
                    prop_assert!(
                        item.summary.graphemes(true).count() <= summary_length,
                        "summary {:?}", item.summary
                    );
                    for (what, s) in [
                        ("title", &item.title),
                        ("summary", &item.summary),
                        ("content", &item.content_html),
                    ] {
                        assert_clean(what, s)?;
                    }
                    for s in item.tags.iter().chain(item.authors.iter().map(|a| &a.name)) {
                        assert_clean("tag or author", s)?;
                    }
                }
                for format in [Format::Rss, Format::Atom, Format::Json] {
                    let bytes = kabar::render::feed(&feed, format, &config)
                        .map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
                    let body = std::str::from_utf8(&bytes)
                        .map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
                    match format {
                        Format::Json => {
                            let json: serde_json::Value = serde_json::from_str(body)
                                .map_err(|e| TestCaseError::fail(format!("JSON: {e}")))?;
                            let items = json["items"].as_array().map_or(0, Vec::len);
                            prop_assert_eq!(items, feed.items.len());
                            for string in strings(&json) {
                                assert_clean("JSON string", string)?;
                            }
                        }
                        _ => {
                            let document = roxmltree::Document::parse(body).map_err(|e| {
                                TestCaseError::fail(format!("{format:?} is not well-formed XML: {e}"))
                            })?;
                            for node in document.descendants() {
                                if let Some(text) = node.text() {
                                    assert_clean("XML text", text)?;
                                }
                                for attribute in node.attributes() {
                                    assert_clean("XML attribute", attribute.value())?;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Every string in a JSON document, keys included.
fn strings(value: &serde_json::Value) -> Vec<&str> {
    match value {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(values) => values.iter().flat_map(strings).collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(key, value)| std::iter::once(key.as_str()).chain(strings(value)))
            .collect(),
        _ => Vec::new(),
    }
}
