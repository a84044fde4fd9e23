//! What subscribers receive: every feed route answers with a feed an independent
//! parser reads, and the items follow the contract's rules on real, messy text.

mod common;

use std::collections::BTreeMap;

use common::{AUTH, Site, assert_well_formed_xml, parse_feed, repo, start};
use hyper::StatusCode;
use kabar::article::{Article, BodyFormat, Translation};
use kabar::text;
use unicode_segmentation::UnicodeSegmentation;

const LANGS: [&str; 6] = ["id", "en", "zh", "ja", "ar", "fr"];
const SECTIONS: [&str; 5] = ["national", "world", "business", "technology", "sports"];
const FILES: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];

/// Demo articles with a version in `lang` (and `section`), in feed order.
fn expected_order(articles: &[Article], lang: &str, section: Option<&str>) -> Vec<String> {
    let mut ids: Vec<(&Article, &str)> = articles
        .iter()
        .filter(|a| a.versions.contains_key(lang))
        .filter(|a| section.is_none() || a.section.as_deref() == section)
        .map(|a| (a, a.id.as_str()))
        .collect();
    ids.sort_by(|(a, _), (b, _)| b.published.cmp(&a.published).then(a.id.cmp(&b.id)));
    ids.into_iter()
        .take(50)
        .map(|(_, id)| id.to_owned())
        .collect()
}

