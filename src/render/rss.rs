//! RSS 2.0, written with the `rss` crate.
//!
//! The translated-from link is `dc:source` plus an item-level `atom:link
//! rel="via"`; the item's `<link>` is always its own page, because that is what
//! readers open.
//!
//! Plain text is written with hexadecimal character references for `&` and `<`
//! (`&#x26;`, `&#x3C;`, and `&#x3E;` for `>`), as the RSS Advisory Board's RSS
//! Profile recommends: RSS never said which elements besides an item's
//! description may hold HTML, so readers treat their text differently, some
//! decoding it a second time, and this is the form that reads right in the
//! most of them. See [`hex_references`].

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
    let mut out = Vec::with_capacity(super::capacity(feed));
    channel(feed, config).write_to(&mut out)?;
    Ok(hex_references(&out))
}

/// The channel as the `rss` crate models it, before [`hex_references`].
fn channel(feed: &Feed, config: &Config) -> Channel {
    Channel {
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
    }
}

/// `xml` with every `&amp;`, `&lt;` and `&gt;` written `&#x26;`, `&#x3C;` and
/// `&#x3E;`, in text and attribute values outside CDATA sections: the same
/// characters to any XML parser, in the form the RSS Profile recommends.
///
/// The `rss` crate escapes text with named entities and has no option for
/// another form, so its output is rewritten. That is sound because the input is
/// the crate's own well-formed output, with no comments, processing instructions
/// after the declaration, or DOCTYPE: outside CDATA, a `&` always starts a
/// reference and `<![CDATA[` always starts a section. Inside a section the
/// bytes are literal (an `&amp;` there is text, e.g. in escaped HTML) and are
/// copied as they are.
fn hex_references(xml: &[u8]) -> Vec<u8> {
    const CDATA_OPEN: &[u8] = b"<![CDATA[";
    const CDATA_CLOSE: &[u8] = b"]]>";
    // Each rewrite adds one or two bytes; most feeds have few.
    let mut out = Vec::with_capacity(xml.len() + xml.len() / 64);
    let mut rest = xml;
    while let Some(at) = memchr::memchr2(b'&', b'<', rest) {
        let (before, from) = rest.split_at(at);
        out.extend_from_slice(before);
        let taken = if from.starts_with(b"&amp;") {
            out.extend_from_slice(b"&#x26;");
            b"&amp;".len()
        } else if from.starts_with(b"&lt;") {
            out.extend_from_slice(b"&#x3C;");
            b"&lt;".len()
        } else if from.starts_with(b"&gt;") {
            out.extend_from_slice(b"&#x3E;");
            b"&gt;".len()
        } else if from.starts_with(CDATA_OPEN) {
            // Through the end of the section, or to the end if it has none.
            let end = memchr::memmem::find(&from[CDATA_OPEN.len()..], CDATA_CLOSE)
                .map_or(from.len(), |i| CDATA_OPEN.len() + i + CDATA_CLOSE.len());
            out.extend_from_slice(&from[..end]);
            end
        } else {
            out.push(from[0]);
            1
        };
        rest = &from[taken..];
    }
    out.extend_from_slice(rest);
    out
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
    links.extend(super::preview_link(feed));
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
        .chain(
            item.tags
                .iter()
                .zip(&item.tag_feeds)
                .map(|(t, feed)| Category {
                    name: t.clone(),
                    // The tag's feed in this language.
                    domain: feed.as_ref().map(|f| f.rss.clone()),
                }),
        )
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::app::{self, Seed};
    use crate::store::ArticleStore;

    /// `xml` with its CDATA sections left out, for what the rewrite may change.
    fn outside_cdata(xml: &str) -> String {
        let mut out = String::new();
        let mut rest = xml;
        while let Some(start) = rest.find("<![CDATA[") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("]]>").expect("a closed section");
            rest = &rest[start + end + 3..];
        }
        out.push_str(rest);
        out
    }

    /// Every node of `xml` as an XML parser reports it: kind, name, attributes, text.
    fn nodes(xml: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        doc.descendants()
            .map(|n| {
                let attributes: Vec<String> = n
                    .attributes()
                    .map(|a| format!("{:?} {}={:?}", a.namespace(), a.name(), a.value()))
                    .collect();
                format!(
                    "{:?} {:?} {:?} [{}] {:?}",
                    n.node_type(),
                    n.tag_name().namespace(),
                    n.tag_name().name(),
                    attributes.join(", "),
                    n.text()
                )
            })
            .collect()
    }

    #[test]
    fn named_references_become_hex_references_outside_cdata_only() {
        let xml = "<a b=\"x&amp;y&lt;z\">t &amp; u &lt; v &gt; w &quot; &#39;\
                   <![CDATA[&amp; &lt; <b>]]]]><![CDATA[>]]>&amp;lt;</a>";
        let rewritten = hex_references(xml.as_bytes());
        assert_eq!(
            String::from_utf8(rewritten).unwrap(),
            "<a b=\"x&#x26;y&#x3C;z\">t &#x26; u &#x3C; v &#x3E; w &quot; &#39;\
             <![CDATA[&amp; &lt; <b>]]]]><![CDATA[>]]>&#x26;lt;</a>"
        );
        let rewritten = String::from_utf8(hex_references(xml.as_bytes())).unwrap();
        assert_eq!(nodes(&rewritten), nodes(xml));
        let doc = roxmltree::Document::parse(&rewritten).unwrap();
        assert_eq!(doc.root_element().attribute("b"), Some("x&y<z"));
        assert_eq!(
            doc.root_element().text(),
            Some("t & u < v > w \" '&amp; &lt; <b>]]>&lt;")
        );
    }

    #[test]
    fn text_without_named_references_is_copied_as_it_is() {
        for xml in [
            "",
            "<a/>",
            "<a>1 &#62; 0</a>",
            "<a><![CDATA[&amp;",
            "&",
            "<",
        ] {
            assert_eq!(hex_references(xml.as_bytes()), xml.as_bytes(), "{xml}");
        }
    }

    /// Every demo feed, rewritten, reads as the `rss` crate wrote it, to an XML
    /// parser and to a feed reader's parser, and has no `&amp;`, `&lt;` or
    /// `&gt;` left outside CDATA.
    #[tokio::test]
    async fn the_demo_feeds_read_the_same_after_the_rewrite() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&repo.join("feeds.toml")).expect("feeds.toml");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = app::open_sqlite(&config, Some(&dir.path().join("s.sqlite")), Seed::IfCreated)
            .await
            .expect("the demo store");
        let mut rewritten_some = 0;
        for lang in &config.languages {
            for section in std::iter::once(None).chain(config.sections.iter().map(Some)) {
                let rows = store
                    .feed_rows(crate::feed::query(&config, lang, section))
                    .await
                    .expect("rows");
                let feed = crate::feed::build(&config, lang, section, &rows);
                let mut before = Vec::new();
                channel(&feed, &config).write_to(&mut before).unwrap();
                let before = String::from_utf8(before).unwrap();
                let after = String::from_utf8(render(&feed, &config).unwrap()).unwrap();
                let name = format!("{} {:?}", lang.code(), section.map(|s| s.slug()));

                let plain = outside_cdata(&after);
                for named in ["&amp;", "&lt;", "&gt;"] {
                    assert!(!plain.contains(named), "{name}: {named}");
                }
                assert_eq!(nodes(&after), nodes(&before), "{name}");
                assert_eq!(
                    feed_rs::parser::parse(after.as_bytes()).unwrap(),
                    feed_rs::parser::parse(before.as_bytes()).unwrap(),
                    "{name}"
                );
                if after != before {
                    rewritten_some += 1;
                }
            }
        }
        // Not a vacuous check: the demo's "&" and "<" stories are in every
        // language's feed and its technology and business feeds.
        assert!(rewritten_some >= 6 * 3, "{rewritten_some} feeds rewritten");
    }
}
