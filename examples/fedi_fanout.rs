//! Fediverse fan-out benchmark: one new French article, its account followed
//! by N users on S servers, and the time until every server's shared inbox
//! has taken the signed `Create`.
//!
//! ```text
//! cargo run --release --example fedi_fanout -- http://127.0.0.1:8080/ \
//!     --store data/kabar.sqlite [--followers 10000] [--servers 1000] \
//!     [--readers 8] [--verify-every 50] [--pid SERVER_PID] [--timeout 120]
//! ```
//!
//! The base URL is the server's `public_url`. The server must run on the
//! SQLite file `--store` with `[activitypub] enabled`, `allow_networks`
//! holding 127.0.0.0/8, and `KABAR_API_TOKEN` set to the token it was
//! started with; `bench/fedi-fanout.sh` sets all of that up.
//!
//! Steps: S inbox servers listen on S loopback addresses (127.0.x.y, one
//! port), so that Kabar sees S hosts, as it would S fediverse servers; N
//! followers of `@fr`, spread evenly over them, are written into the store
//! (as accepted Follows leave them); then `PUT /api/v1/articles/{new id}`
//! adds a French article, and the time runs from its response (the commit)
//! until every server's shared inbox has answered 2xx to its `Create`. One
//! POST in `--verify-every` has its HTTP signature checked against the key
//! Kabar's actor publishes. Meanwhile `--readers` clients GET /fr/rss.xml with
//! gzip; with `--pid`, the server's peak RSS is reset before the write and
//! read after.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kabar::fedi::{keys, signature};
use kabar::store::{FediStore, Follower, SqliteStore};
use tokio::net::TcpListener;

struct Options {
    base: String,
    store: String,
    followers: usize,
    servers: usize,
    readers: usize,
    verify_every: usize,
    pid: Option<u32>,
    timeout: Duration,
}

fn options() -> Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut base = None;
    let mut o = Options {
        base: String::new(),
        store: String::new(),
        followers: 10_000,
        servers: 1_000,
        readers: 8,
        verify_every: 50,
        pid: None,
        timeout: Duration::from_secs(120),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--store" => o.store = value()?,
            "--followers" => o.followers = value()?.parse()?,
            "--servers" => o.servers = value()?.parse()?,
            "--readers" => o.readers = value()?.parse()?,
            "--verify-every" => o.verify_every = value()?.parse()?,
            "--pid" => o.pid = Some(value()?.parse()?),
            "--timeout" => o.timeout = Duration::from_secs(value()?.parse()?),
            _ if arg.starts_with("--") => bail!("unknown option {arg}"),
            _ => base = Some(arg),
        }
    }
    let mut base = base.context("usage: fedi_fanout BASE_URL --store PATH [options]")?;
    if !base.ends_with('/') {
        base.push('/');
    }
    o.base = base;
    if o.store.is_empty() || o.servers == 0 || o.followers < o.servers || o.servers > 250 * 250 {
        bail!("--store is required, and 1 <= --servers <= --followers");
    }
    Ok(o)
}

/// The loopback address of inbox server `i`: 127.0.x.y, from 127.0.0.2 on.
fn address(i: usize) -> Ipv4Addr {
    let n = i + 2;
    Ipv4Addr::new(127, 0, (n / 250) as u8, (n % 250) as u8 + 1)
}

/// What the inbox servers have seen, times in nanoseconds since `epoch`.
struct Inboxes {
    epoch: Instant,
    /// Whether server `i`'s shared inbox has taken a `Create`.
    created: Vec<AtomicBool>,
    distinct: AtomicUsize,
    posts: AtomicUsize,
    bytes: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    checked: AtomicUsize,
    bad_signatures: AtomicUsize,
    verify_every: usize,
    /// Kabar's key (PKCS#1 DER), as its actor publishes it.
    key: Vec<u8>,
    all_done: tokio::sync::Notify,
}

impl Inboxes {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    async fn handle(&self, server: usize, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::POST || req.uri().path() != "/inbox" {
            return status(StatusCode::NOT_FOUND);
        }
        let (parts, body) = req.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return status(StatusCode::BAD_REQUEST);
        };
        let n = self.posts.fetch_add(1, Relaxed);
        self.bytes.fetch_add(body.len() as u64, Relaxed);
        if n.is_multiple_of(self.verify_every) {
            self.checked.fetch_add(1, Relaxed);
            if !self.signed(&parts, &body) {
                self.bad_signatures.fetch_add(1, Relaxed);
                return status(StatusCode::UNAUTHORIZED);
            }
        }
        let now = self.now_ns();
        self.first_ns.fetch_min(now, Relaxed);
        let is_create = serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|activity| activity["type"] == "Create");
        if is_create && !self.created[server].swap(true, Relaxed) {
            self.last_ns.fetch_max(now, Relaxed);
            if self.distinct.fetch_add(1, Relaxed) + 1 == self.created.len() {
                self.all_done.notify_one();
            }
        }
        status(StatusCode::ACCEPTED)
    }

    /// Whether the POST carries a valid signature by Kabar's key.
    fn signed(&self, parts: &hyper::http::request::Parts, body: &[u8]) -> bool {
        let Ok(sig) = signature::parse(&parts.headers) else {
            return false;
        };
        let received = signature::Received {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body,
        };
        match received.check(&sig, Duration::from_secs(300)) {
            Ok(signing_string) => {
                signature::verifies(&self.key, sig.alg, &signing_string, &sig.signature)
            }
            Err(_) => false,
        }
    }
}

