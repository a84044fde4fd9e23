//! Monthly archives over real HTTP (RFC 5005 §4): which months have one, the
//! `prev-archive`, `next-archive` and `current` links between them and the
//! subscription feed, and what an archive document holds.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use common::{AUTH, Site, TestServer, pg, send};
use hyper::StatusCode;
use kabar::app::{self, Seed};
use kabar::article::Article;
use kabar::config::DatabaseUrl;
use kabar::urls::{Month, Resource};
use kabar::{App, ArticleStore, SqliteStore};
use serde_json::{Value, json};

/// The public URL the bundled configuration names.
const BASE: &str = "http://127.0.0.1:8080";

/// An article published at `published` (RFC 3339) in Indonesian and `langs`,
/// each version titled `title`.
fn article(id: &str, published: &str, langs: &[&str], title: &str) -> Value {
    let mut versions = serde_json::Map::new();
    for lang in std::iter::once(&"id").chain(langs) {
        let translation = if *lang == "id" { "original" } else { "machine" };
        versions.insert(
            (*lang).to_owned(),
            json!({"translation": translation, "title": title, "body": format!("{title}.\n\nParagraf.")}),
        );
    }
    json!({
        "id": id,
        "section": "national",
        "published": published,
        "authors": [{"name": "Desk Arsip"}],
        "versions": versions,
    })
}

