//! The built-in WebSub hub over real HTTP: discovery, subscription requests
//! and their verification of intent, content distribution after writes
//! through the API (signed, once per changed feed), unsubscribing, leases,
//! retries, refused addresses, malformed requests and a restart.
//!
//! The subscriber is a small callback server on 127.0.0.1; the tests' sites
//! allow that network (`allow_networks`), which a public server would not.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use common::subscriber::{Answer, Callback, hmac_sha256};
use common::{AUTH, DEADLINE, Site, TestServer, eventually, send};
use hyper::StatusCode;
use kabar::SqliteStore;
use kabar::article::Article;
use kabar::hub::{Delivered, Verification};
use kabar::store::ArticleStore;
use serde_json::{Value, json};

/// Test sites: callbacks on loopback allowed, one-second leases possible,
/// retries after tens of milliseconds.
fn hub_config(text: String) -> String {
    text.replace("allow_networks = []", "allow_networks = [\"127.0.0.0/8\"]")
        .replace("lease_min_secs = 86400", "lease_min_secs = 1")
        .replace("retry_base_millis = 1000", "retry_base_millis = 50")
}

async fn server() -> TestServer<SqliteStore> {
    Site::serve_api_public(hub_config).await
}

/// POSTs a subscription request form to the hub.
async fn hub_request(server: &TestServer<SqliteStore>, pairs: &[(&str, &str)]) -> common::Response {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    send(
        server.addr,
        "POST",
        "/websub",
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await
}

fn topic(server: &TestServer<SqliteStore>, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

/// Subscribes `callback` to the feed at `path` and waits for the verification.
async fn subscribe(
    server: &TestServer<SqliteStore>,
    path: &str,
    callback: &str,
    extra: &[(&str, &str)],
) {
    let stats = server.app.hub.stats();
    let before = stats.verifications(Verification::Subscribed);
    let topic = topic(server, path);
    let mut pairs = vec![
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.callback", callback),
    ];
    pairs.extend_from_slice(extra);
    let res = hub_request(server, &pairs).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    eventually("the subscription to be verified", DEADLINE, async || {
        stats.verifications(Verification::Subscribed) > before
    })
    .await;
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A technology article in Indonesian, English and French.
fn article(id: &str) -> Value {
    json!({
        "id": id,
        "section": "technology",
        "published": "2026-11-27T09:00:00+07:00",
        "versions": {
            "id": {"translation": "original", "title": "Judul asli", "body": "Paragraf pertama."},
            "en": {"translation": "machine", "title": "Original title", "body": "First paragraph."},
            "fr": {"translation": "machine", "title": "Titre", "body": "Premier paragraphe."}
        }
    })
}

/// A subscription request with just its three required parameters.
async fn ask(
    server: &TestServer<SqliteStore>,
    mode: &str,
    topic: &str,
    callback: &str,
) -> common::Response {
    hub_request(
        server,
        &[
            ("hub.mode", mode),
            ("hub.topic", topic),
            ("hub.callback", callback),
        ],
    )
    .await
}

async fn put(server: &TestServer<SqliteStore>, path: &str, body: &Value) {
    let res = send(server.addr, "PUT", path, &[AUTH, JSON], body.to_string()).await;
    assert!(res.status.is_success(), "{}", res.text());
}

/// Replaces one language version of `id`: touches that language's feeds only.
async fn put_version(server: &TestServer<SqliteStore>, id: &str, lang: &str, title: &str) {
    let version = json!({"translation": "machine", "title": title, "body": "Texte corrigé."});
    put(
        server,
        &format!("/api/v1/articles/{id}/versions/{lang}"),
        &version,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscription_feeds_advertise_the_hub_and_archives_do_not() {
    let server = server().await;
    let hub = topic(&server, "/websub");
    let res = server.get("/fr/world/atom.xml").await;
    let link = res.header("link").unwrap().to_owned();
    assert!(
        link.starts_with(&format!("<{hub}>; rel=\"hub\", ")),
        "{link}"
    );
    assert!(
        res.text()
            .contains(&format!("<link href=\"{hub}\" rel=\"hub\"/>"))
    );
    let rss = server.get("/fr/rss.xml").await.text();
    assert!(
        rss.contains(&format!("<atom:link href=\"{hub}\" rel=\"hub\"/>")),
        "{rss}"
    );
    let json: Value = serde_json::from_slice(&server.get("/fr/feed.json").await.body).unwrap();
    assert_eq!(json["hubs"], json!([{"type": "WebSub", "url": hub}]));
    // A closed month's archive never changes: it names no hub.
    put(&server, "/api/v1/articles/old-news", &{
        let mut a = article("old-news");
        a["published"] = json!("2026-01-10T09:00:00+07:00");
        a
    })
    .await;
    let archive = server.get("/fr/archive/2026-01/atom.xml").await;
    assert_eq!(archive.status, StatusCode::OK);
    assert!(!archive.text().contains("rel=\"hub\""));
    assert!(!archive.header("link").unwrap().contains("rel=\"hub\""));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_subscriber_gets_each_changed_feed_once_signed_until_it_unsubscribes() {
    let server = server().await;
    put(
        &server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    let cb = Callback::start().await;
    let secret = "a secret of the subscriber's";
    for (path, name) in [
        ("/fr/atom.xml", "fr-atom"),
        ("/fr/technology/rss.xml", "fr-tech-rss"),
        ("/en/feed.json", "en-json"),
    ] {
        subscribe(
            &server,
            path,
            &cb.url(name),
            &[("hub.secret", secret), ("hub.lease_seconds", "86400")],
        )
        .await;
    }
    let verification = &cb.gets_to("fr-atom")[0];
    assert_eq!(verification["hub.mode"], "subscribe");
    assert_eq!(verification["hub.topic"], topic(&server, "/fr/atom.xml"));
    assert_eq!(verification["hub.lease_seconds"], "86400");
    assert_eq!(verification["hub.challenge"].len(), 64);
    assert_ne!(
        cb.gets_to("fr-tech-rss")[0]["hub.challenge"],
        verification["hub.challenge"]
    );

    // A French correction changes the French feeds only.
    put_version(&server, "robot-baru", "fr", "Titre corrigé").await;
    eventually("the French deliveries", DEADLINE, async || {
        !cb.posts_to("fr-atom").is_empty() && !cb.posts_to("fr-tech-rss").is_empty()
    })
    .await;
    for (path, name, media) in [
        (
            "/fr/atom.xml",
            "fr-atom",
            "application/atom+xml; charset=utf-8",
        ),
        (
            "/fr/technology/rss.xml",
            "fr-tech-rss",
            "application/rss+xml; charset=utf-8",
        ),
    ] {
        let got = &cb.posts_to(name)[0];
        let feed = server.get(path).await;
        assert_eq!(got.body, feed.body, "{path}: the reader's bytes");
        assert!(String::from_utf8_lossy(&got.body).contains("Titre corrigé"));
        assert_eq!(got.content_type.as_deref(), Some(media));
        assert_eq!(
            got.link.as_deref(),
            Some(
                format!(
                    "<{}>; rel=\"hub\", <{}>; rel=\"self\"",
                    topic(&server, "/websub"),
                    topic(&server, path)
                )
                .as_str()
            )
        );
        assert_eq!(
            got.signature.as_deref(),
            Some(hmac_sha256(secret, &got.body).as_str())
        );
    }
    // Then an English one: the English subscriber hears, the French ones not again.
    put_version(&server, "robot-baru", "en", "Corrected title").await;
    eventually("the English delivery", DEADLINE, async || {
        !cb.posts_to("en-json").is_empty()
    })
    .await;
    assert_eq!(
        cb.posts_to("en-json")[0].body,
        server.get("/en/feed.json").await.body
    );
    assert_eq!(cb.posts_to("fr-atom").len(), 1);
    assert_eq!(cb.posts_to("fr-tech-rss").len(), 1);
    assert_eq!(cb.posts_to("en-json").len(), 1);

    // Unsubscribing is verified too, and stops the deliveries.
    let stats = server.app.hub.stats();
    let fr_atom = topic(&server, "/fr/atom.xml");
    let callback = cb.url("fr-atom");
    let res = ask(&server, "unsubscribe", &fr_atom, &callback).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    eventually("the unsubscription", DEADLINE, async || {
        stats.verifications(Verification::Unsubscribed) == 1
    })
    .await;
    assert_eq!(
        cb.gets_to("fr-atom").last().unwrap()["hub.mode"],
        "unsubscribe"
    );
    put_version(&server, "robot-baru", "fr", "Titre encore corrigé").await;
    eventually("the next French delivery", DEADLINE, async || {
        cb.posts_to("fr-tech-rss").len() == 2
    })
    .await;
    assert_eq!(cb.posts_to("fr-atom").len(), 1, "unsubscribed");

    eventually("four deliveries counted", DEADLINE, async || {
        stats.deliveries(Delivered::Ok) == 4
    })
    .await;
    let metrics = server.get("/metrics").await.text();
    for line in [
        "kabar_hub_verifications_total{outcome=\"subscribed\"} 3",
        "kabar_hub_verifications_total{outcome=\"unsubscribed\"} 1",
        "kabar_hub_deliveries_total{outcome=\"delivered\"} 4",
        "kabar_hub_delivery_latency_seconds_count 4",
        "kabar_hub_requests_total{outcome=\"accepted\"} 4",
        "kabar_http_requests_total{route=\"websub\",status=\"202\"} 4",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
    assert!(
        metrics.contains("kabar_hub_subscriptions{state=\"active\"}"),
        "{metrics}"
    );
    assert_eq!(stats.deliveries(Delivered::Retried), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_challenge_or_an_expired_lease_gets_no_delivery() {
    let server = server().await;
    let cb = Callback::start().await;
    let stats = server.app.hub.stats();
    // This callback answers the challenge wrongly: no subscription.
    *cb.answer.lock().unwrap() = Answer::WrongChallenge;
    let fr = topic(&server, "/fr/rss.xml");
    let wrong = cb.url("wrong");
    let res = ask(&server, "subscribe", &fr, &wrong).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    eventually("the failed verification", DEADLINE, async || {
        stats.verifications(Verification::WrongChallenge) == 1
    })
    .await;
    *cb.answer.lock().unwrap() = Answer::Echo;
    // This one's lease is one second; the witness's is the default.
    subscribe(
        &server,
        "/fr/rss.xml",
        &cb.url("short"),
        &[("hub.lease_seconds", "1")],
    )
    .await;
    subscribe(&server, "/fr/rss.xml", &cb.url("witness"), &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    put(
        &server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    eventually("the witness's delivery", DEADLINE, async || {
        !cb.posts_to("witness").is_empty()
    })
    .await;
    // Deliveries of one write are queued together: had the others been due, they would be here.
    assert!(cb.posts_to("wrong").is_empty());
    assert!(cb.posts_to("short").is_empty());
    assert!(
        cb.posts_to("witness")[0].signature.is_none(),
        "no secret, no signature"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_callback_is_retried_until_it_answers() {
    let server = server().await;
    let cb = Callback::start().await;
    subscribe(&server, "/id/atom.xml", &cb.url("flaky"), &[]).await;
    cb.fail_posts.store(2, SeqCst);
    put(
        &server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    eventually("the delivery after two failures", DEADLINE, async || {
        !cb.posts_to("flaky").is_empty()
    })
    .await;
    let stats = server.app.hub.stats();
    eventually("the success to be counted", DEADLINE, async || {
        stats.deliveries(Delivered::Ok) == 1
    })
    .await;
    assert_eq!(stats.deliveries(Delivered::Retried), 2);
    assert_eq!(
        cb.posts_to("flaky")[0].body,
        server.get("/id/atom.xml").await.body
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_deliveries_survive_a_restart() {
    let server = server().await;
    let cb = Callback::start().await;
    subscribe(&server, "/fr/rss.xml", &cb.url("later"), &[]).await;
    cb.fail_posts.store(usize::MAX, SeqCst);
    put(
        &server,
        "/api/v1/articles/robot-baru",
        &article("robot-baru"),
    )
    .await;
    let stats = Arc::clone(server.app.hub.stats());
    eventually("a failed attempt", DEADLINE, async || {
        stats.deliveries(Delivered::Retried) >= 1
    })
    .await;
    let server = server.restart().await;
    cb.fail_posts.store(0, SeqCst);
    eventually(
        "the delivery by the restarted server",
        DEADLINE,
        async || !cb.posts_to("later").is_empty(),
    )
    .await;
    // Counted once the answer is in, just after the callback recorded it.
    let stats = Arc::clone(server.app.hub.stats());
    eventually("the new App to count it", DEADLINE, async || {
        stats.deliveries(Delivered::Ok) == 1
    })
    .await;
    assert_eq!(
        cb.posts_to("later")[0].body,
        server.get("/fr/rss.xml").await.body
    );
    server.stop().await;
}

/// Writes no server announced (another process's, such as `kabar import`,
/// or a server that stopped between a write's commit and queueing its
/// deliveries) reach subscribers from the change log: while a server runs,
/// and when the next one starts.
#[tokio::test(flavor = "multi_thread")]
async fn writes_no_server_announced_are_delivered_from_the_change_log() {
    let server = server().await;
    let cb = Callback::start().await;
    subscribe(&server, "/fr/rss.xml", &cb.url("fr"), &[]).await;
    let write = async |site: &Site, fr_title: &str| {
        let mut json = article("robot-baru");
        json["versions"]["fr"]["title"] = json!(fr_title);
        let article = Article::from_json(&json.to_string()).expect("a valid article");
        site.store()
            .await
            .put_article(article, None)
            .await
            .expect("put");
    };

    write(server.site(), "Écrit par un autre processus").await;
    eventually(
        "the other process's write delivered",
        DEADLINE,
        async || cb.posts_to("fr").len() == 1,
    )
    .await;
    let fr = server.get("/fr/rss.xml").await.body;
    assert_eq!(cb.posts_to("fr")[0].body, fr);
    assert!(text(&fr).contains("Écrit par un autre processus"));

    let server = server
        .restart_after(async |site| write(site, "Écrit pendant l’arrêt").await)
        .await;
    eventually(
        "the write made while stopped delivered",
        DEADLINE,
        async || cb.posts_to("fr").len() == 2,
    )
    .await;
    let fr = server.get("/fr/rss.xml").await.body;
    assert_eq!(cb.posts_to("fr")[1].body, fr);
    assert!(text(&fr).contains("Écrit pendant l’arrêt"));
    server.stop().await;
    assert_eq!(cb.posts_to("fr").len(), 2, "each write delivered once");
}

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).expect("UTF-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_on_refused_addresses_are_rejected_at_once() {
    // The bundled configuration: no network allowed beyond the public ones.
    let server = Site::serve_api_public(|text| text).await;
    let cb = Callback::start().await;
    let fr = topic(&server, "/fr/atom.xml");
    for callback in [
        cb.url("loopback"),
        "http://localhost:9/cb".to_owned(),
        "http://[::1]:9/cb".to_owned(),
        "http://[::ffff:127.0.0.1]:9/cb".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/cb".to_owned(),
        "http://0.0.0.0:9/cb".to_owned(),
    ] {
        let res = ask(&server, "subscribe", &fr, &callback).await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "{callback}: {}",
            res.text()
        );
        assert!(
            res.text().contains("not a public address"),
            "{}",
            res.text()
        );
    }
    assert!(cb.seen.lock().unwrap().gets.is_empty(), "never called");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_a_4xx_with_the_reason() {
    let server = server().await;
    let fr = topic(&server, "/fr/atom.xml");
    let cb = "http://127.0.0.1:9/cb";
    for (pairs, status, says) in [
        (
            vec![("hub.topic", fr.as_str()), ("hub.callback", cb)],
            400,
            "hub.mode is missing",
        ),
        (
            vec![("hub.mode", "subscribe"), ("hub.callback", cb)],
            400,
            "hub.topic is missing",
        ),
        (
            vec![("hub.mode", "subscribe"), ("hub.topic", fr.as_str())],
            400,
            "hub.callback is missing",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://127.0.0.1:1/fr/atom.xml"),
                ("hub.callback", cb),
            ],
            400,
            "not one of",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", fr.as_str()),
                ("hub.callback", "gopher://x/"),
            ],
            400,
            "not an http",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", fr.as_str()),
                ("hub.callback", cb),
                ("hub.lease_seconds", "1e9"),
            ],
            400,
            "not a number",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", fr.as_str()),
                ("hub.callback", cb),
                ("hub.lease_seconds", "31536000"),
            ],
            400,
            "out of range",
        ),
        (
            vec![
                ("hub.mode", "subscribe"),
                ("hub.topic", fr.as_str()),
                ("hub.callback", cb),
                ("hub.secret", &"s".repeat(200)),
            ],
            400,
            "less than 200",
        ),
        (
            vec![("hub.mode", "publish"), ("hub.topic", fr.as_str())],
            400,
            "publish",
        ),
    ] {
        let res = hub_request(&server, &pairs).await;
        assert_eq!(res.status.as_u16(), status, "{pairs:?}: {}", res.text());
        assert!(res.text().contains(says), "{pairs:?}: {}", res.text());
        assert_eq!(
            res.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    let res = send(
        server.addr,
        "POST",
        "/websub",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = send(
        server.addr,
        "POST",
        "/websub",
        &[("content-type", "application/x-www-form-urlencoded")],
        "a=".repeat(10_000),
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    let res = server.get("/websub").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("POST"));
    assert_eq!(
        server
            .app
            .hub
            .stats()
            .verifications(Verification::Subscribed),
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_over_the_limit_when_verified_is_denied() {
    let server = Site::serve_api_public(|text| {
        hub_config(text).replace("max_per_host = 100", "max_per_host = 1")
    })
    .await;
    let cb = Callback::start().await;
    let stats = server.app.hub.stats();
    // Both requests find room, since neither is verified yet.
    *cb.answer.lock().unwrap() = Answer::Held;
    let fr = topic(&server, "/fr/atom.xml");
    for name in ["first", "second"] {
        let callback = cb.url(name);
        let res = ask(&server, "subscribe", &fr, &callback).await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    }
    eventually("both verifications asked", DEADLINE, async || {
        cb.seen.lock().unwrap().gets.len() == 2
    })
    .await;
    *cb.answer.lock().unwrap() = Answer::Echo;
    eventually("one subscribed, one denied", DEADLINE, async || {
        stats.verifications(Verification::Subscribed) == 1
            && stats.verifications(Verification::Denied) == 1
    })
    .await;
    let denied: Vec<_> = ["first", "second"]
        .iter()
        .flat_map(|name| cb.gets_to(name))
        .filter(|q| q["hub.mode"] == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["hub.topic"], fr);
    assert!(denied[0]["hub.reason"].contains("this host"), "{denied:?}");
    // The subscriber that got in may renew, host full or not.
    let subscribed = if denied[0] == cb.gets_to("first").last().unwrap().clone() {
        "second"
    } else {
        "first"
    };
    let renew = cb.url(subscribed);
    let res = ask(&server, "subscribe", &fr, &renew).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    eventually("the renewal", DEADLINE, async || {
        stats.verifications(Verification::Renewed) == 1
    })
    .await;
    // Now the room is known to be gone: refused at once.
    let third = cb.url("third");
    let res = ask(&server, "subscribe", &fr, &third).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        res.text().contains("too many subscriptions"),
        "{}",
        res.text()
    );
    server.stop().await;
}
