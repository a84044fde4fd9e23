//! JSON Feed 1.1, serialized with serde.
//!
//! The `_kabar` extension object carries what bots need to treat the language
//! versions of one story as one: the article id, how the text was made, and the
//! original it came from.

use serde::Serialize;

use super::{GENERATOR, RenderError};
use crate::config::Config;
use crate::feed::{Feed, Item};
use crate::urls::Format;

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<&'a str>,
    language: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    _kabar: FeedExtension<'a>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct FeedExtension<'a> {
    generator: &'static str,
    direction: &'static str,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    language: &'a str,
    _kabar: ItemExtension<'a>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct ItemExtension<'a> {
    article_id: &'a str,
    article_uri: &'a str,
    translation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_alt: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    translations: Vec<Translation<'a>>,
}

#[derive(Serialize)]
struct Translation<'a> {
    language: &'a str,
    url: &'a str,
}

pub fn render(feed: &Feed, config: &Config) -> Result<Vec<u8>, RenderError> {
    let json = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &feed.title,
        home_page_url: &feed.home_url,
        feed_url: feed.urls.get(Format::Json),
        description: &feed.description,
        icon: config.site.logo.as_ref().map(url::Url::as_str),
        favicon: config.site.icon.as_ref().map(url::Url::as_str),
        language: &feed.lang,
        hubs: crate::urls::hubs(config)
            .into_iter()
            .map(|hub| Hub {
                kind: "WebSub",
                url: hub,
            })
            .collect(),
        _kabar: FeedExtension {
            generator: GENERATOR,
            direction: feed.direction.as_str(),
            updated: feed.updated.to_rfc3339(),
            section: feed.section.as_ref().map(|s| s.slug.as_str()),
        },
        items: feed.items.iter().map(item).collect(),
    };
    let mut out = Vec::with_capacity(super::capacity(feed));
    serde_json::to_writer(&mut out, &json)?;
    Ok(out)
}

fn item(item: &Item) -> JsonItem<'_> {
    JsonItem {
        id: &item.id,
        url: &item.link,
        title: &item.title,
        content_html: &item.content_html,
        summary: &item.summary,
        image: item.image.as_ref().map(|i| i.url.as_str()),
        date_published: item.published.to_rfc3339(),
        date_modified: item.updated.to_rfc3339(),
        authors: item
            .authors
            .iter()
            .map(|a| Author {
                name: &a.name,
                url: a.url.as_ref().map(url::Url::as_str),
            })
            .collect(),
        tags: item.tags.iter().map(String::as_str).collect(),
        language: &item.lang,
        _kabar: ItemExtension {
            article_id: &item.article_id,
            article_uri: &item.article_uri,
            translation: item.translation.as_str(),
            original_url: item.original.as_ref().map(|o| o.url.as_str()),
            original_language: item.original.as_ref().map(|o| o.lang.as_str()),
            section: item.section.as_ref().map(|s| s.slug.as_str()),
            image_alt: item.image.as_ref().and_then(|i| i.alt.as_deref()),
            translations: item
                .related
                .iter()
                .map(|r| Translation {
                    language: &r.lang,
                    url: &r.url,
                })
                .collect(),
        },
    }
}