/// Creates `article`, which must be new.
async fn create(server: &TestServer<SqliteStore>, article: &Value) {
    let path = format!("/api/v1/articles/{}", article["id"].as_str().unwrap());
    let headers = [AUTH, ("content-type", "application/json")];
    let res = send(server.addr, "PUT", &path, &headers, article.to_string()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

fn item(lang: &str, id: &str) -> String {
    format!("tag:kabar.example,2026:{lang}/{id}")
}

/// The `href`s of the feed-level links of `rel` in an Atom document.
fn links(xml: &str, rel: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name("link") && n.attribute("rel") == Some(rel))
        .filter_map(|n| n.attribute("href").map(str::to_owned))
        .collect()
}

/// The one link of `rel`, or `None`; more than one is an error.
fn link(xml: &str, rel: &str) -> Option<String> {
    let mut found = links(xml, rel);
    assert!(found.len() <= 1, "{rel}: {found:?}");
    found.pop()
}

fn archive_url(lang: &str, month: &str) -> String {
    format!("{BASE}/{lang}/archive/{month}/atom.xml")
}

/// `YYYY-MM` of `time` in the site's zone (Asia/Jakarta).
fn month_of(time: DateTime<Utc>) -> String {
    let local = time.with_timezone(&chrono_tz::Asia::Jakarta);
    format!("{:04}-{:02}", local.year(), local.month())
}

/// Every month from `first` to `last` (as `(year, month)`), as `YYYY-MM`.
fn months(first: (i32, u32), last: (i32, u32)) -> Vec<String> {
    let mut out = Vec::new();
    let (mut year, mut month) = first;
    while (year, month) <= last {
        out.push(format!("{year:04}-{month:02}"));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_months_are_archived_and_linked_from_the_subscription_feed() {
    let server = Site::new().serve_api().await;
    // The demo articles are all from November 2026: nothing is closed yet.
    let atom = server.get("/fr/atom.xml").await.text();
    assert!(links(&atom, "prev-archive").is_empty());
    assert_eq!(
        server.get("/fr/archive/2026-11/atom.xml").await.status,
        StatusCode::NOT_FOUND
    );

    let fr = ["fr"];
    create(
        &server,
        &article(
            "arsip-oktober",
            "2026-10-15T10:00:00+07:00",
            &fr,
            "Un article d’octobre",
        ),
    )
    .await;
    create(
        &server,
        &article(
            "arsip-september",
            "2026-09-02T08:00:00+07:00",
            &fr,
            "Un article de septembre",
        ),
    )
    .await;
    // 20:00 UTC on October 31st is already November 1st in Jakarta.
    create(
        &server,
        &article(
            "arsip-batas",
            "2026-10-31T20:00:00Z",
            &fr,
            "Déjà novembre à Jakarta",
        ),
    )
    .await;

    let atom = server.get("/fr/atom.xml").await.text();
    assert_eq!(
        link(&atom, "prev-archive"),
        Some(archive_url("fr", "2026-10"))
    );
    assert_eq!(link(&atom, "next-archive"), None);

    let res = server.get("/fr/archive/2026-10/atom.xml").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=86400, stale-if-error=86400")
    );
    // Archives are answered from the shared cache each time, header fields
    // built per answer: a revalidation gets a 304 with the validators and the
    // archive's caching field, and none of the representation's metadata.
    let etag = res.header("etag").expect("an archive's ETag");
    let not_modified = server
        .get_with("/fr/archive/2026-10/atom.xml", &[("if-none-match", etag)])
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.header("etag"), Some(etag));
    assert_eq!(
        not_modified.header("cache-control"),
        Some("public, max-age=86400, stale-if-error=86400")
    );
    // A browser's navigation to the archive gets its page instead.
    assert_eq!(
        not_modified.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    assert_eq!(not_modified.header("content-type"), None);
    assert_eq!(not_modified.header("last-modified"), None);
    assert_eq!(not_modified.header("link"), None);
    let xml = res.text();
    common::assert_well_formed_xml(xml.as_bytes());
    assert!(
        xml.contains("<fh:archive/>") || xml.contains("<fh:archive></fh:archive>"),
        "{xml}"
    );
    assert!(xml.contains("xmlns:fh=\"http://purl.org/syndication/history/1.0\""));
    assert_eq!(links(&xml, "current"), [format!("{BASE}/fr/atom.xml")]);
    assert_eq!(links(&xml, "self"), [archive_url("fr", "2026-10")]);
    assert_eq!(
        link(&xml, "prev-archive"),
        Some(archive_url("fr", "2026-09"))
    );
    // The newest archive: what follows it is the subscription feed, `current`.
    assert_eq!(link(&xml, "next-archive"), None);
    let ids: Vec<String> = common::parse_feed(xml.as_bytes())
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [item("fr", "arsip-oktober")]);

    let xml = server.get("/fr/archive/2026-09/atom.xml").await.text();
    assert_eq!(link(&xml, "prev-archive"), None);
    assert_eq!(
        link(&xml, "next-archive"),
        Some(archive_url("fr", "2026-10"))
    );
    let ids: Vec<String> = common::parse_feed(xml.as_bytes())
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [item("fr", "arsip-september")]);

    // A correction to an old article reaches its archive.
    let corrected = article(
        "arsip-oktober",
        "2026-10-15T10:00:00+07:00",
        &fr,
        "Un article d’octobre, corrigé",
    );
    let res = send(
        server.addr,
        "PUT",
        "/api/v1/articles/arsip-oktober",
        &[AUTH, ("content-type", "application/json")],
        corrected.to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let feed = common::parse_feed(&server.get("/fr/archive/2026-10/atom.xml").await.body);
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Un article d’octobre, corrigé"
    );

    for (path, status) in [
        ("/fr/archive/2026-11/atom.xml", StatusCode::NOT_FOUND),
        ("/fr/archive/2027-01/atom.xml", StatusCode::NOT_FOUND),
        ("/fr/archive/2026-13/atom.xml", StatusCode::NOT_FOUND),
        ("/xx/archive/2026-10/atom.xml", StatusCode::NOT_FOUND),
        ("/fr/archive/2026-10/rss.xml", StatusCode::NOT_FOUND),
        // Before the first item, and a closed month without items.
        ("/fr/archive/2025-01/atom.xml", StatusCode::NOT_FOUND),
        ("/fr/archive/1970-01/atom.xml", StatusCode::NOT_FOUND),
        ("/fr/archive/2026-08/atom.xml", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(server.get(path).await.status, status, "{path}");
    }
    let res = server.get("/fr/archive/1970-01/atom.xml").await;
    assert_eq!(
        res.text(),
        "404 Not Found: no item was published in 1970-01.\n"
    );
    server.stop().await;
}

/// Walking `prev-archive` from each language's subscription feed reaches
/// every closed month with items in that language, each archive's
/// `next-archive` leads back the way the walk came, and every other month
/// is not found.
#[tokio::test(flavor = "multi_thread")]
async fn the_archive_chain_holds_every_month_with_items_and_no_other() {
    let server = Site::new().serve_api().await;
    let articles = [
        // French and English start in June 2025; Japanese in December.
        article("arsip-a", "2025-06-15T09:00:00+07:00", &["en", "fr"], "A"),
        article("arsip-b", "2025-12-20T10:00:00+07:00", &["fr", "ja"], "B"),
        // Indonesian alone: February is an empty month for every other language.
        article("arsip-c", "2026-02-10T12:00:00+07:00", &[], "C"),
        article("arsip-d", "2026-07-01T08:00:00+07:00", &["en", "fr"], "D"),
        article("arsip-e", "2026-07-20T08:00:00+07:00", &["en", "fr"], "E"),
        article("arsip-f", "2026-10-31T23:59:00+07:00", &["fr"], "F"),
    ];
    let mut d = articles[3].clone();
    // The older July item was corrected later: the archive's `updated` is the
    // newest entry's, not the newest-published one's.
    d["updated"] = json!("2026-08-05T10:00:00+07:00");
    for article in articles.iter().take(3).chain([&d]).chain(&articles[4..]) {
        create(&server, article).await;
    }
    let expected = |lang: &str| -> Vec<&str> {
        match lang {
            "id" => vec!["2026-10", "2026-07", "2026-02", "2025-12", "2025-06"],
            "en" => vec!["2026-07", "2025-06"],
            "fr" => vec!["2026-10", "2026-07", "2025-12", "2025-06"],
            "ja" => vec!["2025-12"],
            _ => vec![],
        }
    };

    let config = server.site().config();
    for lang in config.language_codes() {
        let subscription = format!("{BASE}/{lang}/atom.xml");
        let mut from = subscription.clone();
        let mut xml = server.get(&format!("/{lang}/atom.xml")).await.text();
        let mut walked = Vec::new();
        while let Some(url) = link(&xml, "prev-archive") {
            assert!(
                walked.len() < 12,
                "{lang}: the chain does not end: {walked:?}"
            );
            let path = url.strip_prefix(BASE).expect("a URL on this server");
            let res = server.get(path).await;
            assert_eq!(res.status, StatusCode::OK, "{url}");
            xml = res.text();
            common::assert_well_formed_xml(xml.as_bytes());
            let month = path.split('/').nth(3).expect("a month").to_owned();
            // The way back: the archive it came from, none to the subscription feed.
            let back = (from != subscription).then(|| from.clone());
            assert_eq!(link(&xml, "next-archive"), back, "{url}");
            assert_eq!(link(&xml, "current"), Some(subscription.clone()), "{url}");
            assert_eq!(link(&xml, "self"), Some(url.clone()));

            let feed = common::parse_feed(xml.as_bytes());
            assert!(!feed.entries.is_empty(), "{url}");
            let newest = feed.entries.iter().filter_map(|e| e.updated).max();
            assert_eq!(feed.updated, newest, "{url}: updated is its newest entry's");
            for entry in &feed.entries {
                let published = entry.published.expect("published");
                assert_eq!(month_of(published), month, "{url}: {}", entry.id);
            }
            walked.push(month);
            from = url;
        }
        assert_eq!(walked, expected(lang), "{lang}");

        // Every other month is not found: before the first item, empty
        // closed months, the current month and after it.
        let archived: BTreeSet<&str> = expected(lang).into_iter().collect();
        for month in std::iter::once("1970-01".to_owned()).chain(months((2025, 1), (2027, 1))) {
            let path = format!("/{lang}/archive/{month}/atom.xml");
            let status = server.get(&path).await.status;
            let want = if archived.contains(month.as_str()) {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "{path}");
        }
    }

    let july = common::parse_feed(&server.get("/fr/archive/2026-07/atom.xml").await.body);
    let ids: Vec<&str> = july.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [item("fr", "arsip-e"), item("fr", "arsip-d")]);
    assert_eq!(
        july.updated.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-08-05T03:00:00+00:00")
    );
    server.stop().await;
}

