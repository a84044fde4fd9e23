//! Shared test harness: a [`Site`] (temporary folder, configuration, store
//! seeded from the bundled demo articles), a real Kabar server on an ephemeral
//! port, and a minimal HTTP client that returns exact status, headers and
//! bytes.

#![allow(dead_code)]

pub mod pg;
pub mod subscriber;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use kabar::app::{self, Seed};
use kabar::auth::ApiTokens;
use kabar::{App, ArticleStore, Config, SqliteStore};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The variable naming the Python that has tests/interop/requirements.txt
/// installed (.ci/run makes one), for tests against independent peers.
pub const PYTHON_ENV: &str = "KABAR_TEST_PYTHON";

/// The Python of [`PYTHON_ENV`]; without it, says the test is skipped.
pub fn interop_python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!(
            "skipped: {PYTHON_ENV} is not set; point it at a Python with \
             tests/interop/requirements.txt installed (.ci/run does)"
        );
    }
    python
}

/// One test's site on disk: a temporary folder holding the bundled
/// feeds.toml, pointed at a SQLite store in that folder and at the bundled
/// demo articles as its seed. Every test that needs a site sets up this way,
/// so that what a test changes (a limit, a hub) is the only difference.
/// Nothing is opened until asked: tests of the `kabar` binary hand it the
/// folder as it is.
pub struct Site {
    dir: TempDir,
}

impl Site {
    /// A site with the bundled configuration.
    pub fn new() -> Site {
        Site::edited(|text| text)
    }

    /// A site with `edit` applied to the bundled configuration's text (for
    /// tests that need other limits).
    pub fn edited(edit: impl Fn(String) -> String) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundled = std::fs::read_to_string(repo().join("feeds.toml")).expect("feeds.toml");
        let text = bundled
            .replace(
                "path = \"data/kabar.sqlite\"",
                &format!(
                    "path = {:?}",
                    dir.path().join("kabar.sqlite").display().to_string()
                ),
            )
            .replace(
                "seed = \"demo/articles\"",
                &format!(
                    "seed = {:?}",
                    repo().join("demo/articles").display().to_string()
                ),
            );
        std::fs::write(dir.path().join("feeds.toml"), edit(text)).expect("write config");
        Site { dir }
    }

    /// The temporary folder, removed when the site is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration file, for `kabar --config`.
    pub fn config_file(&self) -> PathBuf {
        self.dir().join("feeds.toml")
    }

    /// The configuration, loaded as `kabar` loads it.
    pub fn config(&self) -> Config {
        Config::load(&self.config_file()).expect("config")
    }

    /// The configured SQLite store, opened as `kabar serve` opens it: created
    /// and seeded with the demo articles the first time.
    pub async fn store(&self) -> SqliteStore {
        app::open_sqlite(&self.config(), None, Seed::IfCreated)
            .await
            .expect("store")
    }

    /// A server on the site's store, the write API off.
    pub async fn serve(self) -> TestServer<SqliteStore> {
        let store = Arc::new(self.store().await);
        self.serve_store(store).await
    }

    /// A server on the site's store with the write API on, accepting [`TOKEN`].
    pub async fn serve_api(self) -> TestServer<SqliteStore> {
        let store = Arc::new(self.store().await);
        let tokens = ApiTokens::new(vec![TOKEN.to_owned()]);
        self.launch(store, tokens).await
    }

    /// A server on `store` (one that wraps the site's, say) with the site's
    /// configuration, the write API off.
    pub async fn serve_store<S: ArticleStore>(self, store: Arc<S>) -> TestServer<S> {
        self.launch(store, None).await
    }

    /// Serves `store`; the server keeps the site (and its folder) alive.
    async fn launch<S: ArticleStore>(
        self,
        store: Arc<S>,
        tokens: Option<ApiTokens>,
    ) -> TestServer<S> {
        let mut server = serve_with_tokens(Arc::new(self.config()), store, tokens).await;
        server.site = Some(self);
        server
    }

    /// A server with the write API on whose `public_url` is its own address,
    /// so the URLs its feeds give (self, hub) reach it: for WebSub
    /// subscribers, which discover the hub from a feed.
    pub async fn serve_api_public(edit: impl Fn(String) -> String) -> TestServer<SqliteStore> {
        let listeners = bind();
        let addr = listeners.local_addr().expect("addr");
        let site = Site::edited(|text| {
            edit(text).replace("\"http://127.0.0.1:8080/\"", &format!("\"http://{addr}/\""))
        });
        site.relaunch(listeners).await
    }

    /// Serves this site's store again (a new App on the same SQLite file),
    /// with the write API on.
    async fn relaunch(self, listeners: kabar::http::Listeners) -> TestServer<SqliteStore> {
        let store = Arc::new(self.store().await);
        let tokens = ApiTokens::new(vec![TOKEN.to_owned()]);
        let mut server = serve_on(listeners, Arc::new(self.config()), store, tokens);
        server.site = Some(self);
        server
    }
}

