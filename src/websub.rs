//! The WebSub publisher: after a write, tells every configured hub which feeds
//! changed (`hub.mode=publish`), in the background and with retries.
//!
//! [`Publisher::publish`] only queues, so a write's HTTP response never waits
//! on a hub. A worker takes pings from a bounded queue and delivers at most
//! [`MAX_IN_FLIGHT`] at once; a failed attempt (connection error, timeout,
//! non-2xx answer) is retried after an exponential backoff, during which the
//! ping holds no delivery slot, so one failing hub does not stall the others.
//!
//! A ping that is still waiting (queued, or between two attempts) for a hub
//! and feed absorbs later publishes of that feed: the hub fetches the feed
//! when it is told, so one ping covers every change made before it goes out.
//!
//! Every ping ends counted in [`PublishStats`]: published, given up, or
//! dropped. A ping lost any other way (its task aborted at shutdown) is logged
//! and counted as given up by its own destructor, so none vanishes silently.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use url::Url;

/// Deliveries running at once, across all hubs: enough to keep several hubs
/// busy, few enough that a burst of writes does not open a connection per feed.
pub const MAX_IN_FLIGHT: usize = 8;

/// The wait before the first retry; each later one doubles it (1 s, 2 s, 4 s, 8 s).
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(1);

/// Attempts per ping, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// How long one attempt may take, connecting and reading the answer included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Pings queued before new ones are dropped. Coalescing keeps the queue to at
/// most one ping per hub and feed, so this only fills when hubs stall.
pub const DEFAULT_QUEUE: usize = 1024;

/// The longest wait between two attempts, however many are configured: keeps
/// the doubling from growing into hours (or overflowing).
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

/// The most of a hub's answer body that is read. Hubs answer with an empty or
/// short body; reading it lets the connection be reused, and a longer one is
/// cut rather than buffered.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// How much of a failed answer's body is quoted in the log.
const QUOTED_ANSWER_CHARS: usize = 200;

/// How long an idle keep-alive connection to a hub is kept for the next ping.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Sent with every ping, so hub operators can tell who is calling.
const USER_AGENT_VALUE: &str = concat!("Kabar/", env!("CARGO_PKG_VERSION"), " (WebSub publisher)");

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Which hubs to tell, and how hard to try.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Hub endpoints (http or https); empty turns publishing off.
    pub hubs: Vec<Url>,
    /// The wait before the first retry, doubled for each later one. Tests set
    /// it to milliseconds.
    pub retry_base: Duration,
    /// Attempts per ping, the first included (at least 1 is made).
    pub max_attempts: u32,
    /// The bound on one attempt: connecting, sending and reading the answer.
    pub request_timeout: Duration,
    /// Capacity of the queue between [`Publisher::publish`] and the worker (at least 1).
    pub queue: usize,
}

impl PublisherConfig {
    /// The given hubs with the default retry policy, timeout and queue.
    pub fn new(hubs: Vec<Url>) -> Self {
        PublisherConfig {
            hubs,
            retry_base: DEFAULT_RETRY_BASE,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            queue: DEFAULT_QUEUE,
        }
    }
}

/// Counters of what became of the pings, exposed on `/metrics`.
#[derive(Debug, Default)]
pub struct PublishStats {
    /// Pings a hub accepted (any 2xx).
    published: AtomicU64,
    /// Failed attempts that were followed by another (or handed over to a
    /// newer ping for the same hub and feed).
    retries: AtomicU64,
    /// Pings given up: out of attempts, unusable hub URL, or abandoned when
    /// shutdown ran out of time.
    failed: AtomicU64,
    /// Pings never queued: the queue was full or the publisher closed.
    dropped: AtomicU64,
    /// Publishes folded into a ping already waiting for the same hub and feed.
    coalesced: AtomicU64,
}

