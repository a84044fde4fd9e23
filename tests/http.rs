//! HTTP behaviour of the real server: validators, codings, methods, errors,
//! coalescing, stale-if-error, timeouts and metrics.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Site, raw, request, start};
use hyper::StatusCode;
use kabar::article::Article;
use kabar::store::{
    ArticleStore, Change, ChangeLog, Delivery, FediDelivery, FediOutcome, FediStore, FeedQuery,
    FeedRow, Finished, Follower, HubStore, IfMatch, LoggedChanges, NewFediDelivery,
    NewSubscription, PostState, Room, Seek, StoreError, Subscribed, SubscriptionCounts,
    SubscriptionLimits, Touched,
};

const FEED: &str = "/fr/rss.xml";

/// A feed whose gzip body is below the page file's threshold.
const SMALL: &str = "/fr/sports/rss.xml";

#[tokio::test(flavor = "multi_thread")]
async fn feeds_carry_the_contract_headers() {
    let server = start().await;
    let res = server.get(FEED).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(
        res.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=300, stale-while-revalidate=60, stale-if-error=86400")
    );
    assert_eq!(
        res.header("link"),
        Some(
            "<http://127.0.0.1:8080/websub>; rel=\"hub\", \
             <http://127.0.0.1:8080/fr/rss.xml>; rel=\"self\""
        )
    );
    assert_eq!(
        res.header("content-length"),
        Some(res.body.len().to_string().as_str())
    );
    assert!(res.header("content-encoding").is_none());
    let etag = res.header("etag").expect("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    let modified = res.header("last-modified").expect("last-modified");
    httpdate::parse_http_date(modified).expect("an HTTP date");

    let types = [
        ("/fr/atom.xml", "application/atom+xml; charset=utf-8"),
        (
            "/fr/world/feed.json",
            "application/feed+json; charset=utf-8",
        ),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ];
    for (path, content_type) in types {
        let res = server.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.header("content-type"), Some(content_type), "{path}");
    }
    server.stop().await;
}

/// The header fields of a 304, besides Date.
const NOT_MODIFIED_FIELDS: [&str; 5] = [
    "access-control-allow-origin",
    "access-control-expose-headers",
    "cache-control",
    "etag",
    "vary",
];

/// A response's header fields by name, without Date (it moves with the clock).
fn fields(res: &common::Response) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = res
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| {
            let value = value.to_str().expect("ASCII header value");
            (name.as_str().to_owned(), value.to_owned())
        })
        .collect();
    fields.sort();
    fields
}

