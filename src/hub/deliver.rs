//! Content distribution (WebSub §7): the worker that claims due deliveries
//! from the store, sends each subscriber the feed's current bytes, and
//! records the outcome: done, retry after an exponential backoff with jitter,
//! or, past the retry window, dropped (and the subscription ended once its
//! deliveries have failed for long enough).
//!
//! A fan-out is thousands of deliveries at once, so the worker claims ahead
//! (a batch waits locally for free connections), keeps each callback host
//! within its share of the connections (one slow host does not hold the
//! others' turns), and records outcomes in batches: two store transactions
//! per delivery would cost more than the deliveries themselves.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, LINK};
use hyper::{Method, Request, StatusCode};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::task::JoinSet;

use super::{Delivered, Host, Hub, now_ms, shown};
use crate::config::Signature;
use crate::store::{Delivery, DeliveryEnd, Finished, HubStore};
use crate::urls;

/// How often the worker looks for due deliveries without being woken: for
/// retries coming due and for other replicas' writes.
const POLL: Duration = Duration::from_millis(500);

/// How often expired subscriptions are removed and the gauges refreshed.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Claimed deliveries held locally per connection the worker may open.
const CLAIM_AHEAD: usize = 4;

/// The longest a claimed delivery waits locally for a connection. One that
/// waited longer is let go unsent, for its claim to run out and any replica
/// to take it again: its claim must outlast the call it would make.
const MAX_QUEUED: Duration = Duration::from_secs(30);

/// Added to the queue wait and the request timeout for a claim's lifetime,
/// for the feed's build and the store's own time.
const CLAIM_MARGIN: Duration = Duration::from_secs(10);

/// Outcomes recorded in one store transaction at most...
const FINISH_BATCH: usize = 256;

/// ...and the longest one waits to be recorded.
const FINISH_EVERY: Duration = Duration::from_millis(50);

/// Runs the hub's delivery worker until the host is dropped.
pub async fn run<H: Host>(host: Weak<H>) {
    let mut worker = Worker::default();
    if let Some(app) = host.upgrade() {
        // Changes committed while no process of this store was running (or
        // one died before queueing them) are in the log: queue them now.
        app.hub().catch_up(&**app.hub_store()).await;
    }
    loop {
        let Some(app) = host.upgrade() else { break };
        let hub = app.hub().clone();
        worker.turn(&app).await;
        drop(app);
        let flush_at = worker.flush_at();
        tokio::select! {
            () = hub.inner.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            () = tokio::time::sleep_until(flush_at.into()), if !worker.finished.is_empty() => {}
            Some(done) = worker.in_flight.join_next(), if !worker.in_flight.is_empty() => {
                worker.done(done);
            }
        }
    }
}

/// The worker's state between turns.
#[derive(Default)]
struct Worker {
    /// Claimed deliveries waiting for a connection, oldest claim first.
    queued: VecDeque<(Instant, Delivery)>,
    /// Calls running now, per callback host.
    busy: HashMap<String, usize>,
    in_flight: JoinSet<(String, Finished)>,
    /// Outcomes not yet recorded, and when the first of them came.
    finished: Vec<Finished>,
    first_finished: Option<Instant>,
    last_sweep: Option<Instant>,
}

