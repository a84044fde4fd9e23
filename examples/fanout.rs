//! WebSub fan-out benchmark: N verified subscribers to one feed, one write
//! that changes it, and the time until the last subscriber has its body.
//!
//! ```text
//! cargo run --release --example fanout -- http://127.0.0.1:8080/ \
//!     [--subscribers 10000] [--article banjir-rob-pesisir-semarang] \
//!     [--readers 8] [--pid SERVER_PID] [--timeout 120]
//! ```
//!
//! The base URL is the server's `public_url` (the topic is `{base}fr/rss.xml`,
//! as its self link gives it). The server needs `[hub] allow_networks`
//! with 127.0.0.0/8 and room for N subscriptions on one host, and
//! `KABAR_API_TOKEN` set to the token it was started with. `bench/fanout.sh`
//! sets all of that up.
//!
//! Steps: a receiver on 127.0.0.1 (callbacks `/cb/{n}` on one port) echoes
//! `hub.challenge` and counts delivery POSTs; N subscriptions are requested
//! (a 503 for too many verifications under way is retried) and awaited until
//! all are verified; then `PUT /api/v1/articles/{id}` changes the French
//! version's title, and the time runs from its response (the commit) until
//! every callback has had a POST. Meanwhile `--readers` clients GET the same
//! feed with gzip in a loop, for their latencies. With `--pid`, the server's
//! peak RSS is reset (`/proc/PID/clear_refs`) before the write and VmRSS /
//! VmHWM are read before and after, with VmRSS also sampled every 5 ms.

use std::convert::Infallible;
use std::net::SocketAddr;
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
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Subscription requests in flight at once.
const SUBSCRIBE_CONCURRENCY: usize = 32;

struct Options {
    base: String,
    subscribers: usize,
    article: String,
    readers: usize,
    pid: Option<u32>,
    timeout: Duration,
}

fn options() -> Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut base = None;
    let mut o = Options {
        base: String::new(),
        subscribers: 10_000,
        article: "banjir-rob-pesisir-semarang".to_owned(),
        readers: 8,
        pid: None,
        timeout: Duration::from_secs(120),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--subscribers" => o.subscribers = value()?.parse()?,
            "--article" => o.article = value()?,
            "--readers" => o.readers = value()?.parse()?,
            "--pid" => o.pid = Some(value()?.parse()?),
            "--timeout" => o.timeout = Duration::from_secs(value()?.parse()?),
            _ if arg.starts_with("--") => bail!("unknown option {arg}"),
            _ => base = Some(arg),
        }
    }
    let mut base = base.context("usage: fanout BASE_URL [--subscribers N] [--article ID] [--readers C] [--pid PID] [--timeout SECS]")?;
    if !base.ends_with('/') {
        base.push('/');
    }
    o.base = base;
    if o.subscribers == 0 {
        bail!("--subscribers must be at least 1");
    }
    Ok(o)
}

/// What the receiver has seen, times in nanoseconds since `epoch`.
struct Receiver {
    epoch: Instant,
    verified: AtomicUsize,
    posts: AtomicUsize,
    bytes: AtomicU64,
    delivered: Vec<AtomicBool>,
    distinct: AtomicUsize,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    all_done: tokio::sync::Notify,
}

impl Receiver {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let index = req
            .uri()
            .path()
            .strip_prefix("/cb/")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < self.delivered.len());
        let Some(index) = index else {
            return status(StatusCode::NOT_FOUND);
        };
        match *req.method() {
            Method::GET => {
                let query = req.uri().query().unwrap_or("");
                let mut challenge = None;
                let mut mode = None;
                for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
                    match &*k {
                        "hub.challenge" => challenge = Some(v.into_owned()),
                        "hub.mode" => mode = Some(v.into_owned()),
                        _ => {}
                    }
                }
                let Some(challenge) = challenge else {
                    return status(StatusCode::BAD_REQUEST);
                };
                if mode.as_deref() == Some("subscribe") {
                    self.verified.fetch_add(1, Relaxed);
                }
                Response::new(Full::new(Bytes::from(challenge)))
            }
            Method::POST => {
                let Ok(body) = req.into_body().collect().await else {
                    return status(StatusCode::BAD_REQUEST);
                };
                let len = body.to_bytes().len() as u64;
                let now = self.now_ns();
                self.posts.fetch_add(1, Relaxed);
                self.bytes.fetch_add(len, Relaxed);
                self.first_ns.fetch_min(now, Relaxed);
                if !self.delivered[index].swap(true, Relaxed) {
                    self.last_ns.fetch_max(now, Relaxed);
                    if self.distinct.fetch_add(1, Relaxed) + 1 == self.delivered.len() {
                        self.all_done.notify_one();
                    }
                }
                status(StatusCode::NO_CONTENT)
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED),
        }
    }
}