pub struct TestServer<S: ArticleStore> {
    pub addr: SocketAddr,
    pub app: Arc<App<S>>,
    /// The site it serves, when it was started from one.
    site: Option<Site>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The change-log follower, as `kabar serve` runs it.
    follower: JoinHandle<()>,
}

/// A server on the demo store of a new [`Site`].
pub async fn start() -> TestServer<SqliteStore> {
    Site::new().serve().await
}

/// Serves `store` with `config` on 127.0.0.1, port chosen by the system.
pub async fn serve<S: ArticleStore>(config: Arc<Config>, store: Arc<S>) -> TestServer<S> {
    serve_with_tokens(config, store, None).await
}

/// Serving threads of a test server: more than one, so that every test also
/// crosses threads (per-thread copies of renders), whatever the machine's
/// core count.
const SERVING_THREADS: usize = 4;

/// The one token of every test that writes through the API, in process or to
/// `kabar serve` (KABAR_API_TOKEN); a macro so that [`AUTH`] spells it too.
macro_rules! token {
    () => {
        "test-token-0123456789abcdef"
    };
}

/// The token tests use for the write API.
pub const TOKEN: &str = token!();

/// The Authorization field that carries [`TOKEN`].
pub const AUTH: (&str, &str) = ("authorization", concat!("Bearer ", token!()));

fn bind() -> kabar::http::Listeners {
    kabar::http::Listeners::bind("127.0.0.1:0".parse().unwrap(), SERVING_THREADS).expect("bind")
}

async fn serve_with_tokens<S: ArticleStore>(
    config: Arc<Config>,
    store: Arc<S>,
    tokens: Option<ApiTokens>,
) -> TestServer<S> {
    serve_on(bind(), config, store, tokens)
}

fn serve_on<S: ArticleStore>(
    listeners: kabar::http::Listeners,
    config: Arc<Config>,
    store: Arc<S>,
    tokens: Option<ApiTokens>,
) -> TestServer<S> {
    let addr = listeners.local_addr().expect("addr");
    let app = App::new(config, store, tokens);
    let follower = tokio::spawn(kabar::changes::follow(Arc::clone(&app)));
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(kabar::http::serve(listeners, Arc::clone(&app), async {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        app,
        site: None,
        shutdown: Some(tx),
        task: Some(task),
        follower,
    }
}

impl<S: ArticleStore> TestServer<S> {
    /// The site this server was started from.
    pub fn site(&self) -> &Site {
        self.site.as_ref().expect("a server started from a Site")
    }

    pub async fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers).await
    }

    /// Stops this server, waits until its App is gone (its background work
    /// too), and serves the same site again: a restart on the same store.
    pub async fn restart(self) -> TestServer<SqliteStore> {
        self.restart_after(async |_| {}).await
    }

    /// [`TestServer::restart`], doing `meanwhile` to the site while no
    /// server runs.
    pub async fn restart_after(
        mut self,
        meanwhile: impl AsyncFnOnce(&Site),
    ) -> TestServer<SqliteStore> {
        let site = self.site.take().expect("a server started from a Site");
        let app = Arc::downgrade(&self.app);
        self.stop().await;
        eventually("the stopped App to be dropped", DEADLINE, async || {
            app.upgrade().is_none()
        })
        .await;
        meanwhile(&site).await;
        site.relaunch(bind()).await
    }

    /// Stops accepting and waits for in-flight requests to finish.
    /// The site this server was started from, for the caller to keep past
    /// [`TestServer::stop`], which would otherwise remove its folder, and the
    /// store's file with it, as it ends.
    pub fn keep_site(&mut self) -> Option<Site> {
        self.site.take()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.follower.abort();
        if let Some(task) = self.task.take() {
            task.await
                .expect("the server task panicked")
                .expect("the server could not start its threads");
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }
}

/// One HTTP/1.1 request on a new connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    send(addr, method, path, headers, Bytes::new()).await
}

