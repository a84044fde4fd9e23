//! Content distribution (WebSub §7): the worker that claims due deliveries
//! from the store, sends each subscriber the feed's current bytes, and
//! records the outcome: done, retry after an exponential backoff with jitter,
//! or, past the retry window, dropped (and the subscription ended once its
//! deliveries have failed for long enough).

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
use crate::store::{Delivery, DeliveryEnd, HubStore};
use crate::urls;

/// How often the worker looks for due deliveries without being woken: for
/// retries coming due and for other replicas' writes.
const POLL: Duration = Duration::from_millis(500);

/// How often expired subscriptions are removed and the gauges refreshed.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Added to twice the request timeout for a claim's lifetime, so a claim
/// outlives the delivery it covers (a slot wait and the feed's build too).
const CLAIM_MARGIN: Duration = Duration::from_secs(10);

/// Runs the hub's delivery worker until the host is dropped.
pub async fn run<H: Host>(host: Weak<H>) {
    let mut in_flight = JoinSet::new();
    let mut last_sweep: Option<Instant> = None;
    loop {
        let Some(app) = host.upgrade() else { break };
        let hub = app.hub().clone();
        let config = &hub.inner.config.hub;
        let now = now_ms();
        if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
            last_sweep = Some(Instant::now());
            sweep(&hub, &**app.hub_store(), now).await;
        }
        let free = config.max_connections.get().saturating_sub(in_flight.len());
        if free > 0 {
            let claim = Duration::from_secs(config.request_timeout_secs.get()) * 2 + CLAIM_MARGIN;
            let until = now.saturating_add(i64::try_from(claim.as_millis()).unwrap_or(i64::MAX));
            match app.hub_store().claim_deliveries(now, until, free).await {
                Ok(claimed) => {
                    for delivery in claimed {
                        let app = Arc::clone(&app);
                        in_flight.spawn(async move { deliver(&*app, delivery).await });
                    }
                }
                Err(error) => tracing::warn!(%error, "WebSub: cannot claim deliveries"),
            }
        }
        drop(app);
        tokio::select! {
            () = hub.inner.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
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

/// Sends one claimed delivery and records how it ended.
async fn deliver<H: Host>(app: &H, delivery: Delivery) {
    let hub = app.hub();
    let config = &hub.inner.config;
    let outcome = match urls::topic(config, &delivery.topic) {
        // The feed is no longer configured: nothing will ever be sent again.
        None => Err(Failure::Gone),
        Some(resource) => match app.feed_body(resource).await {
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
        Err(Failure::Retry(why)) => {
            let hub_config = &config.hub;
            let window = ms(Duration::from_secs(hub_config.retry_for_secs.get()));
            let first = delivery.first_failure_ms.unwrap_or(now);
            if now.saturating_sub(first) >= window {
                stats.delivery(Delivered::Dropped);
                tracing::warn!(
                    callback = %shown(&delivery.callback),
                    why = %shown(&why),
                    attempts = delivery.attempts + 1,
                    "WebSub delivery dropped after retrying"
                );
                let end_after = ms(Duration::from_secs(hub_config.end_after_failing_secs.get()));
                DeliveryEnd::Dropped {
                    end_if_failing_since_ms: now.saturating_sub(end_after),
                }
            } else {
                stats.delivery(Delivered::Retried);
                let wait = backoff(
                    Duration::from_millis(hub_config.retry_base_millis.get()),
                    Duration::from_secs(hub_config.retry_max_secs.get()),
                    delivery.attempts,
                );
                tracing::info!(
                    callback = %shown(&delivery.callback),
                    why = %shown(&why),
                    retry_in = ?wait,
                    "WebSub delivery failed; will retry"
                );
                DeliveryEnd::Retry {
                    due_ms: now.saturating_add(ms(wait)),
                }
            }
        }
    };
    if let Err(error) = app
        .hub_store()
        .finish_delivery(delivery.subscription, delivery.version, end, now)
        .await
    {
        // The claim runs out and the delivery is made again: at least once.
        tracing::error!(%error, "WebSub: cannot record a delivery's outcome");
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