#[tokio::test(flavor = "multi_thread")]
async fn hits_carry_the_same_header_fields_as_the_render_that_made_them() {
    let server = start().await;
    for coding in ["identity", "gzip", "br"] {
        let accept = [("accept-encoding", coding)];
        // The feed's first request and brotli's first are answered from the
        // shared render, with header maps made for them; the rest from the
        // serving threads' copies, with the maps each thread built.
        let first = server.get_with(FEED, &accept).await;
        assert_eq!(first.status, StatusCode::OK, "{coding}");
        let expected = fields(&first);
        for _ in 0..8 {
            let hit = server.get_with(FEED, &accept).await;
            assert_eq!(fields(&hit), expected, "{coding}");
            assert_eq!(hit.body, first.body, "{coding}");
        }
        let etag = first.header("etag").expect("etag");
        let revalidate = [("accept-encoding", coding), ("if-none-match", etag)];
        // RFC 9110 §15.4.5: the validators, caching fields and CORS, as the
        // 200 has them; not the representation's metadata.
        let kept: Vec<(String, String)> = expected
            .iter()
            .filter(|(name, _)| NOT_MODIFIED_FIELDS.contains(&name.as_str()))
            .cloned()
            .collect();
        assert_eq!(kept.len(), NOT_MODIFIED_FIELDS.len(), "{coding}");
        for _ in 0..8 {
            let not_modified = server.get_with(FEED, &revalidate).await;
            assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED, "{coding}");
            assert!(not_modified.body.is_empty(), "{coding}");
            assert_eq!(fields(&not_modified), kept, "{coding}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_gets_answer_304_without_a_body() {
    let server = start().await;
    let first = server.get(FEED).await;
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();

    let res = server.get_with(FEED, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    assert!(res.body.is_empty());
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    assert_eq!(
        res.header("vary"),
        Some("Accept-Encoding, Sec-Fetch-Dest, Sec-Fetch-Mode")
    );

    let res = server
        .get_with(FEED, &[("if-none-match", "\"something-else\"")])
        .await;
    assert_eq!(res.status, StatusCode::OK);

    let res = server
        .get_with(FEED, &[("if-modified-since", &modified)])
        .await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    assert!(res.body.is_empty());

    let earlier = httpdate::parse_http_date(&modified).unwrap() - std::time::Duration::from_secs(1);
    let res = server
        .get_with(
            FEED,
            &[("if-modified-since", &httpdate::fmt_http_date(earlier))],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, first.body);

    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    let res = server
        .get_with(
            FEED,
            &[
                ("if-none-match", "\"other\""),
                ("if-modified-since", &modified),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);

    // The gzip representation has its own ETag; the identity one does not match it.
    let gz = server.get_with(FEED, &[("accept-encoding", "gzip")]).await;
    let gz_etag = gz.header("etag").unwrap().to_owned();
    assert_ne!(gz_etag, etag);
    let res = server
        .get_with(
            FEED,
            &[("accept-encoding", "gzip"), ("if-none-match", &gz_etag)],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
    let res = server.get_with(FEED, &[("if-none-match", &gz_etag)]).await;
    assert_eq!(res.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_bodies_decode_to_the_identity_body() {
    let server = start().await;
    let identity = server.get(FEED).await;

    let gz = server.get_with(FEED, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), identity.body);
    assert!(gz.body.len() < identity.body.len() / 2);

    let br = server
        .get_with(FEED, &[("accept-encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, identity.body);

    let etags = [
        identity.header("etag"),
        gz.header("etag"),
        br.header("etag"),
    ];
    assert_ne!(etags[0], etags[1]);
    assert_ne!(etags[1], etags[2]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn q_zero_excludes_a_coding() {
    let server = start().await;
    let res = server
        .get_with(FEED, &[("accept-encoding", "br;q=0, gzip")])
        .await;
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    let res = server
        .get_with(FEED, &[("accept-encoding", "br;q=0, gzip;q=0")])
        .await;
    assert_eq!(res.header("content-encoding"), None);
    let res = server
        .get_with(FEED, &[("accept-encoding", "*;q=0, br;q=0.5")])
        .await;
    assert_eq!(res.header("content-encoding"), Some("br"));
    let res = server
        .get_with(FEED, &[("accept-encoding", "gzip;q=0.3, identity;q=0.9")])
        .await;
    assert_eq!(res.header("content-encoding"), None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn head_sends_the_headers_of_get_and_no_body() {
    let server = start().await;
    let get = server.get_with(FEED, &[("accept-encoding", "gzip")]).await;
    let head = request(server.addr, "HEAD", FEED, &[("accept-encoding", "gzip")]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    for name in [
        "content-type",
        "content-length",
        "content-encoding",
        "etag",
        "last-modified",
        "vary",
    ] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_methods_get_405_with_allow() {
    let server = start().await;
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let res = request(server.addr, method, FEED, &[]).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_get_404_listing_what_exists() {
    let server = start().await;
    let cases = [
        ("/de/rss.xml", "unknown language \"de\""),
        ("/fr/weather/rss.xml", "unknown section \"weather\""),
        ("/fr/feed.xml", "unknown feed format \"feed.xml\""),
        ("/fr/world/extra/rss.xml", "no route"),
    ];
    for (path, reason) in cases {
        let res = server.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        let body = res.text();
        assert!(body.contains(reason), "{path}: {body}");
        assert!(body.contains("languages: id, en, zh, ja, ar, fr"), "{body}");
        assert!(
            body.contains("sections: national, world, business, technology, sports"),
            "{body}"
        );
        assert!(
            body.contains("formats: rss.xml, atom.xml, feed.json"),
            "{body}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_400() {
    let server = start().await;
    let res = server.get("/%zz/rss.xml").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = server.get("/%c3%28/rss.xml").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let answer = raw(
        server.addr,
        b"GET /fr/rss.xml HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("no Host header"), "{answer}");

    let answer = raw(server.addr, b"GARBAGE\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    let big = format!(
        "GET /fr/rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw(server.addr, big.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );

    // The server is still healthy afterwards.
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_cold_requests_render_once() {
    let server = start().await;
    let before = server.app.metrics.renders_total();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            request(addr, "GET", "/ja/atom.xml", &[]).await
        }));
    }
    let mut bodies = Vec::new();
    for task in tasks {
        let res = task.await.unwrap();
        assert_eq!(res.status, StatusCode::OK);
        bodies.push(res.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(server.app.metrics.renders_total() - before, 1);

    // A hit renders nothing.
    server.get("/ja/atom.xml").await;
    assert_eq!(server.app.metrics.renders_total() - before, 1);
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("kabar_renders_total{kind=\"atom\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kabar_http_requests_total{route=\"feed\",status=\"200\"} 11"),
        "{metrics}"
    );
    assert!(metrics.contains("kabar_cache_hits_total"), "{metrics}");
    server.stop().await;
}

/// A store that can be made to fail, to show stale-if-error.
struct FlakyStore {
    inner: kabar::SqliteStore,
    failing: AtomicBool,
}

impl ArticleStore for FlakyStore {
    async fn feed_rows(&self, query: FeedQuery) -> Result<Vec<FeedRow>, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Task("the database is away".into()));
        }
        self.inner.feed_rows(query).await
    }
    async fn published_near(&self, lang: String, seek: Seek) -> Result<Option<i64>, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Task("the database is away".into()));
        }
        self.inner.published_near(lang, seek).await
    }
    async fn put_articles(&self, articles: Vec<Article>) -> Result<Touched, StoreError> {
        self.inner.put_articles(articles).await
    }
    async fn put_article(
        &self,
        article: Article,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        self.inner.put_article(article, if_match).await
    }
    async fn delete_article(
        &self,
        id: String,
        if_match: Option<IfMatch>,
    ) -> Result<Change, StoreError> {
        self.inner.delete_article(id, if_match).await
    }
    async fn articles_after(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Article>, StoreError> {
        self.inner.articles_after(after, limit).await
    }
    async fn changes_since(&self, seq: u64) -> Result<ChangeLog, StoreError> {
        self.inner.changes_since(seq).await
    }
    async fn article(&self, id: String) -> Result<Option<Article>, StoreError> {
        self.inner.article(id).await
    }
    async fn article_count(&self) -> Result<u64, StoreError> {
        self.inner.article_count().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Task("the database is away".into()));
        }
        self.inner.ping().await
    }
}

/// The hub's part is not what this store is about: it passes straight through.
impl HubStore for FlakyStore {
    async fn subscribe(
        &self,
        subscription: NewSubscription,
        limits: SubscriptionLimits,
        now_ms: i64,
    ) -> Result<Subscribed, StoreError> {
        self.inner.subscribe(subscription, limits, now_ms).await
    }
    async fn unsubscribe(&self, topic: String, callback: String) -> Result<bool, StoreError> {
        self.inner.unsubscribe(topic, callback).await
    }
    async fn subscription_room(
        &self,
        topic: String,
        callback: String,
        host: String,
        now_ms: i64,
    ) -> Result<Room, StoreError> {
        self.inner
            .subscription_room(topic, callback, host, now_ms)
            .await
    }
    async fn hub_log_position(&self) -> Result<u64, StoreError> {
        self.inner.hub_log_position().await
    }
    async fn enqueue_deliveries(
        &self,
        changes: LoggedChanges,
        now_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.inner.enqueue_deliveries(changes, now_ms).await
    }
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        claim_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.inner
            .claim_deliveries(now_ms, claim_until_ms, limit)
            .await
    }
    async fn finish_deliveries(
        &self,
        finished: Vec<Finished>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.inner.finish_deliveries(finished, now_ms).await
    }
    async fn expire_subscriptions(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.inner.expire_subscriptions(now_ms).await
    }
    async fn subscription_counts(&self, now_ms: i64) -> Result<SubscriptionCounts, StoreError> {
        self.inner.subscription_counts(now_ms).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_store_serves_the_last_good_render() {
    let site = Site::new();
    let store = Arc::new(FlakyStore {
        inner: site.store().await,
        failing: AtomicBool::new(false),
    });
    let server = site.serve_store(Arc::clone(&store)).await;

    let good = server.get("/en/rss.xml").await;
    assert_eq!(good.status, StatusCode::OK);
    assert_eq!(server.get("/readyz").await.status, StatusCode::OK);

    store.failing.store(true, Ordering::SeqCst);
    server.app.cache.invalidate_all();
    let stale = server.get("/en/rss.xml").await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, good.body);
    let metrics = server.get("/metrics").await.text();
    assert!(metrics.contains("kabar_stale_served_total 1"), "{metrics}");
    assert!(
        metrics.contains("kabar_build_failures_total 1"),
        "{metrics}"
    );
    assert_eq!(
        server.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // A feed never rendered before has nothing to fall back on: 503, not 500.
    let res = server.get("/en/sports/rss.xml").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);

    // Nor has an archive, rendered or not: archives keep no render beyond
    // the cache's bound.
    store.failing.store(false, Ordering::SeqCst);
    let old = Article::from_json(
        &std::fs::read_to_string(common::repo().join("demo/articles/biden-putin-phone-call.json"))
            .unwrap()
            .replace("\"2026-11-", "\"2026-10-"),
    )
    .unwrap();
    store.inner.put_articles(vec![old]).await.unwrap();
    let archive = "/en/archive/2026-10/atom.xml";
    assert_eq!(server.get(archive).await.status, StatusCode::OK);
    store.failing.store(true, Ordering::SeqCst);
    server.app.cache.invalidate_all();
    let res = server.get(archive).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.get("/en/rss.xml").await.body, good.body);

    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(
        server.get("/en/sports/rss.xml").await.status,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_slow_clients_are_cut_off() {
    let server = Site::edited(|t| {
        t.replace(
            "header_read_timeout_secs = 10",
            "header_read_timeout_secs = 1",
        )
    })
    .serve()
    .await;
    // Connects and says nothing: closed after the header timeout.
    let started = std::time::Instant::now();
    let answer = raw(server.addr, b"").await;
    assert!(answer.is_empty(), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));

    // Starts a request and never finishes its headers.
    let started = std::time::Instant::now();
    let answer = raw(server.addr, b"GET /fr/rss.xml HTTP/1.1\r\nHost: x\r\n").await;
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert_eq!(server.get("/healthz").await.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness() {
    let server = start().await;
    let res = server.get("/healthz").await;
    assert_eq!((res.status, res.text().as_str()), (StatusCode::OK, "ok\n"));
    let res = server.get("/readyz").await;
    assert_eq!(
        (res.status, res.text().as_str()),
        (StatusCode::OK, "ready\n")
    );
    let res = server.get("/metrics").await;
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        res.text()
            .contains("# TYPE kabar_http_requests_total counter")
    );
    server.stop().await;
}

/// HTTP/2 with prior knowledge (h2c): streams of one connection are served
/// concurrently on its serving thread, with the same bytes and validators as
/// HTTP/1.1.
#[tokio::test(flavor = "multi_thread")]
async fn http2_streams_get_the_same_bytes_as_http1() {
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let server = start().await;
    let http1 = request(server.addr, "GET", FEED, &[("accept-encoding", "gzip")]).await;
    assert_eq!(http1.status, StatusCode::OK);

    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let get_in = |coding: &'static str, path: &'static str, etag: Option<String>| {
        let mut sender = sender.clone();
        let authority = server.addr.to_string();
        async move {
            let mut req = hyper::Request::get(format!("http://{authority}{path}"))
                .header("accept-encoding", coding);
            if let Some(etag) = etag {
                req = req.header("if-none-match", etag);
            }
            let req = req
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            let res = sender.send_request(req).await.unwrap();
            let (parts, body) = res.into_parts();
            (parts, body.collect().await.unwrap().to_bytes())
        }
    };
    let get = |path, etag| get_in("gzip", path, etag);
    let (feed, other) = tokio::join!(get(FEED, None), get("/en/atom.xml", None));
    assert_eq!(feed.0.version, hyper::Version::HTTP_2);
    assert_eq!(feed.0.status, StatusCode::OK);
    assert_eq!(feed.0.headers["content-encoding"], "gzip");
    assert_eq!(feed.0.headers["etag"], http1.header("etag").unwrap());
    assert_eq!(feed.1, http1.body);
    assert_eq!(other.0.status, StatusCode::OK);
    assert!(common::parse_feed(&gunzip(&other.1)).entries.len() > 1);

    // The identity body lies in the page file; its frames are copied from there.
    let identity = request(server.addr, "GET", FEED, &[]).await;
    assert!(identity.body.len() >= kabar::serve::pages::MIN_BODY);
    let (plain, body) = get_in("identity", FEED, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(body == identity.body, "the same bytes as HTTP/1.1");

    let etag = http1.header("etag").unwrap().to_owned();
    let (revalidated, body) = get(FEED, Some(etag)).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    server.stop().await;
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut decoded)
        .unwrap();
    decoded
}

/// Large bodies go out of the page file by `sendfile` (the bundled default):
/// byte for byte what a server writing them from memory sends, in every
/// coding, and one response after another on a kept-alive connection to a
/// client that reads slowly through a small window, so the kernel takes each
/// body in several pieces.
#[tokio::test(flavor = "multi_thread")]
async fn bodies_sent_from_the_page_file_are_the_bytes_written_from_memory() {
    let on = start().await;
    let off = Site::edited(|text| text.replace("sendfile = true", "sendfile = false"))
        .serve()
        .await;
    let mut codings = Vec::new();
    for coding in ["identity", "gzip", "br"] {
        let sent = on.get_with(FEED, &[("accept-encoding", coding)]).await;
        let written = off.get_with(FEED, &[("accept-encoding", coding)]).await;
        assert_eq!(sent.status, StatusCode::OK);
        assert_eq!(sent.header("etag"), written.header("etag"), "{coding}");
        assert!(sent.body == written.body, "{coding}: the same bytes");
        codings.push(written.body);
    }
    // Every coding of the feed goes by sendfile, each on pages of its own.
    let sizes: Vec<usize> = codings.iter().map(|body| body.len()).collect();
    assert!(
        sizes
            .iter()
            .all(|&len| len >= kabar::serve::pages::MIN_BODY),
        "{sizes:?}"
    );
    let total: usize = sizes.iter().sum();
    let held = page_file_bytes(&on).await;
    assert!(
        held >= total as u64 && held < (total + 3 * 4096) as u64,
        "the feed's three codings are in the page file: {held} for {sizes:?}"
    );
    assert_eq!(page_file_bytes(&off).await, 0);
    // A small section feed is written from memory.
    let small = on
        .get_with(SMALL, &[("accept-encoding", "gzip")])
        .await
        .body;
    assert!(
        small.len() < kabar::serve::pages::MIN_BODY,
        "{}",
        small.len()
    );
    let expected = [codings[0].clone(), small];

    // Pipelined requests for more bytes than the socket buffers hold, read
    // only after a pause through a small window: sendfile stops short and
    // the rest of the body follows once the socket takes more, between
    // responses from memory.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(on.addr).await.unwrap();
    const PIPELINED: usize = 60;
    let requests: String = (0..PIPELINED)
        .map(|i| {
            let (path, coding) = if i % 2 == 0 {
                (FEED, "identity")
            } else {
                (SMALL, "gzip")
            };
            let close = if i == PIPELINED - 1 {
                "connection: close\r\n"
            } else {
                ""
            };
            format!(
                "GET {path} HTTP/1.1\r\nhost: kabar\r\naccept-encoding: {coding}\r\n{close}\r\n"
            )
        })
        .collect();
    tokio::io::AsyncWriteExt::write_all(&mut stream, requests.as_bytes())
        .await
        .unwrap();
    // No assertion rests on this pause: it only gives the server time to fill the socket unread.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let bodies = response_bodies(&answer);
    assert_eq!(bodies.len(), PIPELINED);
    for (i, body) in bodies.iter().enumerate() {
        assert!(*body == expected[i % 2], "response {i}: the same bytes");
    }
    on.stop().await;
    off.stop().await;
}

/// `kabar_page_file_bytes` from the server's `/metrics`.
async fn page_file_bytes(server: &common::TestServer<kabar::SqliteStore>) -> u64 {
    let metrics = server.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("kabar_page_file_bytes "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no kabar_page_file_bytes in {text}"))
}

/// The bodies of the HTTP/1.1 responses in `bytes`, one after another, each
/// as long as its Content-Length says.
fn response_bodies(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of a response head");
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let len: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|value| value.trim().parse().ok())
            .expect("content-length");
        let body = &bytes[end + 4..];
        assert!(body.len() >= len, "a whole body");
        bodies.push(body[..len].to_vec());
        bytes = &body[len..];
    }
    bodies
}

/// The fediverse's part passes straight through too.
impl FediStore for FlakyStore {
    async fn fedi_key(&self, name: String) -> Result<Option<String>, StoreError> {
        self.inner.fedi_key(name).await
    }
    async fn keep_fedi_key(&self, name: String, pem: String) -> Result<String, StoreError> {
        self.inner.keep_fedi_key(name, pem).await
    }
    async fn follow(&self, follower: Follower, now_ms: i64) -> Result<bool, StoreError> {
        self.inner.follow(follower, now_ms).await
    }
    async fn unfollow(&self, lang: String, actor: String) -> Result<bool, StoreError> {
        self.inner.unfollow(lang, actor).await
    }
    async fn forget_follower(&self, actor: String) -> Result<u64, StoreError> {
        self.inner.forget_follower(actor).await
    }
    async fn follower_count(&self, lang: String) -> Result<u64, StoreError> {
        self.inner.follower_count(lang).await
    }
    async fn follower_inboxes(&self, lang: String) -> Result<Vec<String>, StoreError> {
        self.inner.follower_inboxes(lang).await
    }
    async fn fedi_log_position(&self) -> Result<u64, StoreError> {
        self.inner.fedi_log_position().await
    }
    async fn fedi_posted(&self, lang: String, article_id: String) -> Result<bool, StoreError> {
        self.inner.fedi_posted(lang, article_id).await
    }
    async fn queue_fedi(
        &self,
        from: u64,
        to: u64,
        posts: Vec<PostState>,
        deliveries: Vec<NewFediDelivery>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .queue_fedi(from, to, posts, deliveries, now_ms)
            .await
    }
    async fn claim_fedi(
        &self,
        now_ms: i64,
        limit: usize,
        claim_until_ms: i64,
    ) -> Result<Vec<FediDelivery>, StoreError> {
        self.inner.claim_fedi(now_ms, limit, claim_until_ms).await
    }
    async fn finish_fedi(&self, outcomes: Vec<(i64, FediOutcome)>) -> Result<(), StoreError> {
        self.inner.finish_fedi(outcomes).await
    }
    async fn fedi_pending(&self) -> Result<u64, StoreError> {
        self.inner.fedi_pending().await
    }
}
