//! Each language as a fediverse account, over real HTTP: WebFinger, NodeInfo,
//! the actor, its outbox, followers and posts; the inbox, which takes only
//! properly signed requests by the actor they claim, and changes nothing
//! otherwise; keys kept across restarts and shared by replicas; the off
//! switch. With `KABAR_TEST_FEDIFY` set, an independent ActivityPub server
//! built on Fedify (tests/fediverse/peer.mjs) follows an account and checks
//! Kabar's signed Accept.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::{DEADLINE, Site, TestServer, eventually, pg, put_article as put, send};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kabar::fedi::keys::SigningKey;
use kabar::fedi::signature;
use kabar::store::{ArticleStore, FediStore, Follower, HubStore, PgStore, SqliteStore};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;

const ACTIVITY: (&str, &str) = ("accept", "application/activity+json");

/// The bundled configuration with the accounts allowed to call loopback, where
/// the tests' other servers are.
fn loopback(text: String) -> String {
    text.replace(
        "# Keep empty on a public server (see [hub] allow_networks).\nallow_networks = []",
        "allow_networks = [\"127.0.0.0/8\"]",
    )
}

async fn server() -> TestServer<SqliteStore> {
    Site::serve_api_public(loopback).await
}

fn base(server: &TestServer<SqliteStore>) -> String {
    format!("http://{}", server.addr)
}

