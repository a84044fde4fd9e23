//! A feed opened in a browser reads as a page: a top-level navigation
//! (`Sec-Fetch-Dest: document`, `Sec-Fetch-Mode: navigate`) to a feed URL gets
//! its preview page, private and without validators, while every other request
//! gets the feed byte for byte; the same page lives at `feed.html`, linked from
//! the feeds and the index. Over real HTTP, and in a real browser (headless
//! Chromium driven by playwright-core, tests/browser) when `KABAR_TEST_BROWSER`
//! names one.

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use common::{Response, parse_feed, put_article as put, start};
use hyper::StatusCode;

const NAVIGATION: [(&str, &str); 2] = [
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
];

/// The titles of a feed's items, as an independent parser reads them.
fn titles(feed: &Response) -> Vec<String> {
    parse_feed(&feed.body)
        .entries
        .into_iter()
        .map(|e| e.title.expect("a title").content)
        .collect()
}

/// `s` as the page writes text.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text between the first `open` and the next `close` in `page`.
fn between<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page.find(open).unwrap_or_else(|| panic!("no {open}")) + open.len();
    let len = page[start..]
        .find(close)
        .unwrap_or_else(|| panic!("no {close}"));
    &page[start..start + len]
}

/// Asserts that `page` shows these item titles, in this order, each linking
/// to an article page.
fn assert_lists(page: &str, titles: &[String]) {
    assert!(!titles.is_empty());
    let mut from = 0;
    for title in titles {
        let shown = format!("\">{}</a></h3>", escaped(title));
        let at = page[from..]
            .find(&shown)
            .unwrap_or_else(|| panic!("{title:?} is not shown (in order)"));
        from += at + shown.len();
    }
    assert_eq!(page.matches("<article>").count(), titles.len());
}

fn base64_sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