fn item_id(lang: &str, article: &str) -> String {
    format!("tag:kabar.example,2026:{lang}/{article}")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_language_section_and_format_answers_with_a_parsable_feed() {
    let server = start().await;
    let articles = common::demo_articles();
    let mut checked = 0;
    for lang in LANGS {
        for section in std::iter::once(None).chain(SECTIONS.map(Some)) {
            let expected = expected_order(&articles, lang, section);
            for file in FILES {
                let path = match section {
                    Some(s) => format!("/{lang}/{s}/{file}"),
                    None => format!("/{lang}/{file}"),
                };
                let res = server.get(&path).await;
                assert_eq!(res.status, StatusCode::OK, "{path}");
                if file.ends_with(".xml") {
                    assert_well_formed_xml(&res.body);
                } else {
                    serde_json::from_slice::<serde_json::Value>(&res.body).expect("JSON");
                }
                let feed = parse_feed(&res.body);
                assert_eq!(feed.language.as_deref(), Some(lang), "{path}");
                let ids: Vec<String> = feed.entries.iter().map(|e| e.id.clone()).collect();
                let want: Vec<String> = expected.iter().map(|id| item_id(lang, id)).collect();
                assert_eq!(ids, want, "{path}: items newest first, ties by id");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 6 * 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn opml_and_index_list_every_feed() {
    let server = start().await;
    let opml = server.get("/feeds.opml").await;
    assert_well_formed_xml(&opml.body);
    let text = opml.text();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let urls: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("xmlUrl"))
        .collect();
    assert_eq!(urls.len(), 6 * 6 * 3);
    assert!(urls.contains(&"http://127.0.0.1:8080/ar/sports/feed.json"));

    let index = server.get("/").await.text();
    let links = index.matches("<link rel=\"alternate\"").count();
    assert_eq!(links, 6 * 6 * 3);
    assert!(
        index.contains("<section lang=\"ar\" dir=\"rtl\">"),
        "Arabic is laid out right to left"
    );
    assert!(index.contains("العربية") && index.contains("日本語") && index.contains("中文"));
    assert!(index.contains("type=\"application/atom+xml\" hreflang=\"fr\""));
    server.stop().await;
}

/// The bytes of `xml` outside its CDATA sections.
fn outside_cdata(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("]]>").expect("a closed CDATA section");
        rest = &rest[start + end + 3..];
    }
    out.push_str(rest);
    out
}

/// Item id → title, as an XML parser reads them from an RSS or Atom document.
fn titles(xml: &str) -> BTreeMap<String, String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("item") || n.has_tag_name("entry"))
        .map(|item| {
            let child = |names: [&str; 2]| {
                item.children()
                    .find(|c| names.iter().any(|name| c.has_tag_name(*name)))
                    .and_then(|c| c.text())
                    .unwrap_or("")
                    .to_owned()
            };
            (child(["guid", "id"]), child(["title", "title"]))
        })
        .collect()
}

/// RSS plain text carries `&`, `<` and `>` as `&#x26;`, `&#x3C;` and `&#x3E;`
/// (the RSS Profile's form), and reads as the same text as the Atom feed,
/// which keeps the named entities.
#[tokio::test(flavor = "multi_thread")]
async fn rss_writes_hex_references_in_plain_text_and_reads_as_before() {
    let server = start().await;
    for lang in LANGS {
        let rss = server.get(&format!("/{lang}/rss.xml")).await.text();
        let plain = outside_cdata(&rss);
        for named in ["&amp;", "&lt;", "&gt;"] {
            assert!(!plain.contains(named), "/{lang}/rss.xml: {named}");
        }
        for hex in ["&#x26;", "&#x3C;", "&#x3E;"] {
            assert!(plain.contains(hex), "/{lang}/rss.xml: {hex}");
        }
        let atom = server.get(&format!("/{lang}/atom.xml")).await.text();
        assert!(atom.contains("&amp;") && atom.contains("&lt;"));
        let (rss_titles, atom_titles) = (titles(&rss), titles(&atom));
        assert!(
            rss_titles
                .values()
                .any(|t| t.contains('&') && t.contains('<'))
        );
        assert_eq!(rss_titles, atom_titles, "/{lang}");
    }
    server.stop().await;
}

/// What the OPML list must be for the W3C validator and readers' importers: a
/// head of title and owner (no `docs`), language folders with only `text`, and
/// `version` on RSS outlines only, since OPML defines values for RSS alone.
#[tokio::test(flavor = "multi_thread")]
async fn opml_folders_are_text_only_and_only_rss_outlines_carry_a_version() {
    let server = start().await;
    let text = server.get("/feeds.opml").await.text();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let opml = doc.root_element();
    let head = opml.children().find(|n| n.has_tag_name("head")).unwrap();
    let head: Vec<&str> = head
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(head, ["title", "ownerId"]);

    let body = opml.children().find(|n| n.has_tag_name("body")).unwrap();
    let folders: Vec<roxmltree::Node> = body.children().filter(|n| n.is_element()).collect();
    assert_eq!(folders.len(), LANGS.len());
    let mut feeds = 0;
    for folder in folders {
        let names: Vec<&str> = folder.attributes().map(|a| a.name()).collect();
        assert_eq!(names, ["text"], "a language folder has only its name");
        for outline in folder.children().filter(|n| n.is_element()) {
            let url = outline.attribute("xmlUrl").unwrap();
            let title = outline.attribute("text").unwrap();
            assert_eq!(outline.attribute("type"), Some("rss"), "{url}");
            assert_eq!(outline.attribute("title"), Some(title), "{url}");
            let (version, label) = match url.rsplit('/').next().unwrap() {
                "rss.xml" => (Some("RSS2"), " (RSS)"),
                "atom.xml" => (None, " (Atom)"),
                "feed.json" => (None, " (JSON Feed)"),
                other => panic!("unexpected feed file {other}"),
            };
            assert_eq!(outline.attribute("version"), version, "{url}");
            assert!(title.ends_with(label), "{title:?} for {url}");
            feeds += 1;
        }
    }
    assert_eq!(feeds, 6 * 6 * 3);

    let index = server.get("/").await.text();
    assert!(index.contains("title=\"Kabar Nusantara (Atom)\""));
    assert!(index.contains("title=\"Kabar Nusantara (JSON Feed)\""));
    assert!(!index.contains("(ATOM)") && !index.contains("(JSON)"));
    server.stop().await;
}

/// The site as a feed reader's parser sees it in an Atom feed.
fn site_author() -> feed_rs::model::Person {
    feed_rs::model::Person {
        name: "Kabar Nusantara".to_owned(),
        uri: Some("https://kabar.example/".to_owned()),
        email: None,
    }
}

/// RFC 4287 §4.2.1: an entry without an author has its feed's.
fn entry_authors<'a>(
    feed: &'a feed_rs::model::Feed,
    entry: &'a feed_rs::model::Entry,
) -> Vec<&'a str> {
    let authors = if entry.authors.is_empty() {
        &feed.authors
    } else {
        &entry.authors
    };
    authors.iter().map(|a| a.name.as_str()).collect()
}

