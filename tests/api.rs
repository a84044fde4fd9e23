//! The newsroom's write path through real HTTP: publish, correct, retract,
//! validation that names the field, authentication, exact invalidation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{AUTH, DEADLINE, Site, TOKEN, TestServer, eventually, send};
use hyper::StatusCode;
use kabar::SqliteStore;
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

/// A new article in Indonesian, English and French.
fn article(id: &str) -> Value {
    json!({
        "id": id,
        "section": "technology",
        "published": "2026-11-27T09:00:00+07:00",
        "tags": ["Uji"],
        "authors": [{"name": "Desk Teknologi"}],
        "versions": {
            "id": {"translation": "original", "title": "Judul asli", "body": "Paragraf pertama.\n\nParagraf kedua."},
            "en": {"translation": "machine", "title": "Original title", "body": "First paragraph.\n\nSecond paragraph."},
            "fr": {"translation": "machine", "body": "Partager:\n\nPremier paragraphe. Suite du texte."}
        }
    })
}

async fn put(server: &TestServer<SqliteStore>, path: &str, body: &Value) -> common::Response {
    send(server.addr, "PUT", path, &[AUTH, JSON], body.to_string()).await
}

/// Creates `robot-baru` (see [`article`]), which must be new.
async fn create_robot(server: &TestServer<SqliteStore>) -> common::Response {
    let res = put(
        server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res
}

/// Replaces the French version of `robot-baru` (see [`article`]).
async fn put_french(server: &TestServer<SqliteStore>, version: &Value) -> common::Response {
    put(server, "/api/v1/articles/robot-baru/versions/fr", version).await
}

/// An authorized request without a body.
async fn call(server: &TestServer<SqliteStore>, method: &str, path: &str) -> common::Response {
    send(server.addr, method, path, &[AUTH], "").await
}

async fn feed_ids(server: &TestServer<SqliteStore>, path: &str) -> Vec<String> {
    let res = server.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}");
    common::parse_feed(&res.body)
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn item(lang: &str, id: &str) -> String {
    format!("tag:kabar.example,2026:{lang}/{id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_put_article_appears_in_every_format_and_a_delete_retracts_it() {
    let server = Site::new().serve_api().await;
    // Warm the caches, so the test shows invalidation rather than a cold build.
    for path in ["/fr/rss.xml", "/fr/technology/atom.xml", "/en/feed.json"] {
        assert!(
            !feed_ids(&server, path)
                .await
                .contains(&item("fr", "robot-baru"))
        );
    }
    let res = create_robot(&server).await;
    let etag = res.header("etag").unwrap().to_owned();
    let stored: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(stored["versions"]["fr"]["translation"], "machine");

    for (lang, path) in [
        ("fr", "/fr/rss.xml"),
        ("fr", "/fr/technology/atom.xml"),
        ("en", "/en/feed.json"),
        ("id", "/id/atom.xml"),
    ] {
        let ids = feed_ids(&server, path).await;
        assert_eq!(
            ids.first(),
            Some(&item(lang, "robot-baru")),
            "{path}: newest first"
        );
    }

    let res = call(&server, "GET", "/api/v1/articles/robot-baru").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    let got: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(got, stored);
    let res = call(&server, "GET", "/api/v1/articles/robot-baru/versions/en").await;
    let version: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(version["title"], "Original title");

    let res = call(&server, "DELETE", "/api/v1/articles/robot-baru").await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    for lang in ["id", "en", "fr"] {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            for path in [
                format!("/{lang}/{file}"),
                format!("/{lang}/technology/{file}"),
            ] {
                assert!(
                    !feed_ids(&server, &path)
                        .await
                        .contains(&item(lang, "robot-baru")),
                    "{path}"
                );
            }
        }
    }
    let res = call(&server, "GET", "/api/v1/articles/robot-baru").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(&server, "DELETE", "/api/v1/articles/robot-baru").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_put_changes_only_that_languages_feeds() {
    let server = Site::new().serve_api().await;
    create_robot(&server).await;
    let paths: Vec<String> = ["id", "en", "zh", "fr"]
        .iter()
        .flat_map(|l| ["rss.xml", "atom.xml", "feed.json"].map(|f| format!("/{l}/{f}")))
        .chain([
            "/fr/technology/rss.xml".to_owned(),
            "/en/technology/atom.xml".to_owned(),
            "/feeds.opml".to_owned(),
        ])
        .collect();
    let mut before = Vec::new();
    for path in &paths {
        before.push(server.get(path).await.header("etag").unwrap().to_owned());
    }
    let regenerated =
        json!({"translation": "machine", "title": "Un titre corrigé", "body": "Texte régénéré."});
    let res = put_french(&server, &regenerated).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    for (path, etag) in paths.iter().zip(&before) {
        let now = server.get(path).await;
        let changed = now.header("etag") != Some(etag.as_str());
        assert_eq!(changed, path.starts_with("/fr/"), "{path}");
    }
    let atom = common::parse_feed(&server.get("/fr/atom.xml").await.body);
    let entry = atom
        .entries
        .iter()
        .find(|e| e.id == item("fr", "robot-baru"))
        .unwrap();
    assert_eq!(entry.title.as_ref().unwrap().content, "Un titre corrigé");

    // The same body again changes nothing: same bytes, no render.
    let etag = server
        .get("/fr/rss.xml")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let renders = server.app.metrics.renders_total();
    let res = put_french(&server, &regenerated).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        server.get("/fr/rss.xml").await.header("etag"),
        Some(etag.as_str())
    );
    assert_eq!(server.app.metrics.renders_total(), renders);

    // The original cannot go alone; a translation can.
    let res = call(&server, "DELETE", "/api/v1/articles/robot-baru/versions/id").await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let res = call(&server, "DELETE", "/api/v1/articles/robot-baru/versions/fr").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        !feed_ids(&server, "/fr/rss.xml")
            .await
            .contains(&item("fr", "robot-baru"))
    );
    assert!(
        feed_ids(&server, "/en/rss.xml")
            .await
            .contains(&item("en", "robot-baru"))
    );
    server.stop().await;
}

