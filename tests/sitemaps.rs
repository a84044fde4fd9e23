//! News sitemaps over real HTTP: `/{lang}/news-sitemap.xml` lists the
//! language's articles of the last 48 hours with Google's news fields and
//! hreflang alternates, `/sitemap.xml` indexes them, writes and the clock
//! change them; and an independent reader, ultimate-sitemap-parser, reads
//! back what was written while lxml checks every document against the
//! sitemap, news and xhtml:link schemas (tests/data/sitemaps).

mod common;

use std::process::Command;

use chrono::{Duration, FixedOffset, SecondsFormat, Utc};
use common::{AUTH, DEADLINE, Site, eventually, put_article as put, send};
use hyper::StatusCode;
use roxmltree::{Document, Node};
use serde_json::{Value, json};

const SITEMAP: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const NEWS: &str = "http://www.google.com/schemas/sitemap-news/0.9";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// `ago` before now, to the second, as the newsroom writes it (Jakarta time,
/// the site's zone, so the sitemap writes it back the same).
fn published(ago: Duration) -> String {
    let jakarta = FixedOffset::east_opt(7 * 3600).expect("offset");
    (Utc::now() - ago)
        .with_timezone(&jakarta)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An article in technology, published `ago` before now, in Indonesian and
/// the machine translations `langs`.
fn article(id: &str, ago: Duration, langs: &[&str]) -> Value {
    let mut versions = json!({
        "id": {"translation": "original", "title": format!("Judul {id}"), "body": "Paragraf pertama."}
    });
    for lang in langs {
        versions[*lang] = json!({
            "translation": "machine",
            "title": format!("Titre {id} ({lang}) & <co>"),
            "body": "Premier paragraphe."
        });
    }
    json!({
        "id": id,
        "section": "technology",
        "published": published(ago),
        "tags": ["Uji"],
        "versions": versions
    })
}

fn page(lang: &str, id: &str) -> String {
    match lang {
        "id" => format!("https://kabar.example/technology/{id}"),
        _ => format!("https://kabar.example/{lang}/technology/{id}"),
    }
}

fn child<'a>(node: Node<'a, 'a>, ns: &str, name: &str) -> Node<'a, 'a> {
    node.children()
        .find(|n| n.has_tag_name((ns, name)))
        .unwrap_or_else(|| panic!("no {name} in {:?}", node.tag_name()))
}

fn text<'a>(node: Node<'a, 'a>, ns: &str, name: &str) -> &'a str {
    child(node, ns, name).text().unwrap_or_default()
}

/// One `<url>` of a news sitemap, as plain values.
#[derive(Debug, PartialEq)]
struct Entry {
    loc: String,
    alternates: Vec<(String, String)>,
    name: String,
    language: String,
    date: String,
    title: String,
}

