//! RSS 2.0, written with the `rss` crate.
//!
//! The translated-from link is `dc:source` plus an item-level `atom:link
//! rel="via"`; the item's `<link>` is always its own page, because that is what
//! readers open.

use std::collections::BTreeMap;

use atom_syndication::Link;
use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Image};

use super::{GENERATOR, RenderError};
use crate::config::Config;
use crate::feed::{Feed, Item};
use crate::text;
use crate::urls::Format;

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(feed: &Feed, config: &Config) -> Result<Vec<u8>, RenderError> {
    let channel = Channel {
        title: feed.title.clone(),
        link: feed.home_url.clone(),
        description: feed.description.clone(),
        language: Some(feed.lang.clone()),
        copyright: config.site.rights.clone(),
        // RSS dates are RFC 822 with English names whatever the feed's language.
        last_build_date: Some(feed.updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        docs: Some("https://www.rssboard.org/rss-specification".to_owned()),
        ttl: Some(config.feeds.ttl_minutes.to_string()),
        image: config.site.logo.as_ref().map(|logo| Image {
            url: logo.to_string(),
            title: feed.title.clone(),
            link: feed.home_url.clone(),
            ..Image::default()
        }),
        categories: feed
            .section
            .iter()
            .map(|s| Category {
                name: s.name.clone(),
                domain: None,
            })
            .collect(),
        atom_ext: Some(AtomExtension {
            links: channel_links(feed, config),
        }),
        items: feed
            .items
            .iter()
            .map(|i| item(i, &feed.translation_scheme))
            .collect(),
        namespaces: BTreeMap::from([("media".to_owned(), MEDIA_NS.to_owned())]),
        ..Channel::default()
    };
    let mut out = Vec::with_capacity(super::capacity(feed));
    channel.write_to(&mut out)?;
    Ok(out)
}

fn channel_links(feed: &Feed, config: &Config) -> Vec<Link> {
    let mut links = vec![Link {
        href: feed.urls.get(Format::Rss).to_owned(),
        rel: "self".to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Link::default()
    }];
    links.extend(crate::urls::hubs(config).into_iter().map(|hub| Link {
        href: hub,
        rel: "hub".to_owned(),
        ..Link::default()
    }));
    links
}

fn item(item: &Item, scheme: &str) -> rss::Item {
    let mut categories: Vec<Category> = item
        .section
        .iter()
        .map(|s| Category {
            name: s.name.clone(),
            domain: None,
        })
        .chain(item.tags.iter().map(|t| Category {
            name: t.clone(),
            domain: None,
        }))
        .collect();
    categories.push(Category {
        name: item.translation.as_str().to_owned(),
        domain: Some(scheme.to_owned()),
    });
    rss::Item {
        title: Some(item.title.clone()),
        link: Some(item.link.clone()),
        // Readers treat an RSS description as HTML: escape the plain-text summary
        // so "a < b" shows as written.
        description: Some(text::escape_html(&item.summary)),
        categories,
        enclosure: item.image.as_ref().map(|image| Enclosure {
            url: image.url.to_string(),
            length: image.length.unwrap_or(0).to_string(),
            mime_type: image.mime_type.clone(),
        }),
        guid: Some(Guid {
            value: item.id.clone(),
            permalink: false,
        }),
        pub_date: Some(item.published.to_rfc2822()),
        content: Some(item.content_html.clone()),
        extensions: media_content(item),
        atom_ext: Some(AtomExtension {
            links: super::language_links(item).collect(),
        }),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: item.authors.iter().map(|a| a.name.clone()).collect(),
            identifiers: vec![item.article_uri.clone()],
            sources: item.original.iter().map(|o| o.url.clone()).collect(),
            languages: vec![item.lang.clone()],
            ..DublinCoreExtension::default()
        }),
        ..rss::Item::default()
    }
}

/// `media:content` carries what an enclosure cannot: dimensions and alt text.
fn media_content(item: &Item) -> ExtensionMap {
    let Some(image) = &item.image else {
        return ExtensionMap::default();
    };
    let mut attrs = BTreeMap::from([
        ("url".to_owned(), image.url.to_string()),
        ("type".to_owned(), image.mime_type.clone()),
        ("medium".to_owned(), "image".to_owned()),
    ]);
    if let Some(w) = image.width {
        attrs.insert("width".to_owned(), w.to_string());
    }
    if let Some(h) = image.height {
        attrs.insert("height".to_owned(), h.to_string());
    }
    if let Some(length) = image.length {
        attrs.insert("fileSize".to_owned(), length.to_string());
    }
    let mut children = BTreeMap::new();
    if let Some(alt) = &image.alt {
        children.insert(
            "media:description".to_owned(),
            vec![Extension {
                name: "media:description".to_owned(),
                value: Some(alt.clone()),
                ..Extension::default()
            }],
        );
    }
    let content = Extension {
        name: "media:content".to_owned(),
        value: None,
        attrs,
        children,
    };
    BTreeMap::from([(
        "media".to_owned(),
        BTreeMap::from([("content".to_owned(), vec![content])]),
    )])
}