/// Each serving thread serves hits from its own copy of a render: after a
/// write is acknowledged, no thread may answer from the copy it made before,
/// in any coding, nor confirm the old ETag with a 304. The test server runs
/// four, and the kernel spreads 32 connections at a time over all of them.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_write_no_serving_thread_serves_its_old_copy() {
    let server = Site::new().serve_api().await;
    create_robot(&server).await;
    let codings = ["identity", "gzip", "br"];
    let burst = |headers: Vec<(&'static str, String)>| {
        let addr = server.addr;
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let headers = headers.clone();
                tokio::spawn(async move {
                    let headers: Vec<(&str, &str)> =
                        headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    common::request(addr, "GET", "/fr/rss.xml", &headers).await
                })
            })
            .collect();
        async move {
            let mut responses = Vec::new();
            for task in tasks {
                responses.push(task.await.unwrap());
            }
            responses
        }
    };
    // Every thread copies the render in every coding.
    let mut old = Vec::new();
    for coding in codings {
        let responses = burst(vec![("accept-encoding", coding.to_owned())]).await;
        let etag = responses[0].header("etag").unwrap().to_owned();
        assert!(
            responses
                .iter()
                .all(|r| r.header("etag") == Some(etag.as_str()))
        );
        old.push(etag);
    }

    let corrected =
        json!({"translation": "machine", "title": "Titre corrigé partout", "body": "Texte."});
    let res = put_french(&server, &corrected).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    for (coding, old) in codings.iter().zip(&old) {
        let responses = burst(vec![
            ("accept-encoding", (*coding).to_owned()),
            ("if-none-match", old.clone()),
        ])
        .await;
        let etag = responses[0].header("etag").unwrap().to_owned();
        assert_ne!(&etag, old, "{coding}");
        for res in &responses {
            assert_eq!(res.status, StatusCode::OK, "{coding}");
            assert_eq!(res.header("etag"), Some(etag.as_str()), "{coding}");
        }
    }
    let identity = server.get("/fr/rss.xml").await;
    assert!(identity.text().contains("Titre corrigé partout"));
    server.stop().await;
}