/// Both backends find the same neighbours and the same empty months, so
/// replicas on PostgreSQL serve the bytes a SQLite server does.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_and_postgres_render_identical_archives() {
    let site = Site::new();
    let config = Arc::new(site.config());
    let sqlite = site.store().await;
    let db = pg::scratch().await;
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let postgres = app::open_postgres(&config, &url, Seed::IfCreated)
        .await
        .unwrap();
    // Closed months in some languages, August without items.
    let old: Vec<Article> = [
        ("arsip-a", "2026-07-10T09:00:00+07:00"),
        ("arsip-b", "2026-09-02T09:00:00+07:00"),
        ("arsip-c", "2026-09-20T09:00:00+07:00"),
    ]
    .into_iter()
    .map(|(id, at)| {
        Article::from_json(&article(id, at, &["fr", "en"], id).to_string()).expect("an article")
    })
    .collect();
    sqlite.put_articles(old.clone()).await.unwrap();
    postgres.put_articles(old).await.unwrap();
    let sqlite = App::new(Arc::clone(&config), Arc::new(sqlite), None);
    let postgres = App::new(Arc::clone(&config), Arc::new(postgres), None);
    let mut archives = 0;
    for lang in 0..config.languages.len() {
        for month in months((2026, 6), (2026, 12)) {
            let month = Month::parse(&month).unwrap();
            let resource = Resource::Archive { lang, month };
            match (
                sqlite.cache.get(resource).await,
                postgres.cache.get(resource).await,
            ) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.identity.bytes, b.identity.bytes, "{resource:?}");
                    archives += 1;
                }
                (Err(a), Err(b)) => {
                    assert!(a.is_not_found() && b.is_not_found(), "{a} / {b}");
                    assert_eq!(a.to_string(), b.to_string());
                }
                (a, b) => panic!("{resource:?}: {:?} / {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }
    // July and September in id, fr and en.
    assert_eq!(archives, 6);
}

#[tokio::test]
async fn an_arabic_archive_s_month_reads_in_one_piece() {
    let server = Site::new().serve_api().await;
    let langs = ["ar", "fr"];
    create(
        &server,
        &article("arsip-arab", "2026-10-15T10:00:00+07:00", &langs, "Arsip"),
    )
    .await;
    let title = |xml: &[u8]| common::parse_feed(xml).title.expect("a title").content;
    let ar = title(&server.get("/ar/atom.xml").await.body);
    let ar_archive = title(&server.get("/ar/archive/2026-10/atom.xml").await.body);
    // A left-to-right mark before the month: without it, after Arabic letters
    // the two numbers read backwards (10-2026).
    assert_eq!(ar_archive, format!("{ar} — \u{200E}2026-10"));
    let fr = title(&server.get("/fr/atom.xml").await.body);
    let fr_archive = title(&server.get("/fr/archive/2026-10/atom.xml").await.body);
    assert_eq!(
        fr_archive,
        format!("{fr} — 2026-10"),
        "no mark left to right"
    );
    server.stop().await;
}