async fn get_json(server: &TestServer<SqliteStore>, path: &str) -> Value {
    let res = server.get_with(path, &[ACTIVITY]).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
    serde_json::from_slice(&res.body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_are_found_by_webfinger_and_describe_themselves() {
    let server = server().await;
    let base = base(&server);
    let host = server.addr.to_string();

    let jrd = server
        .get(&format!("/.well-known/webfinger?resource=acct:fr@{host}"))
        .await;
    assert_eq!(jrd.status, StatusCode::OK);
    assert_eq!(jrd.header("content-type"), Some("application/jrd+json"));
    let jrd: Value = serde_json::from_slice(&jrd.body).unwrap();
    assert_eq!(jrd["subject"], format!("acct:fr@{host}"));
    let actor_url = format!("{base}/ap/fr");
    assert!(
        jrd["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "self"
                && l["type"] == "application/activity+json"
                && l["href"] == actor_url)
    );
    for (query, status) in [
        (format!("resource=acct:xx@{host}"), StatusCode::NOT_FOUND),
        (
            "resource=acct:fr@elsewhere.example".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (String::new(), StatusCode::BAD_REQUEST),
    ] {
        let res = server.get(&format!("/.well-known/webfinger?{query}")).await;
        assert_eq!(res.status, status, "{query}");
    }

    let links = get_json(&server, "/.well-known/nodeinfo").await;
    assert_eq!(links["links"][0]["href"], format!("{base}/nodeinfo/2.1"));
    let info = get_json(&server, "/nodeinfo/2.1").await;
    assert_eq!(info["version"], "2.1");
    assert_eq!(info["software"]["name"], "kabar");
    assert_eq!(info["protocols"], json!(["activitypub"]));
    assert_eq!(info["usage"]["users"]["total"], 6);

    let actor = get_json(&server, "/ap/ar").await;
    assert_eq!(actor["type"], "Service");
    assert_eq!(actor["preferredUsername"], "ar");
    assert_eq!(actor["inbox"], format!("{base}/ap/ar/inbox"));
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        format!("{base}/ap/inbox")
    );
    assert_eq!(actor["publicKey"]["owner"], format!("{base}/ap/ar"));
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert_eq!(actor["url"], "https://kabar.example/ar/");
    // A browser is sent to the language's page.
    let browser = server.get("/ap/ar").await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);
    assert_eq!(
        browser.header("location"),
        Some("https://kabar.example/ar/")
    );

    let site = get_json(&server, "/ap/actor").await;
    assert_eq!(site["type"], "Application");
    assert_ne!(
        site["publicKey"]["publicKeyPem"], actor["publicKey"]["publicKeyPem"],
        "the site's actor has its own key"
    );

    assert_eq!(get_json(&server, "/ap/fr/followers").await["totalItems"], 0);
    for missing in [
        "/ap/xx",
        "/ap/fr/notes/no-such-article",
        "/ap/fr/outbox?page=9",
    ] {
        assert_eq!(
            server.get_with(missing, &[ACTIVITY]).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_are_notes_with_the_feed_s_items() {
    let server = server().await;
    let base = base(&server);
    let feed = common::parse_feed(&server.get("/fr/rss.xml").await.body);
    let outbox = get_json(&server, "/ap/fr/outbox").await;
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], feed.entries.len());
    let mut titles = Vec::new();
    let mut page = outbox["first"].as_str().unwrap().to_owned();
    loop {
        let path = page.strip_prefix(&base).unwrap().to_owned();
        let doc = get_json(&server, &path).await;
        for create in doc["orderedItems"].as_array().unwrap() {
            assert_eq!(create["type"], "Create");
            let content = create["object"]["content"].as_str().unwrap();
            let title = content
                .strip_prefix("<p><strong>")
                .and_then(|c| c.split_once("</strong>"))
                .unwrap()
                .0;
            titles.push(title.to_owned());
        }
        match doc["next"].as_str() {
            Some(next) => page = next.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = feed
        .entries
        .iter()
        .map(|e| {
            let t = &e.title.as_ref().unwrap().content;
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect();
    assert_eq!(
        titles, expected,
        "the outbox has the feed's items, in order"
    );

    let id = "satelit-cuaca-buatan-indonesia-diluncurkan";
    let note = get_json(&server, &format!("/ap/fr/notes/{id}")).await;
    assert_eq!(note["type"], "Note");
    assert_eq!(note["id"], format!("{base}/ap/fr/notes/{id}"));
    assert_eq!(note["attributedTo"], format!("{base}/ap/fr"));
    assert!(note.get("summary").is_none(), "no content warning");
    assert_eq!(note["contentMap"].as_object().unwrap().len(), 1);
    assert_eq!(note["contentMap"]["fr"], note["content"]);
    let content = note["content"].as_str().unwrap();
    assert!(content.contains("Lire l’original en indonésien"));
    assert!(content.contains(
        "href=\"https://kabar.example/technology/satelit-cuaca-buatan-indonesia-diluncurkan\""
    ));
    assert_eq!(
        note["tag"][0],
        json!({"type": "Hashtag", "name": "#Antariksa", "href": format!("{base}/fr/tags/antariksa/rss.xml")})
    );
    assert_eq!(
        note["attachment"][0]["name"],
        "Roket pembawa satelit lepas landas dari landasan peluncuran"
    );
    assert_eq!(
        note["url"],
        "https://kabar.example/fr/technology/satelit-cuaca-buatan-indonesia-diluncurkan"
    );
    // Only the tags Mastodon keeps.
    for tag in content.split('<').skip(1) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(
            ["p", "a", "strong", "em", "span"].contains(&name.as_str()),
            "<{name}>"
        );
    }
    server.stop().await;
}

/// The titles (the `strong` that opens each post) on outbox page `page`.
async fn outbox_titles(server: &TestServer<SqliteStore>, page: usize) -> Vec<String> {
    let doc = get_json(server, &format!("/ap/fr/outbox?page={page}")).await;
    doc["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|create| {
            let content = create["object"]["content"].as_str().unwrap();
            let title = content.strip_prefix("<p><strong>").unwrap();
            title.split_once("</strong>").unwrap().0.to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_outbox_shows_a_write_at_once() {
    let server = server().await;
    // Read first, so the items are kept and the write has them to retire.
    let before = outbox_titles(&server, 1).await;
    put(&server, &news("outbox-baru", "Une nouvelle toute fraîche")).await;
    let after = outbox_titles(&server, 1).await;
    assert_eq!(after[0], "Une nouvelle toute fraîche");
    assert_eq!(
        after[1..],
        before[..after.len() - 1],
        "the rest moved down one"
    );
    let collection = get_json(&server, "/ap/fr/outbox").await;
    let feed = common::parse_feed(&server.get("/fr/rss.xml").await.body);
    assert_eq!(collection["totalItems"], feed.entries.len());

    retract(&server, "outbox-baru").await;
    assert_eq!(
        outbox_titles(&server, 1).await,
        before,
        "and goes with a retraction"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_reads_the_same_from_the_kept_outbox_and_from_the_store() {
    // Feeds of one item: the newest post is kept with the outbox, the others
    // are read from the store.
    let server = Site::serve_api_public(|t| loopback(t).replace("items = 50", "items = 1")).await;
    let mut first = news("pertama", "La première");
    first["published"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    put(&server, &first).await;
    let path = "/ap/fr/notes/pertama";
    let kept = server.get_with(path, &[ACTIVITY]).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
    assert_eq!(outbox_titles(&server, 1).await, ["La première"]);
    let browser = server.get(path).await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);

    put(&server, &news("kedua", "La deuxième")).await;
    assert_eq!(outbox_titles(&server, 1).await, ["La deuxième"]);
    let stored = server.get_with(path, &[ACTIVITY]).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(stored.text(), kept.text(), "the same post either way");
    assert_eq!(stored.header("content-type"), kept.header("content-type"));
    let from_store = server.get(path).await;
    assert_eq!(from_store.header("location"), browser.header("location"));
    server.stop().await;
}

/// A fediverse user on a server the test runs: its actor document (with
/// `published_key`'s public half), and an inbox that takes anything.
struct Remote {
    addr: SocketAddr,
    inbox_posts: Arc<Mutex<Vec<Value>>>,
    /// POSTs still to be answered 503 before the inbox takes one.
    fail_posts: Arc<AtomicUsize>,
    /// The account was deleted: its document answers 410 Gone.
    gone: Arc<AtomicBool>,
    /// Connections made to it.
    connections: Arc<AtomicUsize>,
}

impl Remote {
    fn actor(&self) -> String {
        format!("http://{}/users/mallory", self.addr)
    }

    fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }

    /// Its Follow of the French account on `server`.
    fn follow_fr(&self, server: &TestServer<SqliteStore>) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/1", self.actor()),
            "type": "Follow",
            "actor": self.actor(),
            "object": format!("{}/ap/fr", base(server)),
        })
    }

    /// The activities of `kind` its inboxes took.
    fn took(&self, kind: &str) -> Vec<Value> {
        let posts = self.inbox_posts.lock().unwrap();
        posts
            .iter()
            .filter(|p| p["type"] == kind)
            .cloned()
            .collect()
    }
}

async fn remote(published_key: &SigningKey) -> Remote {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let actor = format!("http://{addr}/users/mallory");
    let document = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor,
        "type": "Person",
        "preferredUsername": "mallory",
        "inbox": format!("{actor}/inbox"),
        "endpoints": {"sharedInbox": format!("http://{addr}/inbox")},
        "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": published_key.public_pem}
    });
    let inbox_posts = Arc::new(Mutex::new(Vec::new()));
    let fail_posts = Arc::new(AtomicUsize::new(0));
    let gone = Arc::new(AtomicBool::new(false));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let shared = (
        Arc::clone(&inbox_posts),
        Arc::clone(&fail_posts),
        Arc::clone(&gone),
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, SeqCst);
            let (document, shared) = (document.clone(), shared.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (document, (posts, fails, deleted)) = (document.clone(), shared.clone());
                    async move {
                        let post = req.method() == Method::POST;
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let failing = post
                            && fails
                                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                                .is_ok();
                        if !post && deleted.load(SeqCst) {
                            let gone = Response::builder()
                                .status(410)
                                .body(Full::new(Bytes::new()));
                            return Ok::<_, Infallible>(gone.unwrap());
                        }
                        let reply = if failing {
                            Response::builder()
                                .status(503)
                                .body(Full::new(Bytes::new()))
                        } else if post {
                            if let Ok(Ok(value)) = body.map(|b| serde_json::from_slice(&b)) {
                                posts.lock().unwrap().push(value);
                            }
                            Response::builder()
                                .status(202)
                                .body(Full::new(Bytes::new()))
                        } else {
                            Response::builder()
                                .header("content-type", "application/activity+json")
                                .body(Full::new(Bytes::from(document.to_string())))
                        };
                        Ok::<_, Infallible>(reply.unwrap())
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Remote {
        addr,
        inbox_posts,
        fail_posts,
        gone,
        connections,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn actors_on_private_addresses_are_never_called_unless_allowed() {
    // The bundled configuration as shipped: no private network is allowed,
    // and the actor below lives on loopback.
    let server = Site::serve_api_public(|text| text).await;
    let (key, _) = keys().await;
    let peer = remote(&key).await;
    let follow = peer.follow_fr(&server).to_string().into_bytes();
    let now = SystemTime::now();
    let res = post_signed(
        &server,
        "/ap/fr/inbox",
        &follow,
        &key,
        &peer.key_id(),
        now,
        &follow,
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert_eq!(peer.connections.load(SeqCst), 0, "its key was not fetched");
    assert_eq!(
        server.app.store.follower_count("fr".into()).await.unwrap(),
        0
    );
    server.stop().await;
}

/// Two keys a remote user could sign with, made once per test run.
async fn keys() -> (SigningKey, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteStore::open(&dir.path().join("keys.sqlite")).unwrap();
    (
        SigningKey::load_or_make(&store, "one").await.unwrap(),
        SigningKey::load_or_make(&store, "two").await.unwrap(),
    )
}

/// How a test request is signed.
#[derive(Debug, Clone, Copy)]
enum Signed {
    /// draft-cavage `Signature`, with a `Digest`.
    Cavage,
    /// RFC 9421 `Signature-Input` and `Signature`, with a `Content-Digest`.
    Rfc9421,
}

/// POSTs `body` to `path`, signed with `key` as `key_id` at `date`; `digest_of`
/// is what the digest is computed over (the body itself, normally).
#[allow(clippy::too_many_arguments)]
async fn post_as(
    signed: Signed,
    server: &TestServer<SqliteStore>,
    path: &str,
    body: &[u8],
    key: &SigningKey,
    key_id: &str,
    date: SystemTime,
    digest_of: &[u8],
) -> common::Response {
    let uri = target(server, path);
    let fields = match signed {
        Signed::Cavage => signature::sign(key, key_id, &Method::POST, &uri, Some(digest_of), date),
        Signed::Rfc9421 => {
            kabar::fedi::message_signature::sign(key, key_id, &Method::POST, &uri, digest_of, date)
        }
    };
    post_with(server, path, body, &fields).await
}

/// [`post_as`] with a draft-cavage signature, the one most servers send.
async fn post_signed(
    server: &TestServer<SqliteStore>,
    path: &str,
    body: &[u8],
    key: &SigningKey,
    key_id: &str,
    date: SystemTime,
    digest_of: &[u8],
) -> common::Response {
    post_as(
        Signed::Cavage,
        server,
        path,
        body,
        key,
        key_id,
        date,
        digest_of,
    )
    .await
}

/// POSTs `body` to the French inbox signed the `signed` way, but wrongly in
/// each of three ways, and asserts each is refused: by another key than
/// `key_id`'s (401), dated 13 hours ago (401), with the digest of another
/// body (400).
async fn assert_bad_signatures_refused(
    signed: Signed,
    server: &TestServer<SqliteStore>,
    body: &[u8],
    (key, other_key): (&SigningKey, &SigningKey),
    key_id: &str,
) {
    let now = SystemTime::now();
    let stale = now - Duration::from_secs(13 * 3600);
    let cases: [(&str, &SigningKey, SystemTime, &[u8], StatusCode); 3] = [
        ("wrong key", other_key, now, body, StatusCode::UNAUTHORIZED),
        ("stale", key, stale, body, StatusCode::UNAUTHORIZED),
        (
            "digest of another body",
            key,
            now,
            b"{}",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (case, signer, date, digest_of, status) in cases {
        let res = post_as(
            signed,
            server,
            "/ap/fr/inbox",
            body,
            signer,
            key_id,
            date,
            digest_of,
        )
        .await;
        assert_eq!(res.status, status, "{signed:?}, {case}: {}", res.text());
    }
}

fn target(server: &TestServer<SqliteStore>, path: &str) -> Uri {
    format!("http://{}{path}", server.addr).parse().unwrap()
}

/// POSTs `body` to `path` with the signature's header `fields`.
async fn post_with(
    server: &TestServer<SqliteStore>,
    path: &str,
    body: &[u8],
    fields: &[(hyper::header::HeaderName, hyper::header::HeaderValue)],
) -> common::Response {
    let values: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let mut headers: Vec<(&str, &str)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.push(("content-type", "application/activity+json"));
    send(server.addr, "POST", path, &headers, body.to_vec()).await
}

/// `peer`'s signed Follow of the French account, posted to its inbox; the
/// Follow's JSON.
async fn follow_fr(server: &TestServer<SqliteStore>, peer: &Remote, key: &SigningKey) -> Value {
    let follow = peer.follow_fr(server);
    let body = follow.to_string().into_bytes();
    let now = SystemTime::now();
    let res = post_signed(
        server,
        "/ap/fr/inbox",
        &body,
        key,
        &peer.key_id(),
        now,
        &body,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    follow
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_takes_only_requests_signed_by_their_actor() {
    let server = server().await;
    let (key, other_key) = keys().await;
    let peer = remote(&key).await;
    let fr = format!("{}/ap/fr", base(&server));
    let follow = peer.follow_fr(&server);
    let body = follow.to_string().into_bytes();
    let now = SystemTime::now();
    let followers = async || -> u64 {
        server
            .app
            .store
            .follower_count("fr".to_owned())
            .await
            .unwrap()
    };

    let unsigned = send(server.addr, "POST", "/ap/fr/inbox", &[], body.clone()).await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unsigned.text()
    );
    let keys = (&key, &other_key);
    assert_bad_signatures_refused(Signed::Cavage, &server, &body, keys, &peer.key_id()).await;
    // Signed by its key, but claiming another actor.
    let mut impostor = follow.clone();
    impostor["actor"] = json!("http://127.0.0.1:9/users/someone-else");
    let impostor = impostor.to_string().into_bytes();
    let res = post_signed(
        &server,
        "/ap/inbox",
        &impostor,
        &key,
        &peer.key_id(),
        now,
        &impostor,
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    // Over the size bound, whatever it carries.
    let huge = vec![b' '; 256 * 1024 + 1];
    let res = post_signed(
        &server,
        "/ap/fr/inbox",
        &huge,
        &key,
        &peer.key_id(),
        now,
        &huge,
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(followers().await, 0, "nothing refused changed anything");

    // The same Follow, properly signed: recorded, and answered with an Accept.
    let res = post_signed(
        &server,
        "/ap/fr/inbox",
        &body,
        &key,
        &peer.key_id(),
        now,
        &body,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    assert_eq!(followers().await, 1);
    eventually("the Accept", DEADLINE, async || {
        !peer.inbox_posts.lock().unwrap().is_empty()
    })
    .await;
    let accept = peer.inbox_posts.lock().unwrap()[0].clone();
    assert_eq!(accept["type"], "Accept");
    assert_eq!(accept["actor"], fr);
    assert_eq!(accept["object"]["id"], follow["id"]);
    assert_eq!(get_json(&server, "/ap/fr/followers").await["totalItems"], 1);
    assert_eq!(
        server
            .app
            .store
            .follower_inboxes("fr".to_owned())
            .await
            .unwrap(),
        [format!("http://{}/inbox", peer.addr)],
        "deliveries go to the shared inbox"
    );

    // A Follow posted to another account's inbox is refused.
    let res = post_signed(
        &server,
        "/ap/en/inbox",
        &body,
        &key,
        &peer.key_id(),
        now,
        &body,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());

    // Undo ends it; a Delete of the actor forgets it everywhere.
    let undo = json!({
        "id": format!("{}/undo/1", peer.actor()),
        "type": "Undo",
        "actor": peer.actor(),
        "object": follow,
    })
    .to_string()
    .into_bytes();
    let res = post_signed(
        &server,
        "/ap/inbox",
        &undo,
        &key,
        &peer.key_id(),
        now,
        &undo,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    assert_eq!(followers().await, 0);
    let res = post_signed(
        &server,
        "/ap/fr/inbox",
        &body,
        &key,
        &peer.key_id(),
        now,
        &body,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(followers().await, 1);
    let delete = json!({
        "id": format!("{}#delete", peer.actor()),
        "type": "Delete",
        "actor": peer.actor(),
        "object": peer.actor(),
    })
    .to_string()
    .into_bytes();
    let res = post_signed(
        &server,
        "/ap/inbox",
        &delete,
        &key,
        &peer.key_id(),
        now,
        &delete,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    assert_eq!(followers().await, 0);

    // Anything else signed is accepted and ignored.
    let like = json!({"id": "x", "type": "Like", "actor": peer.actor(), "object": fr})
        .to_string()
        .into_bytes();
    let res = post_signed(
        &server,
        "/ap/inbox",
        &like,
        &key,
        &peer.key_id(),
        now,
        &like,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_kept_in_the_store_across_restarts() {
    let server = server().await;
    let before = get_json(&server, "/ap/fr").await["publicKey"]["publicKeyPem"].clone();
    let server = server.restart().await;
    let after = get_json(&server, "/ap/fr").await["publicKey"]["publicKeyPem"].clone();
    assert_eq!(before, after);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_on_one_database_keep_one_key_and_share_followers() {
    let db = pg::scratch().await;
    let (a, _) = PgStore::open(&db.url).await.unwrap();
    let (b, _) = PgStore::open(&db.url).await.unwrap();
    let (first, second) = tokio::join!(
        a.keep_fedi_key("accounts".into(), "PEM A".into()),
        b.keep_fedi_key("accounts".into(), "PEM B".into())
    );
    assert_eq!(first.unwrap(), second.unwrap(), "one key for both");
    for store_follow in [true, false] {
        let store: &PgStore = if store_follow { &a } else { &b };
        let new = store
            .follow(
                Follower {
                    lang: "fr".into(),
                    actor: "https://one.example/users/a".into(),
                    inbox: "https://one.example/users/a/inbox".into(),
                    shared_inbox: Some("https://one.example/inbox".into()),
                },
                0,
            )
            .await
            .unwrap();
        assert_eq!(new, store_follow, "new only the first time");
    }
    b.follow(
        Follower {
            lang: "fr".into(),
            actor: "https://one.example/users/b".into(),
            inbox: "https://one.example/users/b/inbox".into(),
            shared_inbox: Some("https://one.example/inbox".into()),
        },
        0,
    )
    .await
    .unwrap();
    assert_eq!(a.follower_count("fr".into()).await.unwrap(), 2);
    assert_eq!(
        a.follower_inboxes("fr".into()).await.unwrap(),
        ["https://one.example/inbox"]
    );
    assert!(
        a.unfollow("fr".into(), "https://one.example/users/a".into())
            .await
            .unwrap()
    );
    assert_eq!(
        b.forget_follower("https://one.example/users/b".into())
            .await
            .unwrap(),
        1
    );
    assert_eq!(b.follower_count("fr".into()).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn off_the_routes_do_not_exist() {
    let server = Site::edited(|t| {
        t.replace(
            "[activitypub]\nenabled = true",
            "[activitypub]\nenabled = false",
        )
    })
    .serve()
    .await;
    for path in [
        "/.well-known/webfinger?resource=acct:fr@127.0.0.1:8080",
        "/ap/fr",
        "/nodeinfo/2.1",
    ] {
        assert_eq!(
            server.get_with(path, &[ACTIVITY]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    server.stop().await;
}

/// The variable that turns on the test against Fedify.
const FEDIFY_ENV: &str = "KABAR_TEST_FEDIFY";

#[tokio::test(flavor = "multi_thread")]
async fn a_fedify_server_follows_an_account_and_receives_its_posts() {
    if std::env::var_os(FEDIFY_ENV).is_none_or(|v| v.is_empty()) {
        eprintln!(
            "skipped: {FEDIFY_ENV} is not set; run `npm ci` in tests/fediverse and set it \
             (.ci/run does both)"
        );
        return;
    }
    let dir = common::repo().join("tests/fediverse");
    assert!(
        dir.join("node_modules/@fedify/fedify").is_dir(),
        "{FEDIFY_ENV} is set but tests/fediverse has no node_modules: run `npm ci` there"
    );
    let server = server().await;
    let mut peer = tokio::process::Command::new("node")
        .arg("peer.mjs")
        .arg(format!("fr@{}", server.addr))
        .arg("3")
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(peer.stdout.take().expect("stdout")).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the peer answers within 60 s")
            .expect("the peer's stdout")
            .expect("a line: the peer ended early");
        serde_json::from_str(&line).expect("the peer's JSON")
    };
    let seen = next().await;
    let base = base(&server);
    let fr = format!("{base}/ap/fr");
    assert_eq!(seen["actor"]["id"], fr);
    assert_eq!(seen["actor"]["preferredUsername"], "fr");
    assert_eq!(seen["actor"]["keyOwner"], fr);
    assert_eq!(seen["actor"]["sharedInbox"], format!("{base}/ap/inbox"));
    let feed = common::parse_feed(&server.get("/fr/rss.xml").await.body);
    assert_eq!(seen["outbox"]["totalItems"], feed.entries.len());
    let note = &seen["note"];
    assert_eq!(note["contentLanguages"], json!(["fr"]));
    assert_eq!(note["summary"], Value::Null);
    let title = &feed.entries[0].title.as_ref().unwrap().content;
    assert!(note["content"].as_str().unwrap().contains(title.as_str()));
    let peer_origin = seen["peer"].as_str().unwrap().to_owned();
    assert_eq!(
        seen["received"],
        json!([{"type": "Accept", "actor": fr, "object": format!("{peer_origin}/follows/1")}]),
        "Fedify took the Accept, which it does only with a valid signature"
    );
    assert_eq!(
        server
            .app
            .store
            .follower_inboxes("fr".into())
            .await
            .unwrap(),
        [format!("{peer_origin}/inbox")],
        "the follower is reached through its server's shared inbox"
    );

    // A new article: a Create of its Note.
    let mut article = json!({
        "id": "kereta-cepat-baru",
        "section": "national",
        "published": chrono::Utc::now().to_rfc3339(),
        "tags": ["Kereta Api", "Transportasi"],
        "image": {"url": "https://kabar.example/img/kereta.jpg", "type": "image/jpeg", "alt": "Kereta cepat di stasiun"},
        "versions": {
            "id": {"translation": "original", "title": "Kereta cepat baru", "body": "Isi berita."},
            "fr": {"translation": "machine", "title": "Un nouveau train rapide", "body": "Le corps de l’article."}
        }
    });
    put(&server, &article).await;
    let create = next().await;
    assert_eq!(create["type"], "Create");
    assert_eq!(create["actor"], fr);
    let note = &create["note"];
    let note_id = format!("{fr}/notes/kereta-cepat-baru");
    assert_eq!(note["id"], note_id);
    assert_eq!(note["contentLanguages"], json!(["fr"]));
    assert!(
        note["content"]
            .as_str()
            .unwrap()
            .contains("Un nouveau train rapide")
    );
    assert!(
        note["content"]
            .as_str()
            .unwrap()
            .contains("https://kabar.example/fr/national/kereta-cepat-baru")
    );
    assert_eq!(
        note["tags"],
        json!([
            {"name": "#KeretaApi", "href": format!("{base}/fr/tags/kereta-api/rss.xml")},
            {"name": "#Transportasi", "href": format!("{base}/fr/tags/transportasi/rss.xml")}
        ])
    );
    assert_eq!(note["attachments"][0]["name"], "Kereta cepat di stasiun");

    // A correction: an Update of the same Note.
    article["versions"]["fr"]["title"] = json!("Un nouveau train à grande vitesse");
    put(&server, &article).await;
    let update = next().await;
    assert_eq!(update["type"], "Update");
    assert_eq!(update["note"]["id"], note_id);
    assert!(
        update["note"]["content"]
            .as_str()
            .unwrap()
            .contains("à grande vitesse")
    );

    // A retraction: a Delete of it.
    retract(&server, "kereta-cepat-baru").await;
    let delete = next().await;
    assert_eq!(delete["type"], "Delete");
    assert_eq!(delete["objectId"], note_id);
    let status = tokio::time::timeout(Duration::from_secs(10), peer.wait())
        .await
        .expect("the peer ends")
        .expect("the peer's status");
    assert!(status.success());
    server.stop().await;
}

/// Deletes article `id` through the write API.
async fn retract(server: &TestServer<SqliteStore>, id: &str) {
    let path = format!("/api/v1/articles/{id}");
    let res = send(server.addr, "DELETE", &path, &[common::AUTH], Bytes::new()).await;
    assert!(res.status.is_success(), "{}", res.text());
}

/// The bundled configuration on loopback, retrying failed deliveries after a
/// second.
fn quick_retries(text: String) -> String {
    loopback(text).replace("retry_base_secs = 60", "retry_base_secs = 1")
}

/// A French article published now, so it is news in the French feed.
fn news(id: &str, title: &str) -> Value {
    json!({
        "id": id,
        "section": "world",
        "published": chrono::Utc::now().to_rfc3339(),
        "versions": {
            "id": {"translation": "original", "title": "Judul", "body": "Isi."},
            "fr": {"translation": "machine", "title": title, "body": "Corps."}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_inbox_is_retried_and_reached_after_a_restart() {
    let server = Site::serve_api_public(quick_retries).await;
    let (key, _) = keys().await;
    let peer = remote(&key).await;
    follow_fr(&server, &peer, &key).await;
    eventually("the Accept", DEADLINE, async || {
        !peer.took("Accept").is_empty()
    })
    .await;

    peer.fail_posts.store(usize::MAX, SeqCst);
    put(&server, &news("kereta-gagal", "Un train en retard")).await;
    let stats = Arc::clone(&server.app.fedi);
    eventually("a failed attempt", DEADLINE, async || {
        stats.stats().retried() >= 1
    })
    .await;
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("kabar_activitypub_deliveries_retried_total"),
        "{metrics}"
    );
    let server = server.restart().await;
    peer.fail_posts.store(1, SeqCst);
    eventually(
        "the Create, from the restarted server",
        DEADLINE,
        async || peer.took("Create").len() == 1,
    )
    .await;
    let create = &peer.took("Create")[0];
    assert!(
        create["object"]["content"]
            .as_str()
            .unwrap()
            .contains("Un train en retard")
    );
    // The peer has its 2xx before Kabar records it: the row goes a moment later.
    let store = Arc::clone(&server.app.store);
    eventually("nothing left in the queue", DEADLINE, async || {
        store.fedi_pending().await.unwrap() == 0
    })
    .await;
    assert_eq!(peer.took("Create").len(), 1, "delivered once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_replicas_deliver_each_activity_once() {
    let db = pg::scratch().await;
    let url = kabar::config::DatabaseUrl::parse(&db.url).unwrap();
    let site = Site::edited(quick_retries);
    let store = kabar::app::open_postgres(&site.config(), &url, kabar::app::Seed::IfCreated)
        .await
        .unwrap();
    let one = site.serve_store(Arc::new(store)).await;
    let (other, _) = PgStore::open(&db.url).await.unwrap();
    let two = Site::edited(quick_retries)
        .serve_store(Arc::new(other))
        .await;
    let (key, _) = keys().await;
    let peer = remote(&key).await;
    // Ten followers on the peer's server: one delivery, to its shared inbox.
    for i in 0..10 {
        let follower = Follower {
            lang: "fr".into(),
            actor: format!("{}-{i}", peer.actor()),
            inbox: format!("{}-{i}/inbox", peer.actor()),
            shared_inbox: Some(format!("http://{}/inbox", peer.addr)),
        };
        one.app.store.follow(follower, 0).await.unwrap();
    }
    // Written by a third party (an import, say): both replicas see it in the log.
    let (writer, _) = PgStore::open(&db.url).await.unwrap();
    let article =
        kabar::article::parse_json(&news("sekali-saja", "Une seule fois").to_string()).unwrap();
    writer.put_article(article, None).await.unwrap();
    eventually("the Create", DEADLINE, async || {
        !peer.took("Create").is_empty()
    })
    .await;
    // Both replicas poll every half second: give the other one its chances.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(peer.took("Create").len(), 1, "one replica sent it, once");
    let sent = one.app.fedi.stats().sent() + two.app.fedi.stats().sent();
    assert_eq!(sent, 1);
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn a_new_store_s_seed_is_not_news_for_its_followers() {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new();
    let file = dir.path().join("seeded.sqlite");
    let store = kabar::app::open_sqlite(&site.config(), Some(&file), kabar::app::Seed::IfCreated)
        .await
        .unwrap();
    let head = store.changes_since(0).await.unwrap().latest;
    assert!(head > 0, "the seed wrote to the change log");
    // Before any catch-up: neither push log would send the seed to anyone.
    assert_eq!(store.fedi_log_position().await.unwrap(), head);
    assert_eq!(store.hub_log_position().await.unwrap(), head);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_store_counts_its_articles_as_posted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kabar.sqlite");
    {
        let (store, _) = SqliteStore::open(&file).unwrap();
        let article =
            kabar::article::parse_json(&news("lama", "Un vieil article").to_string()).unwrap();
        store.put_article(article, None).await.unwrap();
    }
    // Back to schema 5 exactly: schema 6 only added these.
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(
        "DROP TABLE fedi_followers; DROP TABLE fedi_keys; DROP TABLE fedi_log;
         DROP TABLE fedi_posts; DROP TABLE fedi_deliveries; PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    let (store, created) = SqliteStore::open(&file).unwrap();
    assert!(!created);
    // Its next write is a correction (Update), not news (Create)...
    assert!(store.fedi_posted("fr".into(), "lama".into()).await.unwrap());
    assert!(store.fedi_posted("id".into(), "lama".into()).await.unwrap());
    assert!(!store.fedi_posted("en".into(), "lama".into()).await.unwrap());
    // ...and what was logged before is not announced again.
    let log = store.changes_since(0).await.unwrap();
    assert_eq!(store.fedi_log_position().await.unwrap(), log.latest);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_account_s_delete_ends_its_following_though_its_key_is_gone() {
    let server = server().await;
    let (key, other_key) = keys().await;
    let peer = remote(&key).await;
    follow_fr(&server, &peer, &key).await;
    let now = SystemTime::now();
    let count = async || server.app.store.follower_count("fr".into()).await.unwrap();
    assert_eq!(count().await, 1);
    // Deleted: its document is gone, so is its key; Kabar's cached one is
    // fetched again when the signature does not verify with it.
    peer.gone.store(true, SeqCst);
    let delete = |object: String| {
        json!({"id": format!("{}#delete", peer.actor()), "type": "Delete", "actor": peer.actor(), "object": object})
            .to_string()
            .into_bytes()
    };
    // A Delete of something else is no reason to believe an unverified one.
    let other = delete("http://127.0.0.1:9/users/x".to_owned());
    let res = post_signed(
        &server,
        "/ap/inbox",
        &other,
        &other_key,
        &peer.key_id(),
        now,
        &other,
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert_eq!(count().await, 1);
    let own = delete(peer.actor());
    let res = post_signed(
        &server,
        "/ap/inbox",
        &own,
        &other_key,
        &peer.key_id(),
        now,
        &own,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    assert_eq!(count().await, 0);
    server.stop().await;
}

/// Runs a peer script of tests/fediverse with `args`, its stdout read line
/// by line as JSON; `None` (the test skipped) without `KABAR_TEST_FEDIFY`.
fn peer_script(
    script: &str,
    args: &[&str],
) -> Option<(
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
)> {
    if std::env::var_os(FEDIFY_ENV).is_none_or(|v| v.is_empty()) {
        eprintln!(
            "skipped: {FEDIFY_ENV} is not set; run `npm ci` in tests/fediverse and set it \
             (.ci/run does both)"
        );
        return None;
    }
    let dir = common::repo().join("tests/fediverse");
    assert!(
        dir.join("node_modules").is_dir(),
        "{FEDIFY_ENV} is set but tests/fediverse has no node_modules: run `npm ci` there"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    Some((child, lines))
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the peer answers within 60 s")
        .expect("the peer's stdout")
        .expect("a line: the peer ended early");
    serde_json::from_str(&line).expect("the peer's JSON")
}

/// An independent RFC 9421 implementation (the http-message-signatures
/// package) signs a Follow that Kabar verifies, and its inbox takes only
/// RFC 9421 signatures: Kabar falls back to them once, and signs that way
/// for the host from then on.
#[tokio::test(flavor = "multi_thread")]
async fn rfc9421_signatures_are_checked_and_used_for_servers_that_need_them() {
    let server = server().await;
    let fr = format!("{}/ap/fr", base(&server));
    let Some((mut peer, mut lines)) = peer_script("rfc9421.mjs", &[&fr, "2"]) else {
        return;
    };
    let followed = next_line(&mut lines).await;
    assert!(followed["followed"].is_string(), "{followed}");
    let accept = next_line(&mut lines).await;
    assert_eq!(accept["type"], "Accept");
    assert_eq!(
        accept["refusedBefore"], 1,
        "one draft-cavage attempt, refused"
    );
    put(&server, &news("sinyal-baru", "Un nouveau signal")).await;
    let create = next_line(&mut lines).await;
    assert_eq!(create["type"], "Create");
    assert_eq!(
        create["refusedBefore"], 1,
        "the host is signed for the RFC 9421 way at once"
    );
    let status = tokio::time::timeout(Duration::from_secs(10), peer.wait())
        .await
        .expect("the peer ends")
        .expect("the peer's status");
    assert!(status.success());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc9421_signatures_that_do_not_hold_are_refused() {
    let server = server().await;
    let (key, other_key) = keys().await;
    let peer = remote(&key).await;
    let follow = peer.follow_fr(&server).to_string().into_bytes();
    let keys = (&key, &other_key);
    assert_bad_signatures_refused(Signed::Rfc9421, &server, &follow, keys, &peer.key_id()).await;
    assert_eq!(
        server.app.store.follower_count("fr".into()).await.unwrap(),
        0
    );
    let res = post_as(
        Signed::Rfc9421,
        &server,
        "/ap/fr/inbox",
        &follow,
        &key,
        &peer.key_id(),
        SystemTime::now(),
        &follow,
    )
    .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.text());
    assert_eq!(
        server.app.store.follower_count("fr".into()).await.unwrap(),
        1
    );
    server.stop().await;
}

/// A retraction of one language's version (the article stays in the
/// others) is a `Delete` for that language's followers, and a correction of
/// a language's version is an `Update`.
#[tokio::test(flavor = "multi_thread")]
async fn a_version_removed_is_deleted_and_a_version_corrected_is_updated() {
    let server = Site::serve_api_public(quick_retries).await;
    let (key, _) = keys().await;
    let peer = remote(&key).await;
    follow_fr(&server, &peer, &key).await;
    let mut article = news("dua-bahasa", "Deux langues");
    put(&server, &article).await;
    eventually("the Create", DEADLINE, async || {
        !peer.took("Create").is_empty()
    })
    .await;
    article["versions"]["fr"]["title"] = json!("Deux langues, corrigé");
    put(&server, &article).await;
    eventually("the Update", DEADLINE, async || {
        !peer.took("Update").is_empty()
    })
    .await;
    let update = &peer.took("Update")[0];
    assert!(
        update["object"]["content"]
            .as_str()
            .unwrap()
            .contains("corrigé")
    );
    article["versions"].as_object_mut().unwrap().remove("fr");
    put(&server, &article).await;
    eventually("the Delete", DEADLINE, async || {
        !peer.took("Delete").is_empty()
    })
    .await;
    let delete = &peer.took("Delete")[0];
    assert_eq!(delete["object"]["type"], "Tombstone");
    assert_eq!(
        delete["object"]["id"],
        format!("{}/ap/fr/notes/dua-bahasa", base(&server))
    );
    assert_eq!(peer.took("Create").len(), 1, "one of each, nothing twice");
    assert_eq!(peer.took("Update").len(), 1);
    server.stop().await;
}