async fn serve_inbox(listener: TcpListener, server: usize, inboxes: Arc<Inboxes>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inboxes = Arc::clone(&inboxes);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let inboxes = Arc::clone(&inboxes);
                async move { Ok::<_, Infallible>(inboxes.handle(server, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[path = "support/mod.rs"]
mod support;

use support::{HttpClient, call, status};

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let token = std::env::var("KABAR_API_TOKEN").context("KABAR_API_TOKEN is not set")?;
    let auth = format!("Bearer {token}");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // --- Kabar's key, as a receiving server fetches it ------------------------
    let actor = format!("{}ap/fr", o.base);
    let accept = [("accept", "application/activity+json")];
    let (code, body) = call(&client, Method::GET, &actor, &accept, Bytes::new()).await?;
    if code != StatusCode::OK {
        bail!("GET {actor}: {code}");
    }
    let document: serde_json::Value = serde_json::from_slice(&body)?;
    let pem = document["publicKey"]["publicKeyPem"]
        .as_str()
        .context("the actor has no publicKeyPem")?;
    let key = keys::public_key_der(pem).context("the actor's key does not read")?;

    // --- the inbox servers, one per loopback address ---------------------------
    let port = TcpListener::bind(SocketAddr::from((address(0), 0)))
        .await?
        .local_addr()?
        .port();
    let inboxes = Arc::new(Inboxes {
        epoch: Instant::now(),
        created: (0..o.servers).map(|_| AtomicBool::new(false)).collect(),
        distinct: AtomicUsize::new(0),
        posts: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        first_ns: AtomicU64::new(u64::MAX),
        last_ns: AtomicU64::new(0),
        checked: AtomicUsize::new(0),
        bad_signatures: AtomicUsize::new(0),
        verify_every: o.verify_every.max(1),
        key,
        all_done: tokio::sync::Notify::new(),
    });
    for server in 0..o.servers {
        let listener = TcpListener::bind(SocketAddr::from((address(server), port)))
            .await
            .with_context(|| format!("binding {}:{port}", address(server)))?;
        tokio::spawn(serve_inbox(listener, server, Arc::clone(&inboxes)));
    }

    // --- the followers, as accepted Follows leave them in the store ------------
    let started = Instant::now();
    let (store, _) = SqliteStore::open(std::path::Path::new(&o.store))?;
    for j in 0..o.followers {
        let server = j % o.servers;
        let host = format!("http://{}:{port}", address(server));
        let follower = Follower {
            lang: "fr".to_owned(),
            actor: format!("{host}/users/{j}"),
            inbox: format!("{host}/users/{j}/inbox"),
            shared_inbox: Some(format!("{host}/inbox")),
        };
        // The server writes to the same file: wait out its transactions.
        let mut tries = 0;
        while let Err(error) = store.follow(follower.clone(), 0).await {
            tries += 1;
            if tries > 100 {
                return Err(error.into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "followers: {} of @fr on {} servers (127.0.x.y:{port}) stored in {:.2} s",
        o.followers,
        o.servers,
        started.elapsed().as_secs_f64()
    );

    // --- the write ---------------------------------------------------------------
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let id = format!("fanout-{}", stamp.as_millis());
    let article = serde_json::json!({
        "id": id,
        "section": "national",
        "published": chrono::Utc::now().to_rfc3339(),
        "tags": ["Banjir", "Semarang"],
        "versions": {
            "id": {"translation": "original", "title": "Banjir rob di pesisir Semarang", "body": "Air laut naik."},
            "fr": {"translation": "machine", "title": "Inondations côtières à Semarang", "body": "La mer monte."}
        }
    });
    let article_url = format!("{}api/v1/articles/{id}", o.base);
    let topic = format!("{}fr/rss.xml", o.base);
    let meanwhile = support::Meanwhile::start(&client, &topic, o.readers, o.pid);
    let json = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let sent = inboxes.now_ns();
    let (code, body) = call(
        &client,
        Method::PUT,
        &article_url,
        &json,
        Bytes::from(article.to_string()),
    )
    .await?;
    let committed = inboxes.now_ns();
    if !code.is_success() {
        meanwhile.stop();
        bail!(
            "PUT {article_url}: {code}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    // --- wait for every server's Create --------------------------------------------
    let waited = tokio::time::timeout(o.timeout, async {
        loop {
            let notified = inboxes.all_done.notified();
            if inboxes.distinct.load(Relaxed) >= o.servers {
                break;
            }
            notified.await;
        }
    })
    .await;
    meanwhile.stop();
    let delivered = inboxes.distinct.load(Relaxed);
    let posts = inboxes.posts.load(Relaxed);
    let secs = |ns: u64| ns as f64 / 1e9;
    println!(
        "write: PUT answered {code} in {:.1} ms",
        secs(committed - sent) * 1e3
    );
    if waited.is_err() {
        println!(
            "deliveries: TIMED OUT after {:?}: {delivered} of {} servers had the Create",
            o.timeout, o.servers
        );
    }
    if delivered > 0 {
        let span = secs(inboxes.last_ns.load(Relaxed).saturating_sub(committed));
        println!(
            "fan-out: {delivered} shared inboxes took the Create {:.2} s after the commit (first after {:.1} ms); {posts} POSTs, {:.0} bytes each",
            span,
            secs(inboxes.first_ns.load(Relaxed).saturating_sub(committed)) * 1e3,
            inboxes.bytes.load(Relaxed) as f64 / posts.max(1) as f64,
        );
        println!(
            "throughput: {:.0} signed deliveries/s (commit to last)",
            delivered as f64 / span.max(1e-9)
        );
    }
    println!(
        "signatures: {} checked, {} invalid",
        inboxes.checked.load(Relaxed),
        inboxes.bad_signatures.load(Relaxed)
    );

    meanwhile.finish().await?;
    if waited.is_err() || inboxes.bad_signatures.load(Relaxed) > 0 {
        bail!("not every server took a validly signed Create");
    }
    Ok(())
}
