//! Verification of intent (WebSub §5.3): a GET to the callback with a fresh
//! challenge. Only a 2xx whose body is exactly the challenge confirms; then
//! the subscription is stored (or renewed, or removed). One confirmed but
//! over a limit is told so with `hub.mode=denied` (§5.2).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use ring::rand::{SecureRandom, SystemRandom};
use url::Url;

use super::request::{Intent, Mode};
use super::{Hub, Verification, now_ms, shown};
use crate::outbound::OutboundError;
use crate::store::{HubStore, NewSubscription, Subscribed, SubscriptionLimits};

/// Random bytes in a challenge: 256 bits, unguessable.
const CHALLENGE_BYTES: usize = 32;

/// Runs one verification; the caller counted it in `verifying`.
pub(super) async fn verify<S: HubStore>(hub: Hub, store: Arc<S>, intent: Intent) {
    let outcome = run(&hub, &*store, &intent).await;
    let stats = &hub.inner.stats;
    stats.verifying.fetch_sub(1, Relaxed);
    stats.verification(outcome);
    tracing::info!(
        outcome = ?outcome,
        mode = intent.mode.as_str(),
        topic = %shown(&intent.topic),
        callback = %shown(intent.callback.as_str()),
        "WebSub verification of intent"
    );
}

async fn run<S: HubStore>(hub: &Hub, store: &S, intent: &Intent) -> Verification {
    let Some(challenge) = challenge() else {
        tracing::error!("no randomness for a WebSub challenge");
        return Verification::Failed;
    };
    let mut url = intent.callback.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("hub.mode", intent.mode.as_str())
            .append_pair("hub.topic", &intent.topic)
            .append_pair("hub.challenge", &challenge);
        if intent.mode == Mode::Subscribe {
            query.append_pair("hub.lease_seconds", &intent.lease_secs.to_string());
        }
    }
    match get(hub, &url).await {
        Ok((status, body)) if (200..300).contains(&status) => {
            if body != challenge.as_bytes() {
                return Verification::WrongChallenge;
            }
        }
        Ok(_) => return Verification::Failed,
        Err(OutboundError::Refused(_)) => return Verification::Refused,
        Err(_) => return Verification::Failed,
    }
    let result = match intent.mode {
        Mode::Unsubscribe => store
            .unsubscribe(intent.topic.clone(), intent.callback.to_string())
            .await
            .map(|_| Verification::Unsubscribed),
        Mode::Subscribe => subscribe(hub, store, intent).await,
    };
    result.unwrap_or_else(|error| {
        tracing::error!(%error, "WebSub: the store failed after a verification");
        Verification::Failed
    })
}

async fn subscribe<S: HubStore>(
    hub: &Hub,
    store: &S,
    intent: &Intent,
) -> Result<Verification, crate::store::StoreError> {
    let config = &hub.inner.config.hub;
    let now = now_ms();
    let lease_ms = i64::try_from(intent.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let subscription = NewSubscription {
        topic: intent.topic.clone(),
        callback: intent.callback.to_string(),
        host: intent.host.clone(),
        secret: intent.secret.clone(),
        expires_ms: now.saturating_add(lease_ms),
    };
    let limits = SubscriptionLimits {
        total: config.max_subscriptions.get(),
        per_host: config.max_per_host.get_ref().get(),
    };
    Ok(match store.subscribe(subscription, limits, now).await? {
        Subscribed::Created => Verification::Subscribed,
        Subscribed::Renewed => Verification::Renewed,
        Subscribed::OverLimit(reason) => {
            deny(hub, intent, reason).await;
            Verification::Denied
        }
    })
}

/// Tells the callback its subscription was not made (§5.2); its answer
/// changes nothing, so it is only logged.
async fn deny(hub: &Hub, intent: &Intent, reason: &str) {
    let mut url = intent.callback.clone();
    url.query_pairs_mut()
        .append_pair("hub.mode", "denied")
        .append_pair("hub.topic", &intent.topic)
        .append_pair("hub.reason", reason);
    if let Err(error) = get(hub, &url).await {
        tracing::info!(%error, callback = %shown(intent.callback.as_str()), "WebSub denial not delivered");
    }
}

/// A GET through the guarded client: the status and (at most) the body.
async fn get(hub: &Hub, url: &Url) -> Result<(u16, Bytes), OutboundError> {
    let request = Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .body(Full::new(Bytes::new()))
        .map_err(|e| OutboundError::Invalid(e.to_string()))?;
    let answer = hub.inner.outbound.send(request).await?;
    Ok((answer.status.as_u16(), answer.body))
}

/// A fresh challenge: random bytes from the system, in hex.
fn challenge() -> Option<String> {
    let mut bytes = [0u8; CHALLENGE_BYTES];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(super::deliver::hex(&bytes))
}
