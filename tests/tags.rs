//! Tag feeds through real HTTP: `/{lang}/tags/{tag}/…` in three formats,
//! the slug rule, 404s, links from items' categories, conditional GET, and
//! exact invalidation when a write adds, keeps or removes a tag.

mod common;

use common::{AUTH, DEADLINE, Site, TestServer, eventually, parse_feed, send};
use hyper::StatusCode;
use kabar::SqliteStore;
use kabar::article::Article;
use kabar::urls::TagSlug;
use serde_json::{Value, json};

const FILES: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];
const BASE: &str = "http://127.0.0.1:8080";

/// Demo articles in `lang` with a tag whose slug is `slug`, in feed order.
fn expected(articles: &[Article], lang: &str, slug: &str) -> Vec<String> {
    let mut found: Vec<&Article> = articles
        .iter()
        .filter(|a| a.versions.contains_key(lang))
        .filter(|a| {
            a.tags
                .iter()
                .any(|t| TagSlug::of(t).is_some_and(|s| s.as_str() == slug))
        })
        .collect();
    found.sort_by(|a, b| b.published.cmp(&a.published).then(a.id.cmp(&b.id)));
    found.iter().map(|a| a.id.clone()).collect()
}

fn item_id(lang: &str, article: &str) -> String {
    format!("tag:kabar.example,2026:{lang}/{article}")
}