/// Every Atom feed names the site as its author (RFC 4287 §4.1.1 wants an
/// author for each entry); entries of articles without authors inherit it,
/// and entries with their own keep exactly those.
#[tokio::test(flavor = "multi_thread")]
async fn atom_feeds_name_the_site_as_author_for_entries_without_one() {
    let server = start().await;
    let articles = common::demo_articles();
    let authorless: Vec<&Article> = articles.iter().filter(|a| a.authors.is_empty()).collect();
    assert!(
        authorless.len() >= 2,
        "the demo has articles without authors"
    );
    let mut inherited = 0;
    for lang in LANGS {
        for section in std::iter::once(None).chain(SECTIONS.map(Some)) {
            let path = match section {
                Some(s) => format!("/{lang}/{s}/atom.xml"),
                None => format!("/{lang}/atom.xml"),
            };
            let feed = parse_feed(&server.get(&path).await.body);
            assert_eq!(feed.authors, [site_author()], "{path}");
            for entry in &feed.entries {
                let article = articles
                    .iter()
                    .find(|a| item_id(lang, &a.id) == entry.id)
                    .expect("a demo article");
                let want: Vec<&str> = if article.authors.is_empty() {
                    inherited += 1;
                    assert!(entry.authors.is_empty(), "{path} {}", entry.id);
                    vec!["Kabar Nusantara"]
                } else {
                    article.authors.iter().map(|a| a.name.as_str()).collect()
                };
                assert_eq!(entry_authors(&feed, entry), want, "{path} {}", entry.id);
            }
        }
    }
    assert!(inherited > 0);
    server.stop().await;
}