/// PUTs `article` (its JSON, with its `id`) through the write API, and
/// asserts that it was taken (created or replaced).
pub async fn put_article<S: ArticleStore>(server: &TestServer<S>, article: &serde_json::Value) {
    let id = article["id"].as_str().expect("the article's id");
    let res = send(
        server.addr,
        "PUT",
        &format!("/api/v1/articles/{id}"),
        &[AUTH, ("content-type", "application/json")],
        article.to_string(),
    )
    .await;
    assert!(res.status.is_success(), "PUT {id}: {}", res.text());
}

/// The demo articles, as the write API and `kabar import` read them.
pub fn demo_articles() -> Vec<kabar::article::Article> {
    let mut articles = Vec::new();
    for entry in std::fs::read_dir(repo().join("demo/articles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            articles.push(
                kabar::article::Article::from_json(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            );
        }
    }
    articles
}

/// One HTTP/1.1 request with a body on a new connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response {
    match exchange(addr, method, path, headers, body.into()).await {
        Ok(response) => response,
        Err(error) => panic!("{method} {path}: {error}"),
    }
}

/// Like [`send`], but `None` when the connection fails or breaks (the server
/// died), for tests that kill it mid-stream.
pub async fn try_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Option<StatusCode> {
    exchange(addr, method, path, headers, body.into())
        .await
        .ok()
        .map(|r| r.status)
}

/// The request and its whole response, or what failed on the way.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(http_body_util::Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// Sends `raw` bytes and returns everything the server answers until it closes.
pub async fn raw(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// How long a test waits for what the system does in the background (the
/// change-log follower, the WebSub publisher, another process) before it
/// fails: ample for a busy two-core CI machine, and spent only when something
/// is wrong.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Runs `check` every [`POLL`] until it is done (`true`, or `Some(value)`,
/// whose value is returned) and panics naming `what` once `deadline` has
/// passed. Tests wait for what happens in the background this way instead of
/// sleeping for a fixed time, so a busy machine makes them slower, not wrong.
pub async fn eventually<R: Done>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> R,
) -> R::Value {
    let give_up = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await.done() {
            return value;
        }
        assert!(
            Instant::now() < give_up,
            "gave up after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// What a check of [`eventually`] answers: whether it holds yet, or the value
/// it waits for once there is one.
pub trait Done {
    type Value;
    fn done(self) -> Option<Self::Value>;
}

impl Done for bool {
    type Value = ();
    fn done(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Done for Option<T> {
    type Value = T;
    fn done(self) -> Option<T> {
        self
    }
}

/// Parses a feed with an independent parser.
pub fn parse_feed(body: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(body).expect("feed-rs parses the feed")
}

/// Checks the bytes are well-formed XML 1.0 with a strict parser.
pub fn assert_well_formed_xml(body: &[u8]) {
    let text = std::str::from_utf8(body).expect("UTF-8");
    if let Err(error) = roxmltree::Document::parse(text) {
        panic!("not well-formed XML: {error}");
    }
}