impl PublishStats {
    pub fn published(&self) -> u64 {
        self.published.load(Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    pub fn coalesced(&self) -> u64 {
        self.coalesced.load(Relaxed)
    }

    /// The Prometheus text exposition of the counters, to append to `/metrics`.
    pub fn exposition(&self) -> String {
        let mut out = String::with_capacity(1024);
        counter(
            &mut out,
            "kabar_websub_published_total",
            "WebSub publish pings a hub accepted.",
            &self.published,
        );
        counter(
            &mut out,
            "kabar_websub_retries_total",
            "WebSub publish attempts that failed and were retried.",
            &self.retries,
        );
        counter(
            &mut out,
            "kabar_websub_failed_total",
            "WebSub publish pings given up after their last attempt or at shutdown.",
            &self.failed,
        );
        counter(
            &mut out,
            "kabar_websub_dropped_total",
            "WebSub publish pings dropped because the queue was full or closed.",
            &self.dropped,
        );
        counter(
            &mut out,
            "kabar_websub_coalesced_total",
            "WebSub publishes folded into a ping already waiting for the same hub and feed.",
            &self.coalesced,
        );
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.load(Relaxed)
    );
}

/// A cheap, cloneable handle on the background publisher.
#[derive(Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

/// What every clone of a [`Publisher`] shares.
struct Shared {
    /// The queue's sending side, `None` once closed. It is taken out rather
    /// than dropped with a handle so that one `close` stops every clone.
    sender: Mutex<Option<mpsc::Sender<Ping>>>,
    ledger: Arc<Ledger>,
    /// Set by `close` when its time is up: the worker then aborts what is
    /// left. Dropped with the last handle without being set, which lets the
    /// worker finish its queue at its own pace.
    abandon: watch::Sender<bool>,
    /// Never changes; its sender lives in the worker, so it closes when the
    /// worker ends (or panics): that is how `close` knows the work is done.
    worker_done: watch::Receiver<()>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("hubs", &self.shared.ledger.hubs)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Starts the background worker on the current tokio runtime; returns the
    /// handle and the worker's `JoinHandle`, which ends once the publisher is
    /// closed (or every handle dropped) and its queue is worked off.
    ///
    /// A hub URL that cannot be requested (not http or https) is logged here,
    /// and each ping to it is given up at once and counted as failed.
    pub fn start(config: PublisherConfig, stats: Arc<PublishStats>) -> (Publisher, JoinHandle<()>) {
        let targets: Vec<_> = config.hubs.iter().map(target).collect();
        for (hub, target) in config.hubs.iter().zip(&targets) {
            if let Err(why) = target {
                tracing::error!(%hub, why, "WebSub hub URL is unusable; pings to it will fail");
            }
        }
        let ledger = Arc::new(Ledger {
            hubs: config.hubs,
            waiting: Mutex::new(HashSet::new()),
            stats,
        });
        let (sender, queue) = mpsc::channel(config.queue.max(1));
        let (abandon, abandon_signal) = watch::channel(false);
        let (done, worker_done) = watch::channel(());
        let worker = Arc::new(Worker {
            client: client(config.request_timeout),
            targets,
            retry_base: config.retry_base,
            max_attempts: config.max_attempts.max(1),
            request_timeout: config.request_timeout,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        });
        let handle = tokio::spawn(worker.run(queue, abandon_signal, done));
        let publisher = Publisher {
            shared: Arc::new(Shared {
                sender: Mutex::new(Some(sender)),
                ledger,
                abandon,
                worker_done,
            }),
        };
        (publisher, handle)
    }

    /// Queues a publish ping for each feed URL to each hub and returns at once.
    /// A no-op without hubs. A ping already waiting for the same hub and feed
    /// absorbs the new one; when the queue is full the ping is dropped, logged
    /// and counted, never waited for.
    pub fn publish(&self, feed_urls: &[String]) {
        let ledger = &self.shared.ledger;
        if ledger.hubs.is_empty() {
            return;
        }
        let sender = self
            .shared
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for feed in feed_urls {
            let feed: Arc<str> = Arc::from(feed.as_str());
            for hub in 0..ledger.hubs.len() {
                let key = Key {
                    hub,
                    feed: Arc::clone(&feed),
                };
                if !ledger.claim(&key) {
                    ledger.stats.coalesced.fetch_add(1, Relaxed);
                    tracing::debug!(hub = %ledger.hubs[hub], %feed, "WebSub ping already waiting; coalesced");
                    continue;
                }
                let ping = Ping::new(key, Arc::clone(ledger));
                let refused = match &sender {
                    Some(sender) => match sender.try_send(ping) {
                        Ok(()) => None,
                        Err(TrySendError::Full(ping)) => Some((ping, "queue full")),
                        Err(TrySendError::Closed(ping)) => Some((ping, "publisher closed")),
                    },
                    None => Some((ping, "publisher closed")),
                };
                if let Some((ping, why)) = refused {
                    tracing::error!(hub = %ping.hub(), feed = %ping.key.feed, why, "WebSub publish dropped");
                    ping.settle(Outcome::Dropped);
                }
            }
        }
    }

    /// Stops taking pings (on every clone of this handle) and lets the worker
    /// deliver what is queued or retrying, for at most `timeout`; then aborts
    /// the rest, each abandoned ping logged and counted as failed. Returns
    /// whether everything finished in time.
    pub async fn close(&self, timeout: Duration) -> bool {
        drop(
            self.shared
                .sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut done = self.shared.worker_done.clone();
        if tokio::time::timeout(timeout, worker_end(&mut done))
            .await
            .is_ok()
        {
            return true;
        }
        tracing::warn!(
            ?timeout,
            "WebSub publisher still busy at shutdown; abandoning the pings left"
        );
        self.shared.abandon.send_replace(true);
        worker_end(&mut done).await;
        false
    }
}

/// Waits until the worker has ended.
async fn worker_end(done: &mut watch::Receiver<()>) {
    while done.changed().await.is_ok() {}
}

/// Waits until `close` gives up on the queue; never, if every handle is
/// dropped without closing.
async fn abandoned(signal: &mut watch::Receiver<bool>) {
    if signal.wait_for(|abandon| *abandon).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One hub (by index into the configuration) and one feed URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    hub: usize,
    feed: Arc<str>,
}

/// Bookkeeping shared by the handles, the worker and every ping. Kept apart
/// from the queue's sender so that a ping sitting in the queue does not keep
/// the queue open.
struct Ledger {
    hubs: Vec<Url>,
    /// Hubs and feeds with a ping waiting (queued, or between attempts): a
    /// publish of one of these is absorbed by that ping. A key leaves the set
    /// when its attempt starts, since the hub may fetch the feed before a
    /// later change is written.
    waiting: Mutex<HashSet<Key>>,
    stats: Arc<PublishStats>,
}

impl Ledger {
    /// Marks `key` as waiting; false if it already was.
    fn claim(&self, key: &Key) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone())
    }

    fn release(&self, key: &Key) {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// How a ping ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Published,
    Failed,
    Dropped,
    /// Failed, but a newer ping for the same hub and feed is queued and will
    /// tell the hub instead.
    Superseded,
}

/// One publish notification for one hub and feed, from queueing to its end.
struct Ping {
    key: Key,
    ledger: Arc<Ledger>,
    /// Attempts made so far.
    attempts: u32,
    /// Whether this ping holds its key in [`Ledger::waiting`], to be released
    /// when it goes out or ends.
    waiting: bool,
    /// Whether its end has been counted; if not, the destructor counts it.
    settled: bool,
}

impl Ping {
    /// A ping whose key the caller has just claimed.
    fn new(key: Key, ledger: Arc<Ledger>) -> Self {
        Ping {
            key,
            ledger,
            attempts: 0,
            waiting: true,
            settled: false,
        }
    }

    fn hub(&self) -> &Url {
        &self.ledger.hubs[self.key.hub]
    }

    /// Called as an attempt goes out: from now on a publish of the same feed
    /// needs a ping of its own.
    fn start_attempt(&mut self) {
        if self.waiting {
            self.ledger.release(&self.key);
            self.waiting = false;
        }
        self.attempts += 1;
    }

    /// Marks the ping as waiting again before a retry; false if a newer ping
    /// for the same key is already waiting and so takes over.
    fn wait_again(&mut self) -> bool {
        self.waiting = self.ledger.claim(&self.key);
        self.waiting
    }

    fn settle(mut self, outcome: Outcome) {
        let stats = &self.ledger.stats;
        match outcome {
            Outcome::Published => stats.published.fetch_add(1, Relaxed),
            Outcome::Failed => stats.failed.fetch_add(1, Relaxed),
            Outcome::Dropped => stats.dropped.fetch_add(1, Relaxed),
            Outcome::Superseded => 0,
        };
        self.settled = true;
    }
}

impl Drop for Ping {
    fn drop(&mut self) {
        if !self.settled {
            tracing::error!(
                hub = %self.hub(),
                feed = %self.key.feed,
                attempts = self.attempts,
                "WebSub publish abandoned before a hub accepted it"
            );
            self.ledger.stats.failed.fetch_add(1, Relaxed);
        }
        if self.waiting {
            self.ledger.release(&self.key);
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum PingError {
    #[error("unusable hub URL: {0}")]
    Hub(String),
    #[error("request not built: {0}")]
    Build(#[from] hyper::http::Error),
    #[error("request failed: {}", chain(.0))]
    Request(#[from] hyper_util::client::legacy::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("hub answered {status}: {body:?}")]
    Status { status: StatusCode, body: String },
}

impl PingError {
    /// Whether another attempt cannot do better.
    fn is_permanent(&self) -> bool {
        matches!(self, PingError::Hub(_) | PingError::Build(_))
    }
}

/// An error and its sources on one line: the client's own message ("client
/// error (Connect)") says little without the cause beneath it.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

/// The request target for a hub, or why there can be none.
fn target(hub: &Url) -> Result<Uri, String> {
    if !matches!(hub.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is neither http nor https",
            hub.scheme()
        ));
    }
    // A fragment is never sent, and `Uri` refuses one.
    let mut hub = hub.clone();
    hub.set_fragment(None);
    hub.as_str().parse::<Uri>().map_err(|e| e.to_string())
}

type HubClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An HTTP/1 client for http and https hubs, trusting the Mozilla roots
/// (so it works the same in a bare container), with ring as the TLS backend.
fn client(connect_timeout: Duration) -> HubClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    // The provider is passed explicitly rather than taken from rustls' process
    // default, which panics if another crate ever enables a second backend.
    let https = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports rustls' default protocol versions")
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build(https)
}

/// The wait after failed attempt number `attempt` (1-based): base, 2×, 4×, …
fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

/// The background side: takes pings off the queue and delivers them.
struct Worker {
    client: HubClient,
    /// Each configured hub's request target, parsed once.
    targets: Vec<Result<Uri, String>>,
    retry_base: Duration,
    max_attempts: u32,
    request_timeout: Duration,
    /// Delivery slots: a ping holds one while its request is out, not while
    /// it waits to retry.
    slots: Arc<Semaphore>,
}

impl Worker {
    /// Delivers until the queue is closed and worked off, or `close` abandons
    /// it; `_done` is dropped on the way out, which tells `close`.
    async fn run(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<Ping>,
        mut abandon: watch::Receiver<bool>,
        _done: watch::Sender<()>,
    ) {
        let mut deliveries = JoinSet::new();
        let finished = tokio::select! {
            () = self.accept(&mut queue, &mut deliveries) => true,
            () = abandoned(&mut abandon) => false,
        };
        if !finished {
            // Each aborted delivery and each ping left in the queue logs and
            // counts itself as it is dropped.
            deliveries.abort_all();
        }
        while let Some(joined) = deliveries.join_next().await {
            report(joined);
        }
        queue.close();
        while let Ok(ping) = queue.try_recv() {
            drop(ping);
        }
    }

    /// Starts a delivery for each queued ping as a slot frees, then waits for
    /// the deliveries once the queue is closed and empty.
    async fn accept(
        self: &Arc<Self>,
        queue: &mut mpsc::Receiver<Ping>,
        deliveries: &mut JoinSet<()>,
    ) {
        while let Some(ping) = queue.recv().await {
            let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await else {
                break;
            };
            deliveries.spawn(Arc::clone(self).deliver(ping, slot));
            while let Some(joined) = deliveries.try_join_next() {
                report(joined);
            }
        }
        while let Some(joined) = deliveries.join_next().await {
            report(joined);
        }
    }

    /// Sends one ping, retrying with backoff until a hub accepts it or its
    /// attempts run out.
    async fn deliver(self: Arc<Self>, mut ping: Ping, mut slot: OwnedSemaphorePermit) {
        loop {
            ping.start_attempt();
            let result = self.send(&ping.key).await;
            drop(slot);
            let error = match result {
                Ok(status) => {
                    tracing::debug!(hub = %ping.hub(), feed = %ping.key.feed, attempt = ping.attempts, %status, "WebSub publish accepted");
                    ping.settle(Outcome::Published);
                    return;
                }
                Err(error) => error,
            };
            if error.is_permanent() || ping.attempts >= self.max_attempts {
                tracing::error!(hub = %ping.hub(), feed = %ping.key.feed, attempts = ping.attempts, %error, "WebSub publish given up");
                ping.settle(Outcome::Failed);
                return;
            }
            let delay = backoff(self.retry_base, ping.attempts);
            // Claim the key before counting the retry, so that whoever sees
            // the count also sees the ping waiting.
            let kept = ping.wait_again();
            ping.ledger.stats.retries.fetch_add(1, Relaxed);
            if !kept {
                tracing::warn!(hub = %ping.hub(), feed = %ping.key.feed, attempt = ping.attempts, %error, "WebSub publish attempt failed; a newer ping for this feed takes over");
                ping.settle(Outcome::Superseded);
                return;
            }
            tracing::warn!(hub = %ping.hub(), feed = %ping.key.feed, attempt = ping.attempts, %error, retry_in = ?delay, "WebSub publish attempt failed; retrying");
            tokio::time::sleep(delay).await;
            slot = match Arc::clone(&self.slots).acquire_owned().await {
                Ok(slot) => slot,
                // The semaphore is never closed; if it were, the ping's
                // destructor would log and count it.
                Err(_) => return,
            };
        }
    }

    /// One attempt: POSTs the publish form and reads the answer.
    async fn send(&self, key: &Key) -> Result<StatusCode, PingError> {
        let uri = match self.targets.get(key.hub) {
            Some(Ok(uri)) => uri.clone(),
            Some(Err(why)) => return Err(PingError::Hub(why.clone())),
            None => return Err(PingError::Hub("not configured".to_owned())),
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", &key.feed)
            .finish();
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE))
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .body(Full::new(Bytes::from(body)))?;
        tokio::time::timeout(self.request_timeout, self.exchange(request))
            .await
            .map_err(|_| PingError::Timeout(self.request_timeout))?
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<StatusCode, PingError> {
        let response = self.client.request(request).await?;
        let status = response.status();
        // Read (a bounded part of) the body either way: it frees the
        // connection for reuse, and a failure's body says why.
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(status);
        }
        let body = String::from_utf8_lossy(&body)
            .trim()
            .chars()
            .take(QUOTED_ANSWER_CHARS)
            .collect();
        Err(PingError::Status { status, body })
    }
}

/// Logs a delivery task that panicked (its ping has counted itself already).
fn report(joined: Result<(), JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "WebSub delivery task panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(1);
        let waits: Vec<_> = (1..=4).map(|a| backoff(base, a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8]);
        assert_eq!(backoff(base, 40), MAX_RETRY_DELAY);
        assert_eq!(
            backoff(Duration::from_millis(20), 0),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn only_http_and_https_hubs_are_usable() {
        let ok = Url::parse("https://hub.example/publish#frag").unwrap();
        assert_eq!(
            target(&ok).unwrap().to_string(),
            "https://hub.example/publish"
        );
        let ftp = Url::parse("ftp://hub.example/").unwrap();
        assert!(target(&ftp).is_err());
    }

    #[test]
    fn the_user_agent_names_kabar_and_its_version() {
        assert_eq!(
            USER_AGENT_VALUE,
            format!("Kabar/{} (WebSub publisher)", env!("CARGO_PKG_VERSION"))
        );
    }
}