impl Worker {
    /// One round: sweep now and then, record outcomes, claim, start calls.
    async fn turn<H: Host>(&mut self, app: &Arc<H>) {
        let hub = app.hub();
        let store = &**app.hub_store();
        if self.last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
            self.last_sweep = Some(Instant::now());
            sweep(hub, store, now_ms()).await;
        }
        while let Some(done) = self.in_flight.try_join_next() {
            self.done(done);
        }
        if self.finished.len() >= FINISH_BATCH
            || (!self.finished.is_empty()
                && (self.in_flight.is_empty() || Instant::now() >= self.flush_at()))
        {
            self.record(store).await;
        }
        self.claim(hub, store).await;
        self.start(app);
    }

    fn flush_at(&self) -> Instant {
        self.first_finished
            .map_or_else(Instant::now, |t| t + FINISH_EVERY)
    }

    /// Takes a finished call's outcome.
    fn done(&mut self, done: Result<(String, Finished), tokio::task::JoinError>) {
        let Ok((host, finished)) = done else {
            // A call that panicked: its claim runs out and it is made again.
            return;
        };
        if let Some(n) = self.busy.get_mut(&host) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(&host);
            }
        }
        self.first_finished.get_or_insert_with(Instant::now);
        self.finished.push(finished);
    }

    /// Records the outcomes gathered so far in one transaction.
    async fn record<S: HubStore>(&mut self, store: &S) {
        let finished = std::mem::take(&mut self.finished);
        self.first_finished = None;
        if let Err(error) = store.finish_deliveries(finished, now_ms()).await {
            // The claims run out and the deliveries are made again: at least once.
            tracing::error!(%error, "WebSub: cannot record deliveries' outcomes");
        }
    }

    /// Claims more due deliveries when fewer than the connections wait.
    async fn claim<S: HubStore>(&mut self, hub: &Hub, store: &S) {
        let config = &hub.inner.config.hub;
        let connections = config.max_connections.get();
        if self.queued.len() >= connections {
            return;
        }
        let want = connections * CLAIM_AHEAD - self.queued.len();
        let timeout = Duration::from_secs(config.request_timeout_secs.get());
        let now = now_ms();
        let until = now.saturating_add(ms(MAX_QUEUED + timeout + CLAIM_MARGIN));
        match store.claim_deliveries(now, until, want).await {
            Ok(claimed) => {
                let at = Instant::now();
                self.queued.extend(claimed.into_iter().map(|d| (at, d)));
            }
            Err(error) => tracing::warn!(%error, "WebSub: cannot claim deliveries"),
        }
    }

    /// Starts calls while connections are free, each host within its share.
    fn start<H: Host>(&mut self, app: &Arc<H>) {
        let config = &app.hub().inner.config.hub;
        let (connections, per_host) = (
            config.max_connections.get(),
            config.max_connections_per_host.get(),
        );
        let mut waiting = VecDeque::new();
        while self.in_flight.len() < connections {
            let Some((claimed_at, delivery)) = self.queued.pop_front() else {
                break;
            };
            if claimed_at.elapsed() > MAX_QUEUED {
                continue;
            }
            let busy = self.busy.entry(delivery.host.clone()).or_default();
            if *busy >= per_host {
                waiting.push_back((claimed_at, delivery));
                continue;
            }
            *busy += 1;
            let app = Arc::clone(app);
            self.in_flight.spawn(async move {
                let host = delivery.host.clone();
                (host, deliver(&*app, delivery).await)
            });
        }
        // Those skipped for a busy host go first next time, in their order.
        while let Some(item) = waiting.pop_back() {
            self.queued.push_front(item);
        }
    }
}

/// Removes expired subscriptions and refreshes the gauges.
async fn sweep<S: HubStore>(hub: &Hub, store: &S, now: i64) {
    let expired = match store.expire_subscriptions(now).await {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "WebSub: cannot remove expired subscriptions");
            0
        }
    };
    match store.subscription_counts(now).await {
        Ok(counts) => hub.inner.stats.swept(counts, expired),
        Err(error) => tracing::warn!(%error, "WebSub: cannot count subscriptions"),
    }
}

/// Sends one claimed delivery; returns how it ended, for the store.
async fn deliver<H: Host>(app: &H, delivery: Delivery) -> Finished {
    let hub = app.hub();
    let config = &hub.inner.config;
    let outcome = match urls::topic(config, &delivery.topic) {
        // The feed is no longer configured: nothing will ever be sent again.
        None => Err(Failure::Gone),
        Some(resource) => match app.feed_body(resource, delivery.log_seq).await {
            None => Err(Failure::Retry("the feed cannot be built now".to_owned())),
            Some((body, content_type)) => send(hub, &delivery, body, content_type).await,
        },
    };
    let now = now_ms();
    let stats = &hub.inner.stats;
    let end = match outcome {
        Ok(()) => {
            stats.delivery(Delivered::Ok);
            stats.latency(u64::try_from(now - delivery.committed_ms).unwrap_or(0));
            DeliveryEnd::Delivered
        }
        Err(Failure::Gone) => {
            stats.delivery(Delivered::Gone);
            DeliveryEnd::Gone
        }
        Err(Failure::Retry(why)) => failed(hub, &delivery, &why, now),
    };
    Finished {
        subscription: delivery.subscription,
        version: delivery.version,
        end,
    }
}

