//! The built-in WebSub hub (W3C Recommendation, 2018) at `{public_url}websub`.
//!
//! - A subscription request ([`request`]) is checked at once (4xx with the
//!   reason) and answered 202; the verification of intent ([`verify`]) then
//!   calls the callback with an unguessable challenge, and only a 2xx echoing
//!   it exactly makes (or renews, or ends) a subscription, in the store.
//! - After a write, [`Hub::catch_up`] reads the store's change log ([`log`])
//!   and queues one delivery per subscription of each changed feed; the
//!   worker ([`deliver`]) sends each the feed's current bytes, signed when it
//!   gave a secret, and retries with backoff. Changes made while a delivery
//!   waits fold into it.
//! - Every call goes through the guarded client ([`crate::outbound`]).
//!
//! The hub never logs what a subscriber sent without escaping and cutting it.

mod deliver;
mod log;
mod request;
mod stats;
mod verify;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::HeaderValue;
use tokio::sync::Notify;

pub use self::deliver::run;
pub use self::request::{MAX_SECRET_BYTES, Mode};
pub use self::stats::{Delivered, HubStats, Verification};
use crate::config::Config;
use crate::outbound::{Outbound, OutboundError, OutboundSettings, quote};
use crate::store::{ArticleStore, HubStore};
use crate::urls::{self, Resource};

/// What the hub needs from the running server: its store, and a feed's
/// current bytes as readers get them (the render cache).
pub trait Host: Send + Sync + 'static {
    type Store: ArticleStore;
    fn hub(&self) -> &Hub;
    fn hub_store(&self) -> &Arc<Self::Store>;
    /// The feed's body and `Content-Type` once the render cache has followed
    /// the change log to record `log_seq` (so the body has that change), or
    /// `None` when it cannot be had now.
    fn feed_body(
        &self,
        resource: Resource,
        log_seq: u64,
    ) -> impl Future<Output = Option<(Bytes, HeaderValue)>> + Send;
}

/// A refused subscription request: the status and the plain-text reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

/// A cheap, cloneable handle on the hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    /// `{public_url}websub`, for the `Link` header of deliveries.
    url: String,
    outbound: Outbound,
    stats: Arc<HubStats>,
    /// Wakes the delivery worker when a write queued deliveries.
    wake: Notify,
    /// Held while this process turns the change log into deliveries.
    catching_up: tokio::sync::Mutex<()>,
}

impl Hub {
    pub fn new(config: Arc<Config>) -> Hub {
        let c = &config.hub;
        let outbound = Outbound::new(OutboundSettings {
            allow_networks: c.allow_networks.iter().map(|n| *n.get_ref()).collect(),
            connect_timeout: Duration::from_secs(c.connect_timeout_secs.get()),
            request_timeout: Duration::from_secs(c.request_timeout_secs.get()),
            max_response_bytes: c.max_response_bytes.get(),
            max_connections: c.max_connections.get(),
            max_connections_per_host: c.max_connections_per_host.get(),
            user_agent: concat!("Kabar/", env!("CARGO_PKG_VERSION"), " (WebSub hub)"),
        });
        Hub {
            inner: Arc::new(Inner {
                url: urls::hub_url(&config).unwrap_or_default(),
                config,
                outbound,
                stats: Arc::new(HubStats::default()),
                wake: Notify::new(),
                catching_up: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.config.hub.enabled
    }

    pub fn stats(&self) -> &Arc<HubStats> {
        &self.inner.stats
    }

    /// Checks a subscription request and starts its verification of intent
    /// in the background; `Ok` means 202 Accepted.
    pub async fn request<S: HubStore>(&self, store: &Arc<S>, body: &[u8]) -> Result<(), Refusal> {
        let result = self.accept(store, body).await;
        self.inner.stats.request(result.is_ok());
        if let Err(refusal) = &result {
            tracing::info!(status = refusal.status, reason = %refusal.reason, "WebSub request refused");
        }
        result
    }

    async fn accept<S: HubStore>(&self, store: &Arc<S>, body: &[u8]) -> Result<(), Refusal> {
        let config = &self.inner.config;
        let intent = request::parse(config, body).map_err(|why| Refusal::new(400, why))?;
        match self.inner.outbound.check(&intent.callback).await {
            Ok(()) => {}
            Err(OutboundError::Refused(why)) => {
                return Err(Refusal::new(403, format!("hub.callback is refused: {why}")));
            }
            Err(other) => {
                return Err(Refusal::new(
                    400,
                    format!("hub.callback cannot be reached: {other}"),
                ));
            }
        }
        if intent.mode == Mode::Subscribe {
            let room = store
                .subscription_room(
                    intent.topic.clone(),
                    intent.callback.to_string(),
                    intent.host.clone(),
                    now_ms(),
                )
                .await
                .map_err(|error| {
                    tracing::error!(%error, "WebSub: the store failed");
                    Refusal::new(503, "the hub cannot take subscriptions right now")
                })?;
            // A renewal takes no room; `subscribe` counts exactly, this only
            // refuses at once what would surely be denied.
            let hub = &config.hub;
            if !room.renewal && room.total >= hub.max_subscriptions.get() {
                return Err(Refusal::new(
                    403,
                    "the hub holds as many subscriptions as it may",
                ));
            }
            if !room.renewal && room.on_host >= hub.max_per_host.get_ref().get() {
                return Err(Refusal::new(
                    403,
                    "too many subscriptions for callbacks on this host",
                ));
            }
        }
        let stats = &self.inner.stats;
        let pending = stats.verifying.fetch_add(1, Relaxed);
        if pending >= u64::from(config.hub.max_pending_verifications.get()) {
            stats.verifying.fetch_sub(1, Relaxed);
            return Err(Refusal::new(
                503,
                "too many verifications under way; try again later",
            ));
        }
        tokio::spawn(verify::verify(self.clone(), Arc::clone(store), intent));
        Ok(())
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A stranger's text for a log line.
fn shown(text: &str) -> String {
    quote(text)
}