/// The item ids of the feed at `path`, which must answer 200.
async fn ids<S: kabar::ArticleStore>(server: &TestServer<S>, path: &str) -> Vec<String> {
    let res = server.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    parse_feed(&res.body)
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_feed_holds_its_languages_items_with_the_tag_newest_first() {
    let server = common::start().await;
    let articles = common::demo_articles();
    let mut checked = 0;
    for (lang, slug) in [
        ("fr", "transportasi"),
        ("en", "transportasi"),
        ("id", "bursa-saham"),
        ("zh", "bmkg"),
        ("en", "industri"),
    ] {
        let want: Vec<String> = expected(&articles, lang, slug)
            .iter()
            .map(|id| item_id(lang, id))
            .collect();
        assert!(!want.is_empty(), "{lang} {slug}");
        for file in FILES {
            let path = format!("/{lang}/tags/{slug}/{file}");
            assert_eq!(ids(&server, &path).await, want, "{path}");
            checked += 1;
        }
    }
    // Not every item of the language: the tag feed is a strict subset.
    let all = ids(&server, "/en/rss.xml").await;
    let tagged = ids(&server, "/en/tags/transportasi/rss.xml").await;
    assert!(tagged.len() < all.len() && tagged.iter().all(|id| all.contains(id)));
    assert_eq!(checked, 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_feeds_carry_the_language_feeds_headers_and_links() {
    let server = common::start().await;
    let path = "/fr/tags/transportasi/atom.xml";
    let tag = server.get(path).await;
    let lang = server.get("/fr/atom.xml").await;
    assert_eq!(tag.status, StatusCode::OK);
    for name in [
        "content-type",
        "cache-control",
        "vary",
        "access-control-allow-origin",
    ] {
        assert_eq!(tag.header(name), lang.header(name), "{name}");
    }
    let url = format!("{BASE}{path}");
    let link = tag.header("link").expect("a Link field");
    assert!(
        link.contains("rel=\"hub\"") && link.ends_with(&format!("<{url}>; rel=\"self\"")),
        "{link}"
    );
    assert!(tag.header("etag").is_some() && tag.header("last-modified").is_some());
    let feed = parse_feed(&tag.body);
    let links: Vec<(String, String)> = feed
        .links
        .iter()
        .map(|l| (l.rel.clone().unwrap_or_default(), l.href.clone()))
        .collect();
    assert!(
        links.contains(&("self".to_owned(), url.clone())),
        "{links:?}"
    );
    assert!(links.iter().any(|(rel, _)| rel == "hub"), "{links:?}");
    assert!(
        !links.iter().any(|(rel, _)| rel == "prev-archive"),
        "tag feeds have no archives"
    );
    let title = feed.title.expect("a title").content;
    assert!(title.ends_with("— Transportasi"), "{title}");
    assert_eq!(feed.id, "tag:kabar.example,2026:feed/fr/tags/transportasi");
    // Items are the language feed's items, byte for byte the same ids and links.
    let entry = &feed.entries[0];
    let in_lang = parse_feed(&lang.body);
    let same = in_lang
        .entries
        .iter()
        .find(|e| e.id == entry.id)
        .expect("in the language feed too");
    assert_eq!(entry.links, same.links);

    // Conditional GET.
    let etag = tag.header("etag").expect("an ETag");
    let again = server.get_with(path, &[("if-none-match", etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let gz = server
        .get_with(
            path,
            &[("accept-encoding", "gzip"), ("if-none-match", etag)],
        )
        .await;
    assert_eq!(gz.status, StatusCode::OK, "gzip is another representation");

    // One bounded metric label for every tag.
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("kabar_http_requests_total{route=\"tag_feed\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("transportasi"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tags_and_tags_of_other_languages_are_404() {
    let server = common::start().await;
    // pilkades-serentak-sleman exists in Indonesian only.
    assert_eq!(
        server.get("/id/tags/pilkades/rss.xml").await.status,
        StatusCode::OK
    );
    for path in [
        "/en/tags/pilkades/rss.xml",
        "/en/tags/pilkades/atom.xml",
        "/fr/tags/no-such-tag/feed.json",
        "/fr/tags/Transportasi/rss.xml",
        "/fr/tags/transportasi/feed.xml",
        "/xx/tags/transportasi/rss.xml",
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text());
    }
    // Tag feeds are not listed with the other feeds.
    let opml = server.get("/feeds.opml").await.text();
    let index = server.get("/").await.text();
    assert!(!opml.contains("/tags/") && !index.contains("/tags/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn items_link_their_tags_to_the_tag_feeds() {
    let server = common::start().await;
    let rss = parse_feed(&server.get("/fr/rss.xml").await.body);
    let atom = parse_feed(&server.get("/fr/atom.xml").await.body);
    let json = parse_feed(&server.get("/fr/feed.json").await.body);
    let article = "kereta-komuter-semarang-solo-beroperasi";
    let entry = |feed: &feed_rs::model::Feed| {
        feed.entries
            .iter()
            .find(|e| e.id == item_id("fr", article))
            .expect("the item")
            .categories
            .clone()
    };
    let scheme_of = |categories: &[feed_rs::model::Category], term: &str| {
        categories
            .iter()
            .find(|c| c.term == term)
            .unwrap_or_else(|| panic!("{term} in {categories:?}"))
            .scheme
            .clone()
    };
    for (term, slug) in [
        ("Transportasi", "transportasi"),
        ("Kereta Api", "kereta-api"),
        ("Jawa Tengah", "jawa-tengah"),
    ] {
        assert_eq!(
            scheme_of(&entry(&rss), term),
            Some(format!("{BASE}/fr/tags/{slug}/rss.xml"))
        );
        assert_eq!(
            scheme_of(&entry(&atom), term),
            Some(format!("{BASE}/fr/tags/{slug}/atom.xml"))
        );
        assert_eq!(scheme_of(&entry(&json), term), None, "plain strings");
        // Each link leads to a feed that holds the item.
        let ids = ids(&server, &format!("/fr/tags/{slug}/rss.xml")).await;
        assert!(ids.contains(&item_id("fr", article)), "{slug}");
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

async fn put(server: &TestServer<SqliteStore>, id: &str, body: &Value) -> StatusCode {
    let path = format!("/api/v1/articles/{id}");
    let res = send(server.addr, "PUT", &path, &[AUTH, JSON], body.to_string()).await;
    assert!(res.status.is_success(), "{}", res.text());
    res.status
}

/// An article in Indonesian, French, Chinese and Arabic with `tags`.
fn tagged(id: &str, tags: &[&str]) -> Value {
    json!({
        "id": id,
        "section": "business",
        "published": "2026-11-28T09:00:00+07:00",
        "tags": tags,
        "versions": {
            "id": {"translation": "original", "title": "Ekonomi hijau", "body": "Paragraf."},
            "fr": {"translation": "machine", "title": "Économie verte", "body": "Paragraphe."},
            "zh": {"translation": "machine", "title": "绿色经济", "body": "段落。"},
            "ar": {"translation": "machine", "title": "الاقتصاد الأخضر", "body": "فقرة."}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn slugs_fold_latin_and_percent_encode_the_rest() {
    let server = Site::new().serve_api().await;
    put(
        &server,
        "ekonomi-hijau",
        &tagged(
            "ekonomi-hijau",
            &[
                "Économie Verte",
                "economie  verte!",
                "经济 政策",
                "الاقتصاد الأخضر",
            ],
        ),
    )
    .await;
    let fr = ids(&server, "/fr/tags/economie-verte/rss.xml").await;
    assert_eq!(
        fr,
        [item_id("fr", "ekonomi-hijau")],
        "two tags, one feed, one item"
    );

    let zh_path = "/zh/tags/%E7%BB%8F%E6%B5%8E-%E6%94%BF%E7%AD%96/atom.xml";
    let zh = server.get(zh_path).await;
    assert_eq!(zh.status, StatusCode::OK, "{}", zh.text());
    let feed = parse_feed(&zh.body);
    assert!(
        feed.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("self") && l.href == format!("{BASE}{zh_path}")),
        "the self link is the percent-encoded URL: {:?}",
        feed.links
    );
    assert!(feed.title.unwrap().content.ends_with("— 经济 政策"));
    // Lower-case escapes decode to the same slug.
    let lower = server
        .get("/zh/tags/%e7%bb%8f%e6%b5%8e-%e6%94%bf%e7%ad%96/atom.xml")
        .await;
    assert_eq!(lower.status, StatusCode::OK);

    let ar_slug: String = "الاقتصاد-الأخضر"
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect::<String>()
        .replace("%2D", "-");
    let ar = parse_feed(&server.get("/ar/rss.xml").await.body);
    let categories = &ar
        .entries
        .iter()
        .find(|e| e.id == item_id("ar", "ekonomi-hijau"))
        .expect("the item")
        .categories;
    let domain = categories
        .iter()
        .find(|c| c.term == "الاقتصاد الأخضر")
        .and_then(|c| c.scheme.clone());
    assert_eq!(domain, Some(format!("{BASE}/ar/tags/{ar_slug}/rss.xml")));
    assert_eq!(
        ids(&server, &format!("/ar/tags/{ar_slug}/feed.json")).await,
        [item_id("ar", "ekonomi-hijau")]
    );
    // The same tag in a language without the article is not there.
    assert_eq!(
        server.get("/en/tags/economie-verte/rss.xml").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The cache misses counted so far.
async fn misses(server: &TestServer<SqliteStore>) -> u64 {
    let text = server.get("/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix("kabar_cache_misses_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the miss counter")
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_retire_exactly_the_tag_feeds_of_their_tags() {
    let server = Site::new().serve_api().await;
    let tagged_today = item_id("fr", "tagged-today");
    let path = "/fr/tags/transportasi/rss.xml";
    let quiet = "/fr/tags/perubahan-iklim/rss.xml";
    let before = ids(&server, path).await;
    let quiet_etag = server.get(quiet).await.header("etag").unwrap().to_owned();
    assert_eq!(
        server.get("/fr/tags/baru/rss.xml").await.status,
        StatusCode::NOT_FOUND
    );

    // A write adding the tag: the item appears, newest first, in every format.
    put(
        &server,
        "tagged-today",
        &tagged("tagged-today", &["Transportasi", "Baru"]),
    )
    .await;
    for file in FILES {
        let now = ids(&server, &format!("/fr/tags/transportasi/{file}")).await;
        assert_eq!(now[0], tagged_today, "{file}");
        assert_eq!(now[1..], before[..], "{file}");
    }
    assert_eq!(
        ids(&server, "/fr/tags/baru/rss.xml").await,
        std::slice::from_ref(&tagged_today)
    );

    // A tag feed the write did not touch stays cached: no miss, same bytes.
    let misses_before = misses(&server).await;
    let res = server.get(quiet).await;
    assert_eq!(res.header("etag"), Some(quiet_etag.as_str()));
    assert_eq!(misses(&server).await, misses_before, "not rebuilt");

    // Removing the tag from the article: it leaves the old tag's feed, which
    // was cached, and stays in the one it kept.
    put(&server, "tagged-today", &tagged("tagged-today", &["Baru"])).await;
    assert_eq!(ids(&server, path).await, before);
    assert_eq!(
        ids(&server, "/fr/tags/baru/rss.xml").await,
        std::slice::from_ref(&tagged_today)
    );

    // A change to one language's text retires that language's tag feeds.
    let mut edited = tagged("tagged-today", &["Baru"]);
    edited["versions"]["fr"]["title"] = json!("Économie verte, corrigé");
    put(&server, "tagged-today", &edited).await;
    let feed = parse_feed(&server.get("/fr/tags/baru/atom.xml").await.body);
    assert_eq!(
        feed.entries[0].title.as_ref().map(|t| t.content.as_str()),
        Some("Économie verte, corrigé")
    );

    // Deleting the article: its only tag feed is gone.
    let res = send(
        server.addr,
        "DELETE",
        "/api/v1/articles/tagged-today",
        &[AUTH],
        "",
    )
    .await;
    assert!(res.status.is_success());
    for file in FILES {
        let res = server.get(&format!("/fr/tags/baru/{file}")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{file}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_change_record_without_tags_retires_every_tag_feed_of_its_languages() {
    let server = Site::new().serve_api().await;
    let path = "/en/tags/transportasi/atom.xml";
    let fr_path = "/fr/tags/transportasi/atom.xml";
    let before = server.get(path).await;
    server.get(fr_path).await;
    let article = "kereta-komuter-semarang-solo-beroperasi";
    // Another process, one that predates tags in the change log, changes an
    // English title and logs the change with no tags.
    let file = server.site().dir().join("kabar.sqlite");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute(
        "UPDATE versions SET title = 'Retitled elsewhere' WHERE article_id = ?1 AND lang = 'en'",
        [article],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO changes (article_id, langs, sections, tags) VALUES (?1, '[\"en\"]', '[]', NULL)",
        [article],
    )
    .unwrap();
    drop(conn);
    eventually(
        "the follower to retire the English tag feeds",
        DEADLINE,
        async || {
            let now = server.get(path).await;
            String::from_utf8_lossy(&now.body).contains("Retitled elsewhere")
        },
    )
    .await;
    assert_ne!(server.get(path).await.body, before.body);
    let misses_before = misses(&server).await;
    server.get(fr_path).await;
    assert_eq!(
        misses(&server).await,
        misses_before,
        "other languages' tag feeds are not retired"
    );
}