/// A failed call: retry after a backoff, or drop it past the retry window.
fn failed(hub: &Hub, delivery: &Delivery, why: &str, now: i64) -> DeliveryEnd {
    let config = &hub.inner.config.hub;
    let stats = &hub.inner.stats;
    let window = ms(Duration::from_secs(config.retry_for_secs.get()));
    let first = delivery.first_failure_ms.unwrap_or(now);
    if now.saturating_sub(first) >= window {
        stats.delivery(Delivered::Dropped);
        tracing::warn!(
            callback = %shown(&delivery.callback),
            why = %shown(why),
            attempts = delivery.attempts + 1,
            "WebSub delivery dropped after retrying"
        );
        let end_after = ms(Duration::from_secs(config.end_after_failing_secs.get()));
        DeliveryEnd::Dropped {
            end_if_failing_since_ms: now.saturating_sub(end_after),
        }
    } else {
        stats.delivery(Delivered::Retried);
        let wait = backoff(
            Duration::from_millis(config.retry_base_millis.get()),
            Duration::from_secs(config.retry_max_secs.get()),
            delivery.attempts,
        );
        tracing::info!(
            callback = %shown(&delivery.callback),
            why = %shown(why),
            retry_in = ?wait,
            "WebSub delivery failed; will retry"
        );
        DeliveryEnd::Retry {
            due_ms: now.saturating_add(ms(wait)),
        }
    }
}

enum Failure {
    Retry(String),
    Gone,
}

/// POSTs the body to the callback (§7): the feed's own `Content-Type`, a
/// `Link` to the hub and the topic, and `X-Hub-Signature` when there is a secret.
async fn send(
    hub: &Hub,
    delivery: &Delivery,
    body: Bytes,
    content_type: HeaderValue,
) -> Result<(), Failure> {
    let link = format!(
        "<{}>; rel=\"hub\", <{}>; rel=\"self\"",
        hub.inner.url, delivery.topic
    );
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(delivery.callback.as_str())
        .header(CONTENT_TYPE, content_type)
        .header(LINK, link);
    if let Some(secret) = &delivery.secret {
        request = request.header(
            "x-hub-signature",
            signature(hub.inner.config.hub.signature, secret.as_bytes(), &body),
        );
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| Failure::Retry(format!("cannot build the request: {e}")))?;
    match hub.inner.outbound.send(request).await {
        Ok(answer) if answer.status.is_success() => Ok(()),
        Ok(answer) if answer.status == StatusCode::GONE => Err(Failure::Gone),
        Ok(answer) => Err(Failure::Retry(format!("answered {}", answer.status))),
        Err(error) => Err(Failure::Retry(error.to_string())),
    }
}

/// `X-Hub-Signature`: `{method}={hex of the HMAC of the body}` (§8).
pub fn signature(method: Signature, secret: &[u8], body: &[u8]) -> String {
    let algorithm = match method {
        Signature::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Signature::Sha256 => hmac::HMAC_SHA256,
        Signature::Sha384 => hmac::HMAC_SHA384,
        Signature::Sha512 => hmac::HMAC_SHA512,
    };
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), body);
    format!("{}={}", method.name(), hex(tag.as_ref()))
}

/// The wait before retry number `attempts + 1`: `base` doubled per earlier
/// failure, capped at `max`, then a random point in its upper half so that
/// subscribers that failed together do not retry together.
fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let full = base
        .saturating_mul(1u32.checked_shl(attempts.min(30)).unwrap_or(u32::MAX))
        .min(max);
    let mut random = [0u8; 4];
    let fraction = match SystemRandom::new().fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    full.mul_f64(0.5 + 0.5 * fraction)
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_known_hmacs() {
        // RFC 4231 test case 2.
        let (key, data) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            signature(Signature::Sha256, key, data),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature(Signature::Sha512, key, data).starts_with("sha512=164b7a7bfcf819e2"));
        assert!(signature(Signature::Sha384, key, data).starts_with("sha384=af45d2e376484031"));
        // RFC 2202 test case 2.
        assert_eq!(
            signature(Signature::Sha1, key, data),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for attempts in 0..40 {
            let full = (base * 2u32.saturating_pow(attempts.min(30))).min(max);
            let wait = backoff(base, max, attempts);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
        }
    }
}