async fn serve_receiver(listener: TcpListener, receiver: Arc<Receiver>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let receiver = Arc::clone(&receiver);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let receiver = Arc::clone(&receiver);
                async move { Ok::<_, Infallible>(receiver.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn subscribe(client: &HttpClient, hub: &str, topic: &str, callback: &str) -> Result<()> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.topic", topic)
        .append_pair("hub.callback", callback)
        .finish();
    let form = Bytes::from(form);
    let mut wait = Duration::from_millis(5);
    for _ in 0..200 {
        let content_type = [("content-type", "application/x-www-form-urlencoded")];
        let (code, body) = call(client, Method::POST, hub, &content_type, form.clone()).await?;
        match code {
            StatusCode::ACCEPTED => return Ok(()),
            StatusCode::SERVICE_UNAVAILABLE => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(200));
            }
            _ => bail!("{callback}: {code}: {}", String::from_utf8_lossy(&body)),
        }
    }
    bail!("{callback}: still 503 after 200 tries")
}

#[path = "support/mod.rs"]
mod support;

use support::{HttpClient, call, status};

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let token = std::env::var("KABAR_API_TOKEN").context("KABAR_API_TOKEN is not set")?;
    let auth = format!("Bearer {token}");
    let topic = format!("{}fr/rss.xml", o.base);
    let hub = format!("{}websub", o.base);
    let n = o.subscribers;

    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let port = listener.local_addr()?.port();
    let receiver = Arc::new(Receiver {
        epoch: Instant::now(),
        verified: AtomicUsize::new(0),
        posts: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        delivered: (0..n).map(|_| AtomicBool::new(false)).collect(),
        distinct: AtomicUsize::new(0),
        first_ns: AtomicU64::new(u64::MAX),
        last_ns: AtomicU64::new(0),
        all_done: tokio::sync::Notify::new(),
    });
    tokio::spawn(serve_receiver(listener, Arc::clone(&receiver)));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // --- subscribe and wait for every verification ---------------------------
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(SUBSCRIBE_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let (client, hub, topic) = (client.clone(), hub.clone(), topic.clone());
        tasks.spawn(async move {
            let callback = format!("http://127.0.0.1:{port}/cb/{i}");
            let result = subscribe(&client, &hub, &topic, &callback).await;
            drop(permit);
            result
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let requested = started.elapsed();
    let deadline = Instant::now() + o.timeout;
    while receiver.verified.load(Relaxed) < n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} subscriptions verified within {:?}",
                receiver.verified.load(Relaxed),
                o.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let verified = started.elapsed();
    // The hub stores a subscription after the callback answered: let the
    // last ones land before the write.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "subscriptions: {n} requested in {:.2} s, all verified after {:.2} s ({:.0}/s)",
        requested.as_secs_f64(),
        verified.as_secs_f64(),
        n as f64 / verified.as_secs_f64()
    );

    // --- the write -------------------------------------------------------------
    let article_url = format!("{}api/v1/articles/{}", o.base, o.article);
    let (code, body) = call(
        &client,
        Method::GET,
        &article_url,
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await?;
    if code != StatusCode::OK {
        bail!(
            "GET {article_url}: {code}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let mut article: serde_json::Value = serde_json::from_slice(&body)?;
    let fr = article["versions"]
        .get_mut("fr")
        .context("the article has no French version")?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    fr["title"] = serde_json::Value::String(format!("Fan-out {stamp}: inondations à Semarang"));
    let put_body = Bytes::from(serde_json::to_vec(&article)?);

    let meanwhile = support::Meanwhile::start(&client, &topic, o.readers, o.pid);
    let sent = receiver.now_ns();
    let (code, body) = call(
        &client,
        Method::PUT,
        &article_url,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        put_body,
    )
    .await?;
    let committed = receiver.now_ns();
    if !code.is_success() {
        meanwhile.stop();
        bail!(
            "PUT {article_url}: {code}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    // --- wait for every delivery -------------------------------------------------
    let waited = tokio::time::timeout(o.timeout, async {
        loop {
            let notified = receiver.all_done.notified();
            if receiver.distinct.load(Relaxed) >= n {
                break;
            }
            notified.await;
        }
    })
    .await;
    meanwhile.stop();
    let delivered = receiver.distinct.load(Relaxed);
    let posts = receiver.posts.load(Relaxed);
    let bytes = receiver.bytes.load(Relaxed);
    let first = receiver.first_ns.load(Relaxed);
    let last = receiver.last_ns.load(Relaxed);

    let secs = |ns: u64| ns as f64 / 1e9;
    println!(
        "write: PUT answered {code} in {:.1} ms",
        secs(committed - sent) * 1e3
    );
    if waited.is_err() {
        println!(
            "deliveries: TIMED OUT after {:?}: {delivered} of {n} subscribers had a body",
            o.timeout
        );
    }
    if delivered > 0 {
        let span = secs(last.saturating_sub(committed));
        println!(
            "fan-out: {delivered} subscribers served {:.2} s after the commit (first body after {:.1} ms)",
            span,
            secs(first.saturating_sub(committed)) * 1e3
        );
        println!(
            "throughput: {:.0} deliveries/s (commit to last); {posts} POSTs, {:.0} bytes per delivery, {:.1} MB in all",
            delivered as f64 / span.max(1e-9),
            bytes as f64 / posts.max(1) as f64,
            bytes as f64 / 1e6
        );
    }

    meanwhile.finish().await?;
    if waited.is_err() {
        bail!("not every subscriber had a body");
    }
    Ok(())
}
