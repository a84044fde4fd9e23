//! The delivery side: a ping's life from queue to outcome, the HTTP client
//! that sends it, the backoff between attempts and the worker that runs them.

use std::error::Error as StdError;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinError, JoinSet};
use url::Url;

use super::{Key, Ledger};

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

/// Waits until `close` gives up on the queue; never, if every handle is
/// dropped without closing.
pub(super) async fn abandoned(signal: &mut watch::Receiver<bool>) {
    if signal.wait_for(|abandon| *abandon).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How a ping ended.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outcome {
    Published,
    Failed,
    Dropped,
    /// Failed, but a newer ping for the same hub and feed is queued and will
    /// tell the hub instead.
    Superseded,
}

/// One publish notification for one hub and feed, from queueing to its end.
pub(super) struct Ping {
    pub(super) key: Key,
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
    pub(super) fn new(key: Key, ledger: Arc<Ledger>) -> Self {
        Ping {
            key,
            ledger,
            attempts: 0,
            waiting: true,
            settled: false,
        }
    }

    pub(super) fn hub(&self) -> &Url {
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

    pub(super) fn settle(mut self, outcome: Outcome) {
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
pub(super) fn target(hub: &Url) -> Result<Uri, String> {
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
pub(super) fn client(connect_timeout: Duration) -> HubClient {
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
pub(super) struct Worker {
    pub(super) client: HubClient,
    /// Each configured hub's request target, parsed once.
    pub(super) targets: Vec<Result<Uri, String>>,
    pub(super) retry_base: Duration,
    pub(super) max_attempts: u32,
    pub(super) request_timeout: Duration,
    /// Delivery slots: a ping holds one while its request is out, not while
    /// it waits to retry.
    pub(super) slots: Arc<Semaphore>,
}

impl Worker {
    /// Delivers until the queue is closed and worked off, or `close` abandons
    /// it; `_done` is dropped on the way out, which tells `close`.
    pub(super) async fn run(
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
