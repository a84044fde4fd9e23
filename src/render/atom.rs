//! Atom 1.0 (RFC 4287), written with `atom_syndication`.
//!
//! The feed names the site as its author: RFC 4287 §4.1.1 requires an author on
//! every entry unless the feed has one, many articles have none, and an entry
//! without its own inherits the feed's (§4.2.1). Entries with authors keep theirs.
//!
//! Each entry has exactly one `rel="alternate"` link, its own page: feedparser and
//! newsboat take the last alternate as the item's link, so the original is named
//! with `rel="via"` and the other translations with `rel="related"`.

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};
use atom_syndication::{
    Category, Content, Entry, FixedDateTime, Generator, Link, Person, Text, TextType,
};

use super::{GENERATOR, RenderError};
use crate::config::Config;
use crate::feed::{Feed, Item};
use crate::text;
use crate::urls::Format;

const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
/// RFC 5005's namespace, for `<fh:archive/>`.
const FH_NS: &str = "http://purl.org/syndication/history/1.0";

pub fn render(feed: &Feed, config: &Config) -> Result<Vec<u8>, RenderError> {
    let atom = atom_syndication::Feed {
        title: Text::plain(feed.title.clone()),
        id: feed.id.clone(),
        updated: fixed(feed.updated),
        authors: vec![site_author(config)],
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            uri: None,
            version: None,
        }),
        icon: config.site.icon.as_ref().map(ToString::to_string),
        logo: config.site.logo.as_ref().map(ToString::to_string),
        links: feed_links(feed, config),
        rights: config.site.rights.as_ref().map(|r| Text::plain(r.clone())),
        subtitle: Some(Text::plain(feed.description.clone())),
        categories: feed
            .section
            .iter()
            .map(|s| Category {
                term: s.slug.clone(),
                scheme: None,
                label: Some(s.name.clone()),
            })
            .collect(),
        entries: feed
            .items
            .iter()
            .map(|i| entry(i, &feed.translation_scheme))
            .collect(),
        namespaces: namespaces(feed),
        extensions: archive_marker(feed),
        lang: Some(feed.lang.clone()),
        ..atom_syndication::Feed::default()
    };
    let mut out = Vec::with_capacity(super::capacity(feed));
    atom.write_to(&mut out)?;
    Ok(out)
}

/// The site as a person construct: the author of every entry that names none,
/// in subscription feeds and archives alike.
fn site_author(config: &Config) -> Person {
    Person {
        name: text::xml_safe(&config.site.name).into_owned(),
        email: None,
        uri: Some(config.site.url.to_string()),
        extensions: ExtensionMap::default(),
    }
}

fn namespaces(feed: &Feed) -> BTreeMap<String, String> {
    let mut namespaces = BTreeMap::from([("dc".to_owned(), DC_NS.to_owned())]);
    if feed.history.current.is_some() {
        namespaces.insert("fh".to_owned(), FH_NS.to_owned());
    }
    namespaces
}

/// `<fh:archive/>` tells readers an archive document never gains new entries.
fn archive_marker(feed: &Feed) -> ExtensionMap {
    if feed.history.current.is_none() {
        return ExtensionMap::default();
    }
    let marker = Extension {
        name: "fh:archive".to_owned(),
        ..Extension::default()
    };
    BTreeMap::from([(
        "fh".to_owned(),
        BTreeMap::from([("archive".to_owned(), vec![marker])]),
    )])
}

fn fixed<Tz: chrono::TimeZone>(time: chrono::DateTime<Tz>) -> FixedDateTime {
    time.fixed_offset()
}

fn feed_links(feed: &Feed, config: &Config) -> Vec<Link> {
    let mut links = vec![
        Link {
            href: feed.urls.get(Format::Atom).to_owned(),
            rel: "self".to_owned(),
            mime_type: Some(Format::Atom.media_type().to_owned()),
            ..Link::default()
        },
        Link {
            href: feed.home_url.clone(),
            rel: "alternate".to_owned(),
            mime_type: Some("text/html".to_owned()),
            hreflang: Some(feed.lang.clone()),
            ..Link::default()
        },
    ];
    links.extend(
        crate::urls::hubs(config)
            .into_iter()
            .filter(|_| feed.history.current.is_none())
            .map(|hub| Link {
                href: hub,
                rel: "hub".to_owned(),
                ..Link::default()
            }),
    );
    links.extend(super::preview_link(feed));
    let history = [
        ("current", &feed.history.current),
        ("prev-archive", &feed.history.prev_archive),
        ("next-archive", &feed.history.next_archive),
    ];
    links.extend(history.into_iter().filter_map(|(rel, href)| {
        href.as_ref().map(|href| Link {
            href: href.clone(),
            rel: rel.to_owned(),
            mime_type: Some(Format::Atom.media_type().to_owned()),
            ..Link::default()
        })
    }));
    links
}

fn entry(item: &Item, scheme: &str) -> Entry {
    // Entries have no xml:lang of their own in atom_syndication: put it on the texts.
    let lang = Some(item.lang.clone());
    let mut categories: Vec<Category> = item
        .section
        .iter()
        .map(|s| Category {
            term: s.slug.clone(),
            scheme: None,
            label: Some(s.name.clone()),
        })
        .chain(
            item.tags
                .iter()
                .zip(&item.tag_feeds)
                .map(|(t, feed)| Category {
                    term: t.clone(),
                    // The tag's feed in this language: an IRI, as RFC 4287 wants.
                    scheme: feed.as_ref().map(|f| f.atom.clone()),
                    label: None,
                }),
        )
        .collect();
    categories.push(Category {
        term: item.translation.as_str().to_owned(),
        scheme: Some(scheme.to_owned()),
        label: None,
    });
    Entry {
        title: Text {
            value: item.title.clone(),
            lang: lang.clone(),
            ..Text::default()
        },
        id: item.id.clone(),
        updated: fixed(item.updated),
        published: Some(fixed(item.published)),
        authors: item
            .authors
            .iter()
            .map(|a| Person {
                name: a.name.clone(),
                email: a.email.clone(),
                uri: a.url.as_ref().map(ToString::to_string),
                extensions: ExtensionMap::default(),
            })
            .collect(),
        categories,
        links: entry_links(item),
        summary: Some(Text {
            value: item.summary.clone(),
            lang: lang.clone(),
            r#type: TextType::Text,
            ..Text::default()
        }),
        content: Some(Content {
            value: Some(item.content_html.clone()),
            lang,
            content_type: Some("html".to_owned()),
            ..Content::default()
        }),
        extensions: dc_identifier(item),
        ..Entry::default()
    }
}

fn entry_links(item: &Item) -> Vec<Link> {
    // The item's own page is its one alternate link.
    let mut links = vec![Link {
        href: item.link.clone(),
        rel: "alternate".to_owned(),
        hreflang: Some(item.lang.clone()),
        mime_type: Some("text/html".to_owned()),
        ..Link::default()
    }];
    links.extend(super::language_links(item));
    links.extend(item.image.iter().map(|image| Link {
        href: image.url.to_string(),
        rel: "enclosure".to_owned(),
        mime_type: Some(image.mime_type.clone()),
        length: image.length.map(|l| l.to_string()),
        ..Link::default()
    }));
    links
}

/// `dc:identifier` names the article shared by every language version.
fn dc_identifier(item: &Item) -> ExtensionMap {
    let identifier = Extension {
        name: "dc:identifier".to_owned(),
        value: Some(item.article_uri.clone()),
        ..Extension::default()
    };
    BTreeMap::from([(
        "dc".to_owned(),
        BTreeMap::from([("identifier".to_owned(), vec![identifier])]),
    )])
}