/// Archives are Atom feeds too: an old article without authors, alone in its
/// month's archive, inherits the site.
#[tokio::test(flavor = "multi_thread")]
async fn archive_entries_without_authors_inherit_the_site() {
    let server = Site::new().serve_api().await;
    let article = serde_json::json!({
        "id": "arsip-tanpa-penulis",
        "section": "national",
        "published": "2026-10-15T10:00:00+07:00",
        "versions": {
            "id": {"translation": "original", "title": "Berita Oktober", "body": "Isi berita."},
            "fr": {"translation": "machine", "title": "Nouvelles d’octobre", "body": "Le texte."}
        }
    });
    let res = common::send(
        server.addr,
        "PUT",
        "/api/v1/articles/arsip-tanpa-penulis",
        &[AUTH, ("content-type", "application/json")],
        article.to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    let res = server.get("/fr/archive/2026-10/atom.xml").await;
    assert_eq!(res.status, StatusCode::OK);
    let feed = parse_feed(&res.body);
    assert_eq!(feed.authors, [site_author()]);
    assert_eq!(feed.entries.len(), 1);
    assert!(feed.entries[0].authors.is_empty());
    assert_eq!(entry_authors(&feed, &feed.entries[0]), ["Kabar Nusantara"]);
    server.stop().await;
}

/// The French machine translation of the sample: no title, a stray "Partager:",
/// a pasted English disclaimer.
#[tokio::test(flavor = "multi_thread")]
async fn the_untitled_french_translation_becomes_a_clean_item() {
    let server = start().await;
    let id = item_id("fr", "biden-putin-phone-call");
    let original = "https://kabar.example/world/biden-putin-phone-call";
    let own_page = "https://kabar.example/fr/world/biden-putin-phone-call";

    let atom = server.get("/fr/atom.xml").await;
    let feed = parse_feed(&atom.body);
    let entry = feed
        .entries
        .iter()
        .find(|e| e.id == id)
        .expect("the French item");
    let title = &entry.title.as_ref().unwrap().content;
    assert!(
        title.starts_with("Le président américain Joe Biden"),
        "{title}"
    );
    assert!(title.graphemes(true).count() <= 110, "{title}");
    assert!(
        title.ends_with('…'),
        "a long first sentence is cut: {title}"
    );
    let summary = &entry.summary.as_ref().unwrap().content;
    assert!(summary.starts_with("Le président américain"), "{summary}");
    assert!(!summary.contains("Partager"), "{summary}");
    assert!(!summary.contains("automatically generated"), "{summary}");
    let content = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap();
    assert!(!content.contains("Partager:"));
    assert!(
        !content.contains("DigitalSiber"),
        "the pasted disclaimer is gone"
    );
    assert!(content.contains("Cet article a été traduit automatiquement de l’indonésien"));
    assert!(content.contains(&format!(
        "<a href=\"{original}\" hreflang=\"id\">Lire l’original en indonésien</a>"
    )));

    let rels: Vec<(Option<&str>, &str)> = entry
        .links
        .iter()
        .map(|l| (l.rel.as_deref(), l.href.as_str()))
        .collect();
    assert!(rels.contains(&(Some("via"), original)), "{rels:?}");
    let alternates: Vec<&str> = rels
        .iter()
        .filter(|(rel, _)| matches!(rel, None | Some("alternate")))
        .map(|(_, href)| *href)
        .collect();
    assert_eq!(
        alternates,
        [own_page],
        "the item's only alternate is its own page"
    );

    let rss = server.get("/fr/rss.xml").await;
    let text = rss.text();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let item = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("item")
                && n.children()
                    .any(|c| c.has_tag_name("guid") && c.text() == Some(id.as_str()))
        })
        .expect("the RSS item");
    let child = |name: &str, ns: &str| {
        item.children()
            .find(|c| c.tag_name().name() == name && c.tag_name().namespace() == Some(ns))
    };
    let link = item
        .children()
        .find(|c| c.tag_name().name() == "link" && c.tag_name().namespace().is_none());
    assert_eq!(link.and_then(|n| n.text()), Some(own_page));
    let source = child("source", "http://purl.org/dc/elements/1.1/").and_then(|n| n.text());
    assert_eq!(source, Some(original));
    let via = item
        .children()
        .find(|c| {
            c.tag_name().namespace() == Some("http://www.w3.org/2005/Atom")
                && c.attribute("rel") == Some("via")
        })
        .expect("atom:link rel=via");
    assert_eq!(via.attribute("href"), Some(original));
    let guid = item.children().find(|c| c.has_tag_name("guid")).unwrap();
    assert_eq!(guid.attribute("isPermaLink"), Some("false"));

    let json: serde_json::Value =
        serde_json::from_slice(&server.get("/fr/feed.json").await.body).unwrap();
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap();
    assert_eq!(item["url"], own_page);
    assert_eq!(item["_kabar"]["original_url"], original);
    assert_eq!(item["_kabar"]["original_language"], "id");
    assert_eq!(item["_kabar"]["translation"], "machine");
    assert_eq!(item["_kabar"]["article_id"], "biden-putin-phone-call");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chinese_and_japanese_text_is_cut_between_characters() {
    let server = start().await;
    let articles = common::demo_articles();
    for lang in ["zh", "ja"] {
        let json: serde_json::Value =
            serde_json::from_slice(&server.get(&format!("/{lang}/feed.json")).await.body).unwrap();
        let mut cut = 0;
        for item in json["items"].as_array().unwrap() {
            let summary = item["summary"].as_str().unwrap();
            assert!(summary.graphemes(true).count() <= 280, "{summary}");
            let Some(kept) = summary.strip_suffix('…') else {
                continue;
            };
            cut += 1;
            let article = articles
                .iter()
                .find(|a| a.id == item["_kabar"]["article_id"])
                .unwrap();
            let version = &article.versions[lang];
            let source = match &version.summary {
                Some(s) => text::plain_text(s),
                None => text::fold_whitespace(&body_text(version.body.as_str(), version.format)),
            };
            assert!(
                source.starts_with(kept),
                "{lang}: {kept:?} is a prefix of the text"
            );
            let last = kept.chars().last().unwrap();
            assert!(!last.is_whitespace(), "{kept:?}");
        }
        assert!(cut > 0, "{lang}: some summaries are long enough to be cut");
        // Derived titles of untitled versions are cut on characters too.
        let untitled: Vec<&Article> = articles
            .iter()
            .filter(|a| a.versions.get(lang).is_some_and(|v| v.title.is_none()))
            .collect();
        assert!(
            !untitled.is_empty(),
            "{lang}: the demo has an untitled version"
        );
        for article in untitled {
            let item = json["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["_kabar"]["article_id"] == article.id.as_str());
            let Some(item) = item else { continue };
            let title = item["title"].as_str().unwrap();
            assert!(
                !title.is_empty() && title.graphemes(true).count() <= 110,
                "{title}"
            );
            let body = text::fold_whitespace(&body_text(
                &article.versions[lang].body,
                article.versions[lang].format,
            ));
            assert!(body.starts_with(title.trim_end_matches('…')), "{title:?}");
        }
    }
    server.stop().await;
}

fn body_text(body: &str, format: BodyFormat) -> String {
    let config = kabar::Config::parse(
        &std::fs::read_to_string(repo().join("feeds.toml")).unwrap(),
        "feeds.toml",
    )
    .unwrap();
    let labels: Vec<String> = config
        .boilerplate
        .strip_labels
        .iter()
        .chain(config.languages.iter().flat_map(|l| &l.strip_labels))
        .cloned()
        .collect();
    let prefixes: Vec<String> = config.boilerplate.strip_prefixes.clone();
    text::clean_body(
        body,
        format.into(),
        &text::Boilerplate::new(&labels, &prefixes),
        None,
    )
    .text
}

fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_are_removed_and_markup_characters_survive() {
    let server = start().await;
    let articles = common::demo_articles();
    let with_controls: Vec<&Article> = articles
        .iter()
        .filter(|a| {
            a.versions.values().any(|v| {
                v.body.chars().any(forbidden)
                    || v.title.as_deref().is_some_and(|t| t.chars().any(forbidden))
            })
        })
        .collect();
    assert!(
        !with_controls.is_empty(),
        "the demo holds raw control characters"
    );
    for lang in LANGS {
        for file in FILES {
            let body = server.get(&format!("/{lang}/{file}")).await.text();
            assert!(
                !body.chars().any(forbidden),
                "/{lang}/{file} has a forbidden character"
            );
            assert!(
                !body.contains("[0m"),
                "/{lang}/{file} shows a terminal escape sequence"
            );
        }
    }

    let tricky = articles
        .iter()
        .find(|a| {
            a.versions["id"]
                .title
                .as_deref()
                .is_some_and(|t| t.contains("]]>") && t.contains('&') && t.contains('<'))
        })
        .expect("a demo title with ]]>, & and <");
    let want = text::fold_whitespace(tricky.versions["id"].title.as_deref().unwrap());
    for file in FILES {
        let res = server.get(&format!("/id/{file}")).await;
        let feed = parse_feed(&res.body);
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id == item_id("id", &tricky.id))
            .expect("item");
        assert_eq!(entry.title.as_ref().unwrap().content, want, "{file}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_and_event_handlers_never_reach_a_feed() {
    let server = start().await;
    let articles = common::demo_articles();
    let scripted: Vec<&Article> = articles
        .iter()
        .filter(|a| {
            a.versions
                .values()
                .any(|v| v.format == BodyFormat::Html && v.body.contains("<script"))
        })
        .collect();
    assert!(
        !scripted.is_empty(),
        "the demo has an HTML body with a script"
    );
    for article in scripted {
        for lang in article.versions.keys() {
            let json: serde_json::Value =
                serde_json::from_slice(&server.get(&format!("/{lang}/feed.json")).await.body)
                    .unwrap();
            let Some(item) = json["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["_kabar"]["article_id"] == article.id.as_str())
            else {
                continue;
            };
            let html = item["content_html"].as_str().unwrap();
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.to_lowercase().contains("onclick"), "{html}");
            assert!(!html.contains("javascript:"), "{html}");
            assert!(
                html.contains("<p>") || html.contains("<p "),
                "ordinary markup stays: {html}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn translated_items_link_back_and_to_their_siblings() {
    let server = start().await;
    let articles: BTreeMap<String, Article> = common::demo_articles()
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    for lang in ["en", "zh", "ja", "ar", "fr"] {
        let feed = parse_feed(&server.get(&format!("/{lang}/atom.xml")).await.body);
        assert!(!feed.entries.is_empty());
        for entry in &feed.entries {
            let article_id = entry.id.rsplit('/').next().unwrap();
            let article = &articles[article_id];
            let version = &article.versions[lang];
            assert_ne!(version.translation, Translation::Original);
            let alternates: Vec<&str> = entry
                .links
                .iter()
                .filter(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
                .map(|l| l.href.as_str())
                .collect();
            assert_eq!(alternates.len(), 1, "{}", entry.id);
            assert!(
                alternates[0].contains(&format!("/{lang}/")),
                "{}",
                alternates[0]
            );
            let via: Vec<_> = entry
                .links
                .iter()
                .filter(|l| l.rel.as_deref() == Some("via"))
                .collect();
            assert_eq!(via.len(), 1);
            assert_eq!(via[0].href_lang.as_deref(), Some("id"));
            let related: Vec<&str> = entry
                .links
                .iter()
                .filter(|l| l.rel.as_deref() == Some("related"))
                .filter_map(|l| l.href_lang.as_deref())
                .collect();
            let mut siblings: Vec<&str> = article
                .versions
                .keys()
                .map(String::as_str)
                .filter(|l| *l != lang && *l != "id")
                .collect();
            siblings.sort_unstable();
            assert_eq!(related, siblings, "{}", entry.id);
        }
    }
    // Arabic content is marked right to left.
    let json: serde_json::Value =
        serde_json::from_slice(&server.get("/ar/feed.json").await.body).unwrap();
    for item in json["items"].as_array().unwrap() {
        assert!(
            item["content_html"]
                .as_str()
                .unwrap()
                .starts_with("<div lang=\"ar\" dir=\"rtl\">")
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_store_renders_the_same_bytes() {
    let server = start().await;
    let site = server.site();
    let second = common::serve(
        std::sync::Arc::new(site.config()),
        std::sync::Arc::new(site.store().await),
    )
    .await;
    for path in [
        "/fr/rss.xml",
        "/ja/atom.xml",
        "/ar/world/feed.json",
        "/feeds.opml",
        "/",
    ] {
        for encoding in ["identity", "gzip", "br"] {
            let a = server
                .get_with(path, &[("accept-encoding", encoding)])
                .await;
            let b = second
                .get_with(path, &[("accept-encoding", encoding)])
                .await;
            assert_eq!(a.body, b.body, "{path} {encoding}");
            assert_eq!(a.header("etag"), b.header("etag"), "{path} {encoding}");
            assert_eq!(
                a.header("last-modified"),
                b.header("last-modified"),
                "{path}"
            );
        }
    }
    second.stop().await;
    server.stop().await;
}