fn entries(body: &[u8]) -> Vec<Entry> {
    let xml = std::str::from_utf8(body).expect("UTF-8");
    let doc = Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert!(root.has_tag_name((SITEMAP, "urlset")), "{xml}");
    root.children()
        .filter(|n| n.has_tag_name((SITEMAP, "url")))
        .map(|url| {
            let news = child(url, NEWS, "news");
            let publication = child(news, NEWS, "publication");
            Entry {
                loc: text(url, SITEMAP, "loc").to_owned(),
                alternates: url
                    .children()
                    .filter(|n| n.has_tag_name((XHTML, "link")))
                    .map(|l| {
                        assert_eq!(l.attribute("rel"), Some("alternate"));
                        (
                            l.attribute("hreflang").unwrap_or_default().to_owned(),
                            l.attribute("href").unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                name: text(publication, NEWS, "name").to_owned(),
                language: text(publication, NEWS, "language").to_owned(),
                date: text(news, NEWS, "publication_date").to_owned(),
                title: text(news, NEWS, "title").to_owned(),
            }
        })
        .collect()
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(l, u)| ((*l).to_owned(), u.clone()))
        .collect()
}

#[tokio::test]
async fn a_news_sitemap_lists_the_last_two_days_newest_first_with_every_language_version() {
    let server = Site::new().serve_api().await;
    let fresh = article("baru", Duration::hours(1), &["en", "fr", "zh"]);
    let older = article("kemarin", Duration::hours(30), &["fr"]);
    let stale = article("lusa", Duration::hours(49), &["en", "fr"]);
    for a in [&stale, &older, &fresh] {
        put(&server, a).await;
    }

    let res = server.get("/fr/news-sitemap.xml").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let got = entries(&res.body);
    let expected = vec![
        Entry {
            loc: page("fr", "baru"),
            alternates: pairs(&[
                ("fr", page("fr", "baru")),
                ("id", page("id", "baru")),
                ("en", page("en", "baru")),
                ("zh", page("zh", "baru")),
                ("x-default", page("id", "baru")),
            ]),
            name: "Kabar Nusantara".into(),
            language: "fr".into(),
            date: fresh["published"].as_str().unwrap().to_owned(),
            title: "Titre baru (fr) & <co>".into(),
        },
        Entry {
            loc: page("fr", "kemarin"),
            alternates: pairs(&[
                ("fr", page("fr", "kemarin")),
                ("id", page("id", "kemarin")),
                ("x-default", page("id", "kemarin")),
            ]),
            name: "Kabar Nusantara".into(),
            language: "fr".into(),
            date: older["published"].as_str().unwrap().to_owned(),
            title: "Titre kemarin (fr) & <co>".into(),
        },
    ];
    assert_eq!(got, expected);

    // The original's sitemap: its own page is the default, the translations
    // its alternates; Chinese is named as Google News names it.
    let id = entries(&server.get("/id/news-sitemap.xml").await.body);
    assert_eq!(id[0].loc, page("id", "baru"));
    assert_eq!(id[0].language, "id");
    assert_eq!(
        id[0].alternates.last(),
        Some(&("x-default".to_owned(), page("id", "baru")))
    );
    let zh = entries(&server.get("/zh/news-sitemap.xml").await.body);
    assert_eq!(zh.len(), 1);
    assert_eq!(zh[0].language, "zh-cn");
    // A language with nothing in the window has an empty, valid sitemap.
    assert_eq!(
        entries(&server.get("/ja/news-sitemap.xml").await.body),
        vec![]
    );
    assert_eq!(
        server.get("/xx/news-sitemap.xml").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_sitemap_index_lists_every_language_with_its_newest_change() {
    let server = Site::new().serve_api().await;
    let fresh = article("indeks", Duration::hours(2), &["fr"]);
    put(&server, &fresh).await;

    let res = server.get("/sitemap.xml").await;
    assert_eq!(res.status, StatusCode::OK);
    let xml = res.text();
    let doc = Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert!(root.has_tag_name((SITEMAP, "sitemapindex")), "{xml}");
    let listed: Vec<(String, Option<String>)> = root
        .children()
        .filter(|n| n.has_tag_name((SITEMAP, "sitemap")))
        .map(|s| {
            let lastmod = s
                .children()
                .find(|n| n.has_tag_name((SITEMAP, "lastmod")))
                .and_then(|n| n.text())
                .map(str::to_owned);
            (text(s, SITEMAP, "loc").to_owned(), lastmod)
        })
        .collect();
    let base = server.site().config().server.public_url.as_str().to_owned();
    let when = fresh["published"].as_str().map(str::to_owned);
    let expected: Vec<(String, Option<String>)> = ["id", "en", "zh", "ja", "ar", "fr"]
        .iter()
        .map(|lang| {
            let has_news = matches!(*lang, "id" | "fr");
            (
                format!("{base}{lang}/news-sitemap.xml"),
                has_news.then(|| when.clone()).flatten(),
            )
        })
        .collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn writes_change_the_news_sitemap_and_conditional_requests_follow() {
    let server = Site::new().serve_api().await;
    put(&server, &article("pertama", Duration::hours(3), &["fr"])).await;
    let first = server.get("/fr/news-sitemap.xml").await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = server
        .get_with("/fr/news-sitemap.xml", &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let index_before = server.get("/sitemap.xml").await.body;

    put(&server, &article("kedua", Duration::minutes(5), &["fr"])).await;
    let second = server
        .get_with("/fr/news-sitemap.xml", &[("if-none-match", &etag)])
        .await;
    assert_eq!(second.status, StatusCode::OK, "a write retires the sitemap");
    let locs: Vec<String> = entries(&second.body).into_iter().map(|e| e.loc).collect();
    assert_eq!(locs, [page("fr", "kedua"), page("fr", "pertama")]);
    assert_ne!(server.get("/sitemap.xml").await.body, index_before);

    let deleted = send(server.addr, "DELETE", "/api/v1/articles/kedua", &[AUTH], "").await;
    assert!(deleted.status.is_success(), "{}", deleted.text());
    let locs: Vec<String> = entries(&server.get("/fr/news-sitemap.xml").await.body)
        .into_iter()
        .map(|e| e.loc)
        .collect();
    assert_eq!(locs, [page("fr", "pertama")]);
}

#[tokio::test]
async fn an_article_leaves_the_sitemap_when_it_turns_48_hours_old_without_a_write() {
    let server = Site::new().serve_api().await;
    // Two seconds from the window's edge: cached while inside it, then gone
    // once the clock passes the edge, though nothing was written.
    let edge = Duration::hours(48) - Duration::seconds(2);
    put(&server, &article("tepi", edge, &["fr"])).await;
    let inside = entries(&server.get("/fr/news-sitemap.xml").await.body);
    assert_eq!(inside.len(), 1, "{inside:?}");
    eventually("the article to leave the window", DEADLINE, async || {
        entries(&server.get("/fr/news-sitemap.xml").await.body).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ultimate_sitemap_parser_reads_back_what_was_written_and_lxml_finds_every_schema_valid() {
    let Some(python) = common::interop_python() else {
        return;
    };
    let server = Site::serve_api_public(|text| text).await;
    let fresh = article("pembaca", Duration::hours(4), &["en", "fr", "zh", "ar"]);
    put(&server, &fresh).await;
    let index = format!("http://{}/sitemap.xml", server.addr);
    let schemas = common::repo().join("tests/data/sitemaps");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(common::repo().join("tests/interop/sitemap_reader.py"))
            .arg(&index)
            .arg(&schemas)
            .output()
            .expect("run the sitemap reader")
    })
    .await
    .expect("the reader's thread");
    assert!(
        out.status.success(),
        "sitemap_reader.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the reader's JSON");
    assert_eq!(report["schema_errors"], json!([]), "{report:#}");

    let sitemaps = report["sitemaps"].as_array().expect("sitemaps");
    assert_eq!(sitemaps.len(), 6, "{report:#}");
    for sitemap in sitemaps {
        let url = sitemap["url"].as_str().unwrap_or_default();
        let lang = url.rsplit('/').nth(1).unwrap_or_default();
        let pages = sitemap["pages"].as_array().expect("pages");
        if lang == "ja" {
            assert_eq!(pages.len(), 0, "{sitemap:#}");
            continue;
        }
        assert_eq!(pages.len(), 1, "{sitemap:#}");
        let p = &pages[0];
        assert_eq!(p["url"], json!(page(lang, "pembaca")), "{sitemap:#}");
        let title = match lang {
            "id" => "Judul pembaca".to_owned(),
            _ => format!("Titre pembaca ({lang}) & <co>"),
        };
        assert_eq!(p["title"], json!(title));
        assert_eq!(p["publication_name"], json!("Kabar Nusantara"));
        let language = if lang == "zh" { "zh-cn" } else { lang };
        assert_eq!(p["publication_language"], json!(language));
        // usp reads the date into a datetime; its ISO form is what was written.
        assert_eq!(p["publish_date"], fresh["published"]);
        let alternates = p["alternates"].as_array().expect("alternates");
        assert_eq!(
            alternates.len(),
            6,
            "itself, the original or siblings, x-default: {p:#}"
        );
        assert!(
            alternates.contains(&json!(["x-default", page("id", "pembaca")])),
            "{p:#}"
        );
    }
}