#[tokio::test]
async fn a_navigation_gets_the_preview_and_everything_else_the_feed() {
    let server = start().await;
    let feed = server.get("/fr/rss.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(
        feed.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    let etag = feed.header("etag").expect("an ETag").to_owned();

    // A script's fetch, an iframe, a download: not a person opening the feed.
    for headers in [
        [("sec-fetch-dest", "empty"), ("sec-fetch-mode", "cors")],
        [("sec-fetch-dest", "iframe"), ("sec-fetch-mode", "navigate")],
        [
            ("sec-fetch-dest", "document"),
            ("sec-fetch-mode", "no-cors"),
        ],
    ] {
        let same = server.get_with("/fr/rss.xml", &headers).await;
        assert_eq!(same.body, feed.body, "{headers:?}");
        assert_eq!(same.header("etag"), Some(etag.as_str()), "{headers:?}");
    }

    let nav = server.get_with("/fr/rss.xml", &NAVIGATION).await;
    assert_eq!(nav.status, StatusCode::OK);
    assert_eq!(nav.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(nav.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        nav.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    assert_eq!(
        nav.header("etag"),
        None,
        "nothing a feed reader could match"
    );
    assert_eq!(nav.header("last-modified"), None);
    assert_eq!(nav.header("x-content-type-options"), Some("nosniff"));
    assert!(nav.header("content-security-policy").is_some());
    let page = nav.text();
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"fr\" dir=\"ltr\">"));
    assert_lists(&page, &titles(&feed));
    assert!(
        page.contains("value=\"http://127.0.0.1:8080/fr/rss.xml\""),
        "the feed's URL is offered to copy"
    );
    assert!(page.contains("Qu’est-ce que c’est"), "explained in French");
    assert!(
        page.contains(
            "<a href=\"http://127.0.0.1:8080/fr/atom.xml\" type=\"application/atom+xml\""
        ),
        "links the other formats"
    );
    assert!(page.contains("<a href=\"http://127.0.0.1:8080/\">Tous les flux</a>"));
    // Every French item is a machine translation: each shows the notice and
    // links its Indonesian original.
    assert_eq!(
        page.matches("<p class=\"notice\"><em>").count(),
        page.matches("<article>").count()
    );
    assert!(page.contains("hreflang=\"id\">"));

    // A feed reader's validators never turn a navigation into a 304.
    let with_validators = server
        .get_with(
            "/fr/rss.xml",
            &[
                NAVIGATION[0],
                NAVIGATION[1],
                ("if-none-match", &etag),
                ("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"),
            ],
        )
        .await;
    assert_eq!(with_validators.status, StatusCode::OK);
    assert_eq!(with_validators.body, nav.body);

    // And the navigation left the feed as it was.
    let again = server.get("/fr/rss.xml").await;
    assert_eq!(again.body, feed.body);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let revalidated = server
        .get_with("/fr/rss.xml", &[("if-none-match", &etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);

    // Compressed like any page, and HEAD like any resource.
    let gzip = server
        .get_with(
            "/fr/rss.xml",
            &[NAVIGATION[0], NAVIGATION[1], ("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.header("cache-control"), Some("private, no-store"));
    let head = common::request(server.addr, "HEAD", "/fr/rss.xml", &NAVIGATION).await;
    assert_eq!(
        head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(head.body.is_empty());

    server.stop().await;
}

#[tokio::test]
async fn arabic_reads_right_to_left_and_each_format_offers_its_own_url() {
    let server = start().await;
    for (path, lang, dir) in [
        ("/ar/atom.xml", "ar", "rtl"),
        ("/ja/feed.json", "ja", "ltr"),
        ("/zh/technology/rss.xml", "zh", "ltr"),
    ] {
        let feed = server.get(path).await;
        let nav = server.get_with(path, &NAVIGATION).await;
        let page = nav.text();
        assert!(
            page.starts_with(&format!(
                "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">"
            )),
            "{path}"
        );
        assert_lists(&page, &titles(&feed));
        assert!(
            page.contains(&format!("value=\"http://127.0.0.1:8080{path}\"")),
            "{path}"
        );
    }
    // Dates as each language writes them.
    let ja = server.get_with("/ja/rss.xml", &NAVIGATION).await.text();
    assert!(ja.contains("年11月"), "a Japanese date");
    server.stop().await;
}

#[tokio::test]
async fn feed_html_is_the_same_page_at_a_url_of_its_own() {
    let server = start().await;
    let page = server.get("/fr/feed.html").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.header("cache-control")
            .is_some_and(|c| c.starts_with("public, max-age=")),
        "a shareable page is cached like the feeds"
    );
    assert_eq!(page.header("vary"), Some("Accept-Encoding"));
    let nav = server.get_with("/fr/rss.xml", &NAVIGATION).await;
    assert_eq!(page.body, nav.body, "the navigation shows this page");
    let etag = page.header("etag").expect("an ETag");
    let feed = server.get("/fr/rss.xml").await;
    assert_ne!(Some(etag), feed.header("etag"));
    let revalidated = server
        .get_with("/fr/feed.html", &[("if-none-match", etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);

    let world = server.get("/fr/world/feed.html").await.text();
    assert_lists(&world, &titles(&server.get("/fr/world/rss.xml").await));
    assert!(
        world
            .contains("<link rel=\"canonical\" href=\"http://127.0.0.1:8080/fr/world/feed.html\">")
    );

    for missing in ["/fr/nope/feed.html", "/xx/feed.html", "/fr/feed.htm"] {
        assert_eq!(
            server.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // Linked from both XML feeds' heads (not as their alternate: that is the
    // site's page) and from the index.
    let describedby = "href=\"http://127.0.0.1:8080/fr/feed.html\" rel=\"describedby\" hreflang=\"fr\" type=\"text/html\"/>";
    assert!(feed.text().contains(describedby), "RSS links its page");
    let atom = server.get("/fr/atom.xml").await.text();
    assert!(atom.contains(describedby), "Atom links its page");
    let parsed = parse_feed(atom.as_bytes());
    assert!(
        parsed
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("alternate") && l.href == "https://kabar.example/fr/"),
        "the site's page stays the alternate"
    );
    let index = server.get("/").await.text();
    assert!(index.contains("<a class=\"feed\" href=\"http://127.0.0.1:8080/fr/world/feed.html\">"));
    server.stop().await;
}

#[tokio::test]
async fn the_policy_allows_the_page_s_own_style_and_script_and_nothing_else() {
    let server = start().await;
    let page = server.get("/fr/feed.html").await;
    let policy = page.header("content-security-policy").expect("a policy");
    let html = page.text();
    let style = base64_sha256(between(&html, "<style>", "</style>"));
    let script = base64_sha256(between(&html, "<script>", "</script>"));
    assert_eq!(
        policy,
        format!(
            "default-src 'none'; style-src 'sha256-{style}'; script-src 'sha256-{script}'; \
             img-src https://kabar.example; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        )
    );
    assert_eq!(html.matches("<style>").count(), 1);
    assert_eq!(html.matches("<script>").count(), 1);
    assert!(!html.contains(" style="), "no inline style attributes");
    let handler = html
        .split(|c: char| c.is_whitespace())
        .find(|word| word.starts_with("on") && word.contains('='));
    assert_eq!(handler, None, "no inline event handlers");
    // Images with their alt text, from the origin the policy allows.
    assert!(html.contains("<figure><img src=\"https://kabar.example/"));
    assert!(html.contains(" alt=\"Roket pembawa satelit lepas landas dari landasan peluncuran\""));
    server.stop().await;
}

#[tokio::test]
async fn a_write_shows_in_the_preview_at_once() {
    let server = common::Site::new().serve_api().await;
    // Read first, so the write has something to retire.
    let before = server.get("/fr/feed.html").await.text();
    let title = "Un titre neuf & <étonnant>";
    let article = serde_json::json!({
        "id": "apercu-neuf",
        "section": "world",
        "published": "2030-01-01T08:00:00+07:00",
        "versions": {
            "id": {"translation": "original", "title": "Judul baru", "body": "Isi."},
            "fr": {"translation": "machine", "title": title, "body": "Corps."}
        }
    });
    put(&server, &article).await;
    for path in ["/fr/feed.html", "/fr/world/feed.html"] {
        let after = server.get(path).await.text();
        assert!(!before.contains(&escaped(title)));
        let first = between(&after, "<article>", "</article>");
        assert!(first.contains(&escaped(title)), "{path}: {first}");
    }
    let nav = server.get_with("/fr/atom.xml", &NAVIGATION).await.text();
    assert!(nav.contains(&escaped(title)));
    server.stop().await;
}

/// An article in Indonesian and Arabic published at `published`, with an image.
fn arabic_with_image(id: &str, published: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "section": "world",
        "published": published,
        "image": {
            "url": format!("https://kabar.example/img/{id}.jpg"),
            "type": "image/jpeg",
            "alt": "Pelabuhan pada pagi hari"
        },
        "versions": {
            "id": {"translation": "original", "title": "Judul arsip", "body": "Isi."},
            "ar": {"translation": "machine", "title": format!("مقال من الأرشيف {id}"), "body": "نص المقال."}
        }
    })
}

/// The variable naming the Chromium the browser test drives.
const BROWSER_ENV: &str = "KABAR_TEST_BROWSER";

/// What tests/browser/preview.mjs saw of one page.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    url: String,
    status: u16,
    content_type: String,
    lang: String,
    dir: String,
    items: Vec<ShownItem>,
    notices: usize,
    images_with_alt: usize,
    feed_url: String,
    copy_visible: bool,
    clipboard: String,
    images: usize,
    errors: Vec<String>,
    screenshot: PathBuf,
    without_script: WithoutScript,
}

/// The page as a browser with script off shows it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WithoutScript {
    items: usize,
    feed_url: String,
    copy_hidden: bool,
}

#[derive(Debug, serde::Deserialize)]
struct ShownItem {
    title: String,
    href: String,
}

#[tokio::test]
async fn a_real_browser_shows_the_page_and_a_reader_still_gets_the_feed() {
    let Some(chromium) = std::env::var_os(BROWSER_ENV).filter(|b| !b.is_empty()) else {
        eprintln!(
            "skipped: {BROWSER_ENV} is not set; point it at Chromium (Debian's chromium \
             package: /usr/bin/chromium) after `npm ci` in tests/browser (.ci/run does both)"
        );
        return;
    };
    let browser_dir = common::repo().join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "{BROWSER_ENV} is set but tests/browser has no node_modules: run `npm ci` there"
    );
    let server = common::Site::new().serve_api().await;
    // Two closed months of Arabic articles, so that an archive has a page.
    for (id, published) in [
        ("arsip-september", "2026-09-12T09:00:00+07:00"),
        ("arsip-oktober", "2026-10-05T09:00:00+07:00"),
    ] {
        put(&server, &arabic_with_image(id, published)).await;
    }
    let shots = common::repo().join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let paths = [
        ("/fr/rss.xml", "fr", "ltr"),
        ("/ar/atom.xml", "ar", "rtl"),
        ("/ar/archive/2026-09/atom.xml", "ar", "rtl"),
    ];
    let urls: Vec<String> = paths
        .iter()
        .map(|(path, ..)| format!("http://{}{path}", server.addr))
        .collect();
    let addr = server.addr;
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("preview.mjs")
            .arg(chromium)
            .arg(&shots)
            .args(&urls)
            .current_dir(&browser_dir)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    assert!(
        output.status.success(),
        "the browser script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Vec<Shown> = serde_json::from_slice(&output.stdout).expect("the script's JSON");
    assert_eq!(shown.len(), paths.len());
    for (page, (path, lang, dir)) in shown.iter().zip(paths) {
        assert_eq!(page.url, format!("http://{addr}{path}"));
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.content_type, "text/html; charset=utf-8", "{path}");
        assert_eq!(
            (page.lang.as_str(), page.dir.as_str()),
            (lang, dir),
            "{path}"
        );
        assert!(page.errors.is_empty(), "{path}: {:?}", page.errors);

        // The same URL without a browser's headers: the feed, as before.
        let feed = server.get(path).await;
        let expected = titles(&feed);
        let items: Vec<&str> = page.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(items, expected, "{path}: the page lists the feed's items");
        let links: Vec<String> = parse_feed(&feed.body)
            .entries
            .iter()
            .map(|e| e.links[0].href.clone())
            .collect();
        let hrefs: Vec<&str> = page.items.iter().map(|i| i.href.as_str()).collect();
        assert_eq!(hrefs, links, "{path}: titles link to the article pages");
        assert_eq!(
            page.notices,
            page.items.len(),
            "{path}: every item's notice"
        );
        assert!(page.images_with_alt > 0, "{path}: images with alt text");
        assert!(page.images > 0, "{path}: the policy let images load");

        let feed_url = format!("http://127.0.0.1:8080{path}");
        assert_eq!(page.feed_url, feed_url);
        assert!(page.copy_visible, "{path}: script shows the copy button");
        assert_eq!(
            page.clipboard, feed_url,
            "{path}: the button copied the URL"
        );
        let plain = &page.without_script;
        assert_eq!(
            plain.items,
            page.items.len(),
            "{path}: readable with script off"
        );
        assert_eq!(plain.feed_url, feed_url);
        assert!(plain.copy_hidden, "{path}: no dead button with script off");

        let png = std::fs::read(&page.screenshot).expect("the screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn tag_feeds_have_their_page_too() {
    let server = start().await;
    let feed = server.get("/fr/tags/antariksa/rss.xml").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(
        feed.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    assert!(feed.text().contains(
        "href=\"http://127.0.0.1:8080/fr/tags/antariksa/feed.html\" rel=\"describedby\""
    ));
    let nav = server
        .get_with("/fr/tags/antariksa/atom.xml", &NAVIGATION)
        .await;
    assert_eq!(nav.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(nav.header("cache-control"), Some("private, no-store"));
    assert_eq!(nav.header("etag"), None);
    let page = nav.text();
    assert_lists(&page, &titles(&feed));
    assert!(page.contains("value=\"http://127.0.0.1:8080/fr/tags/antariksa/atom.xml\""));
    assert!(page.contains(
        "<link rel=\"canonical\" href=\"http://127.0.0.1:8080/fr/tags/antariksa/feed.html\">"
    ));
    let stable = server.get("/fr/tags/antariksa/feed.html").await;
    assert_eq!(stable.status, StatusCode::OK);
    assert!(stable.header("etag").is_some());
    assert_lists(&stable.text(), &titles(&feed));
    for missing in [
        "/fr/tags/no-such-tag/feed.html",
        "/fr/tags/no-such-tag/rss.xml",
    ] {
        assert_eq!(
            server.get_with(missing, &NAVIGATION).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_write_to_a_tag_shows_in_the_tag_s_page() {
    let server = common::Site::new().serve_api().await;
    let path = "/fr/tags/antariksa/feed.html";
    let before = server.get(path).await.text();
    let title = "Une nouvelle fusée";
    put(
        &server,
        &serde_json::json!({
            "id": "roket-baru",
            "section": "technology",
            "published": "2030-01-01T08:00:00+07:00",
            "tags": ["Antariksa"],
            "versions": {
                "id": {"translation": "original", "title": "Roket baru", "body": "Isi."},
                "fr": {"translation": "machine", "title": title, "body": "Corps."}
            }
        }),
    )
    .await;
    assert!(!before.contains(title));
    let after = server.get(path).await.text();
    assert!(
        between(&after, "<article>", "</article>").contains(title),
        "the tag's page was retired with its feed"
    );
    let nav = server
        .get_with("/fr/tags/antariksa/rss.xml", &NAVIGATION)
        .await
        .text();
    assert!(nav.contains(title));
    server.stop().await;
}

/// A French article of the world section published at `published`.
fn french(id: &str, published: &str, title: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "section": "world",
        "published": published,
        "versions": {
            "id": {"translation": "original", "title": "Judul", "body": "Isi."},
            "fr": {"translation": "machine", "title": title, "body": "Corps."}
        }
    })
}

#[tokio::test]
async fn archives_have_their_page_too() {
    let server = common::Site::new().serve_api().await;
    for (id, published, title) in [
        (
            "arsip-agustus",
            "2026-08-10T09:00:00+07:00",
            "Un article d’août",
        ),
        (
            "arsip-september",
            "2026-09-12T09:00:00+07:00",
            "Un article de septembre",
        ),
        (
            "arsip-oktober",
            "2026-10-05T09:00:00+07:00",
            "Un article d’octobre",
        ),
    ] {
        put(&server, &french(id, published, title)).await;
    }
    let path = "/fr/archive/2026-09/atom.xml";
    let archive = server.get(path).await;
    assert_eq!(archive.status, StatusCode::OK);
    assert_eq!(
        archive.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    assert!(archive.text().contains(
        "href=\"http://127.0.0.1:8080/fr/archive/2026-09/feed.html\" rel=\"describedby\""
    ));
    let titles = titles(&archive);
    assert_eq!(titles, ["Un article de septembre"]);

    let nav = server.get_with(path, &NAVIGATION).await;
    assert_eq!(nav.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(nav.header("cache-control"), Some("private, no-store"));
    assert_eq!(nav.header("etag"), None);
    let page = nav.text();
    assert_lists(&page, &titles);
    assert!(page.contains("value=\"http://127.0.0.1:8080/fr/archive/2026-09/atom.xml\""));
    assert!(
        page.contains("<h2>septembre 2026</h2>"),
        "the month, in French"
    );
    assert!(
        page.contains("<h1>Kabar Nusantara (français) — septembre 2026</h1>"),
        "the title too: 2026-09 would read backwards in Arabic"
    );
    assert!(
        page.contains("archive mensuelle"),
        "says what an archive is"
    );
    // The months either side and the feed it belongs to, as pages.
    for link in [
        "<a href=\"http://127.0.0.1:8080/fr/archive/2026-08/feed.html\">Plus ancien\u{a0}: août 2026</a>",
        "<a href=\"http://127.0.0.1:8080/fr/archive/2026-10/feed.html\">Plus récent\u{a0}: octobre 2026</a>",
        "<a href=\"http://127.0.0.1:8080/fr/feed.html\">Flux actuel</a>",
    ] {
        assert!(page.contains(link), "{link}");
    }
    // Only Atom: an archive has no RSS or JSON Feed of its own.
    assert_eq!(page.matches("<link rel=\"alternate\"").count(), 1);
    assert!(!page.contains("/fr/rss.xml"));

    let stable = server.get("/fr/archive/2026-09/feed.html").await;
    assert_eq!(stable.status, StatusCode::OK);
    assert_eq!(stable.body, nav.body, "the navigation shows this page");
    assert_eq!(
        stable.header("cache-control"),
        archive.header("cache-control"),
        "kept as long as the archive"
    );
    let etag = stable.header("etag").expect("an ETag");
    assert_ne!(Some(etag), archive.header("etag"));
    let revalidated = server
        .get_with("/fr/archive/2026-09/feed.html", &[("if-none-match", etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);

    // The oldest month links no older one; a month still open, or one
    // without items, has no archive and so no page.
    let oldest = server.get("/fr/archive/2026-08/feed.html").await.text();
    assert!(!oldest.contains("Plus ancien"));
    assert!(oldest.contains("Plus récent\u{a0}: septembre 2026</a>"));
    for missing in [
        "/fr/archive/2026-11/feed.html",
        "/fr/archive/2026-07/feed.html",
        "/fr/archive/2026-09/rss.xml",
    ] {
        assert_eq!(
            server.get_with(missing, &NAVIGATION).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // A correction of an archived month shows in its page at once.
    let corrected = "Un article de septembre, corrigé";
    put(
        &server,
        &french("arsip-september", "2026-09-12T09:00:00+07:00", corrected),
    )
    .await;
    let after = server.get("/fr/archive/2026-09/feed.html").await.text();
    assert!(after.contains(corrected), "the page went with its archive");
    server.stop().await;
}
