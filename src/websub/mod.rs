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
//!
//! This file holds the configuration, the [`Publisher`] handle and the ledger
//! that coalesces pings; `stats` holds the counters, `worker` the pings, their
//! delivery and retries.

mod stats;
mod worker;

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use url::Url;

pub use self::stats::PublishStats;
use self::worker::{Outcome, Ping, Worker, client, target};

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