/// Feed bytes that must not move when a write is refused.
async fn snapshot(server: &TestServer<SqliteStore>) -> Vec<bytes::Bytes> {
    let mut out = Vec::new();
    for path in [
        "/id/rss.xml",
        "/en/atom.xml",
        "/fr/feed.json",
        "/fr/world/rss.xml",
    ] {
        out.push(server.get(path).await.body);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_writes_name_the_field_and_change_nothing() {
    let server = Site::edited(|t| t.replace("max_body_bytes = 1048576", "max_body_bytes = 65536"))
        .serve_api()
        .await;
    let existing = "biden-putin-phone-call";
    let before = snapshot(&server).await;
    let res = call(&server, "GET", &format!("/api/v1/articles/{existing}")).await;
    let original: Value = serde_json::from_slice(&res.body).unwrap();

    let mut cases: Vec<(Value, StatusCode, &str, &str)> = Vec::new();
    let mut a = original.clone();
    a["versions"]["de"] = json!({"translation": "machine", "body": "Text"});
    cases.push((
        a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "versions.de",
        "unknown language",
    ));
    let mut a = original.clone();
    a["versions"]["fr"]["translation"] = json!("original");
    cases.push((
        a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "versions.fr.translation",
        "is a translation",
    ));
    let mut a = original.clone();
    a["versions"].as_object_mut().unwrap().remove("id");
    cases.push((
        a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "versions.id",
        "original-language version is missing",
    ));
    let mut a = original.clone();
    a["versions"]["fr"]["url"] = json!("/fr/world/relative");
    cases.push((
        a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "versions.fr.url",
        "relative URL",
    ));
    let mut a = original.clone();
    a["published"] = json!("2026-11-03T21:35:00");
    cases.push((a, StatusCode::UNPROCESSABLE_ENTITY, "published", "input"));
    let mut a = original.clone();
    a["id"] = json!("another-article");
    cases.push((a, StatusCode::UNPROCESSABLE_ENTITY, "id", "the URL names"));
    let mut a = original.clone();
    a["colour"] = json!("red");
    cases.push((
        a,
        StatusCode::UNPROCESSABLE_ENTITY,
        "colour",
        "unknown field `colour`",
    ));
    let mut a = original.clone();
    a["versions"]["fr"]["body"] = json!("x".repeat(70_000));
    cases.push((
        a,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body",
        "larger than the limit of 65536 bytes",
    ));

    for (body, status, field, reason) in cases {
        let res = put(&server, &format!("/api/v1/articles/{existing}"), &body).await;
        assert_eq!(res.status, status, "{field}: {}", res.text());
        let error: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(error["field"], field, "{error}");
        assert!(
            error["reason"].as_str().unwrap().contains(reason),
            "{error}"
        );
    }

    let res = send(
        server.addr,
        "PUT",
        &format!("/api/v1/articles/{existing}"),
        &[AUTH, ("content-type", "text/plain")],
        original.to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = send(
        server.addr,
        "PUT",
        &format!("/api/v1/articles/{existing}"),
        &[AUTH, JSON],
        "{\n  \"id\": \"x\",\n  nope\n}",
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let error: Value = serde_json::from_slice(&res.body).unwrap();
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .contains("line 3, column 3"),
        "{error}"
    );
    let res = put(&server, "/api/v1/articles/Not_A_Slug", &original).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_slice::<Value>(&res.body).unwrap()["field"],
        "id"
    );
    let res = put(
        &server,
        "/api/v1/articles/biden-putin-phone-call/versions/de",
        &json!({}),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // If-Match with a stale tag is refused; the current tag is accepted.
    let stale = [AUTH, JSON, ("if-match", "\"0123\"")];
    let res = send(
        server.addr,
        "PUT",
        &format!("/api/v1/articles/{existing}"),
        &stale,
        original.to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::PRECONDITION_FAILED);
    let res = send(
        server.addr,
        "DELETE",
        &format!("/api/v1/articles/{existing}"),
        &stale,
        "",
    )
    .await;
    assert_eq!(res.status, StatusCode::PRECONDITION_FAILED);

    assert_eq!(
        snapshot(&server).await,
        before,
        "refused writes change no feed"
    );
    let res = call(&server, "GET", &format!("/api/v1/articles/{existing}")).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&res.body).unwrap(),
        original
    );

    let current = res.header("etag").unwrap().to_owned();
    let res = send(
        server.addr,
        "PUT",
        &format!("/api/v1/articles/{existing}"),
        &[AUTH, JSON, ("if-match", &current)],
        original.to_string(),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        snapshot(&server).await,
        before,
        "an identical PUT changes no byte"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_need_the_token() {
    let server = Site::new().serve_api().await;
    let path = "/api/v1/articles/robot-baru";
    let body = article("robot-baru").to_string();
    let res = send(server.addr, "PUT", path, &[JSON], body.clone()).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer realm=\"kabar\"")
    );
    let res = send(
        server.addr,
        "PUT",
        path,
        &[JSON, ("authorization", "Bearer wrong-token-0123456789abc")],
        body.clone(),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate"),
        Some("Bearer realm=\"kabar\", error=\"invalid_token\"")
    );
    let res = send(
        server.addr,
        "GET",
        path,
        &[("authorization", &format!("Basic {TOKEN}"))],
        "",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(
        !feed_ids(&server, "/en/rss.xml")
            .await
            .contains(&item("en", "robot-baru"))
    );
    server.stop().await;

    // Without a token configured the API does not exist.
    let server = common::start().await;
    let res = send(server.addr, "PUT", path, &[AUTH, JSON], body).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_puts_of_different_articles_all_land() {
    let server = Site::new().serve_api().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let id = format!("bersamaan-{i:02}");
            let mut body = article(&id);
            body["published"] = json!(format!("2026-11-27T10:{i:02}:00+07:00"));
            send(
                addr,
                "PUT",
                &format!("/api/v1/articles/{id}"),
                &[AUTH, JSON],
                body.to_string(),
            )
            .await
            .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::CREATED);
    }
    let ids = feed_ids(&server, "/en/technology/feed.json").await;
    for i in 0..24 {
        assert!(
            ids.contains(&item("en", &format!("bersamaan-{i:02}"))),
            "bersamaan-{i:02}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_by_another_process_reaches_the_feeds_within_a_second() {
    let server = Site::new().serve_api().await;
    let site = server.site();
    assert!(
        !feed_ids(&server, "/en/rss.xml")
            .await
            .contains(&item("en", "impor-luar"))
    );
    // A bulk import into the same SQLite file, by another process.
    let folder = site.dir().join("incoming");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("impor-luar.json"),
        article("impor-luar").to_string(),
    )
    .unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kabar"))
        .arg("import")
        .arg(&folder)
        .arg("--config")
        .arg(site.config_file())
        .status()
        .unwrap();
    assert!(status.success());
    eventually(
        "the import to show in /en/rss.xml",
        Duration::from_secs(1) + kabar::changes::POLL_INTERVAL,
        async || {
            feed_ids(&server, "/en/rss.xml")
                .await
                .contains(&item("en", "impor-luar"))
        },
    )
    .await;
    server.stop().await;
}

/// A WebSub hub on 127.0.0.1 that records publish pings and answers 500 to the
/// first one.
struct TestHub {
    url: String,
    pings: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn start_hub() -> TestHub {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    let pings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&pings);
    tokio::spawn(async move {
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = Arc::clone(&seen);
                        let answered = Arc::clone(&answered);
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let form: Vec<(String, String)> =
                                url::form_urlencoded::parse(&body).into_owned().collect();
                            assert!(
                                form.contains(&("hub.mode".to_owned(), "publish".to_owned())),
                                "{form:?}"
                            );
                            let feed = form
                                .iter()
                                .find(|(k, _)| k == "hub.url")
                                .map(|(_, v)| v.clone())
                                .unwrap();
                            let first =
                                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                            let status = if first { 500 } else { 202 };
                            if !first {
                                seen.lock().unwrap().push(feed);
                            }
                            let mut response = hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::new(),
                            ));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestHub { url, pings }
}

#[tokio::test(flavor = "multi_thread")]
async fn hubs_hear_once_of_each_changed_feed_and_are_retried_after_a_500() {
    let hub = start_hub().await;
    let hub_url = hub.url.clone();
    let server = Site::edited(move |t| t.replace("hubs = []", &format!("hubs = [{hub_url:?}]")))
        .serve_api()
        .await;

    let res = server.get("/fr/rss.xml").await;
    let link = res.header("link").unwrap();
    // The built-in hub first, then the configured ones.
    assert_eq!(
        link,
        format!(
            "<http://127.0.0.1:8080/websub>; rel=\"hub\", <{}>; rel=\"hub\", \
             <http://127.0.0.1:8080/fr/rss.xml>; rel=\"self\"",
            hub.url
        )
    );
    assert!(
        res.text()
            .contains(&format!("<atom:link href=\"{}\" rel=\"hub\"/>", hub.url))
    );

    create_robot(&server).await;
    let mut expected: Vec<String> = Vec::new();
    for lang in ["id", "en", "fr"] {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            expected.push(format!("http://127.0.0.1:8080/{lang}/{file}"));
            expected.push(format!("http://127.0.0.1:8080/{lang}/technology/{file}"));
            // The article's tag, "Uji": its tag feeds advertise the hubs too.
            expected.push(format!("http://127.0.0.1:8080/{lang}/tags/uji/{file}"));
        }
    }
    expected.sort();
    // One ping per changed feed, the first retried after its 500 (backoff 1 s).
    let pings = eventually("a ping for every changed feed", DEADLINE, async || {
        let mut seen = hub.pings.lock().unwrap().clone();
        seen.sort();
        assert!(seen.len() <= expected.len(), "duplicate pings: {seen:?}");
        (seen.len() == expected.len()).then_some(seen)
    })
    .await;
    assert_eq!(pings, expected);
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("kabar_websub_published_total 27"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kabar_websub_retries_total 1"),
        "{metrics}"
    );

    // A write that changes nothing pings nobody.
    let res = put(
        &server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    // A write queues its pings before it is answered; close() returns once the queue is delivered.
    assert!(server.app.publisher.close(DEADLINE).await);
    assert_eq!(hub.pings.lock().unwrap().len(), 27);
    server.stop().await;
}

/// Stopping the server lets a request already being received finish: a write
/// whose body is still arriving is stored and answered, and only then does
/// the server stop.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_in_flight_at_shutdown_is_finished_and_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut server = Site::new().serve_api().await;
    // Read after the stop: the store's file must outlive the server.
    let _site = server.keep_site();
    let addr = server.addr;
    let store = Arc::clone(&server.app.store);
    let body = article("robot-terakhir").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "PUT /api/v1/articles/robot-terakhir HTTP/1.1\r\nHost: kabar.test\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // hyper sends 100 Continue once the handler reads the body: it now waits for the rest.
    let mut interim = [0; 25];
    client.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let stopping = tokio::spawn(server.stop());
    // Every serving thread closes its listening socket on the stop signal, before it drains.
    eventually("the server to stop listening", DEADLINE, async || {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(!stopping.is_finished(), "stopped with a request in flight");

    client.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("stops once the request is answered")
        .unwrap();
    assert!(
        kabar::ArticleStore::article(&*store, "robot-terakhir".to_owned())
            .await
            .unwrap()
            .is_some()
    );
    // New connections are refused once stopped.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
