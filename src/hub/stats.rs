//! The hub's counters for `/metrics`: subscriptions by state, verifications
//! and deliveries by outcome, retries, and how long a change takes from its
//! commit to a subscriber's answer.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::SubscriptionCounts;

/// How a verification of intent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// A new subscription is stored.
    Subscribed,
    /// An existing one got a new lease (and secret).
    Renewed,
    Unsubscribed,
    /// The callback answered 2xx, but not with the challenge.
    WrongChallenge,
    /// No 2xx answer: error status, timeout, connection failure.
    Failed,
    /// The callback's address was refused at connect time.
    Refused,
    /// Confirmed, but over a limit: told `hub.mode=denied`.
    Denied,
}

impl Verification {
    const ALL: [Verification; 7] = [
        Verification::Subscribed,
        Verification::Renewed,
        Verification::Unsubscribed,
        Verification::WrongChallenge,
        Verification::Failed,
        Verification::Refused,
        Verification::Denied,
    ];

    fn label(self) -> &'static str {
        match self {
            Verification::Subscribed => "subscribed",
            Verification::Renewed => "renewed",
            Verification::Unsubscribed => "unsubscribed",
            Verification::WrongChallenge => "wrong_challenge",
            Verification::Failed => "failed",
            Verification::Refused => "refused",
            Verification::Denied => "denied",
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// The subscriber answered 2xx.
    Ok,
    /// It failed and will be tried again.
    Retried,
    /// It failed for longer than the retry window: given up.
    Dropped,
    /// The subscriber answered 410 Gone: its subscription ended.
    Gone,
}

impl Delivered {
    const ALL: [Delivered; 4] = [
        Delivered::Ok,
        Delivered::Retried,
        Delivered::Dropped,
        Delivered::Gone,
    ];

    fn label(self) -> &'static str {
        match self {
            Delivered::Ok => "delivered",
            Delivered::Retried => "retried",
            Delivered::Dropped => "dropped",
            Delivered::Gone => "gone",
        }
    }
}

/// Upper bounds of the delivery-latency histogram, in seconds: from a
/// subscriber on the same network to one reached after hours of retries.
const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0, 3600.0];

#[derive(Debug, Default)]
pub struct HubStats {
    requests_accepted: AtomicU64,
    requests_refused: AtomicU64,
    verifications: [AtomicU64; Verification::ALL.len()],
    deliveries: [AtomicU64; Delivered::ALL.len()],
    /// Subscriptions waiting for their verification of intent.
    pub(super) verifying: AtomicU64,
    /// From the store at the last sweep.
    active: AtomicU64,
    failing: AtomicU64,
    pending_deliveries: AtomicU64,
    expired: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ms: AtomicU64,
}

impl HubStats {
    pub(super) fn request(&self, accepted: bool) {
        let counter = if accepted {
            &self.requests_accepted
        } else {
            &self.requests_refused
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(super) fn verification(&self, outcome: Verification) {
        let i = Verification::ALL
            .iter()
            .position(|v| *v == outcome)
            .unwrap_or(0);
        self.verifications[i].fetch_add(1, Relaxed);
    }

    pub(super) fn delivery(&self, outcome: Delivered) {
        let i = Delivered::ALL
            .iter()
            .position(|d| *d == outcome)
            .unwrap_or(0);
        self.deliveries[i].fetch_add(1, Relaxed);
    }

    /// Records the time from a change's commit to the subscriber's 2xx.
    pub(super) fn latency(&self, ms: u64) {
        let secs = ms as f64 / 1000.0;
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_ms.fetch_add(ms, Relaxed);
    }

    pub(super) fn swept(&self, counts: SubscriptionCounts, expired: u64) {
        self.active.store(counts.active, Relaxed);
        self.failing.store(counts.failing, Relaxed);
        self.pending_deliveries
            .store(counts.pending_deliveries, Relaxed);
        self.expired.fetch_add(expired, Relaxed);
    }

    /// Verifications that ended with `outcome`.
    pub fn verifications(&self, outcome: Verification) -> u64 {
        let i = Verification::ALL
            .iter()
            .position(|v| *v == outcome)
            .unwrap_or(0);
        self.verifications[i].load(Relaxed)
    }

    /// Delivery attempts that ended with `outcome`.
    pub fn deliveries(&self, outcome: Delivered) -> u64 {
        let i = Delivered::ALL
            .iter()
            .position(|d| *d == outcome)
            .unwrap_or(0);
        self.deliveries[i].load(Relaxed)
    }

    /// The Prometheus text exposition, to append to `/metrics`.
    pub fn exposition(&self) -> String {
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP kabar_hub_requests_total Subscription requests to the built-in hub, by outcome.\n\
             # TYPE kabar_hub_requests_total counter\n\
             kabar_hub_requests_total{{outcome=\"accepted\"}} {}\n\
             kabar_hub_requests_total{{outcome=\"refused\"}} {}",
            self.requests_accepted.load(Relaxed),
            self.requests_refused.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kabar_hub_subscriptions Subscriptions by state (active and failing as of the last sweep).\n\
             # TYPE kabar_hub_subscriptions gauge\n\
             kabar_hub_subscriptions{{state=\"verifying\"}} {}\n\
             kabar_hub_subscriptions{{state=\"active\"}} {}\n\
             kabar_hub_subscriptions{{state=\"failing\"}} {}",
            self.verifying.load(Relaxed),
            self.active.load(Relaxed),
            self.failing.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kabar_hub_pending_deliveries Deliveries waiting, as of the last sweep.\n\
             # TYPE kabar_hub_pending_deliveries gauge\n\
             kabar_hub_pending_deliveries {}\n\
             # HELP kabar_hub_expired_total Subscriptions removed when their lease ran out.\n\
             # TYPE kabar_hub_expired_total counter\n\
             kabar_hub_expired_total {}",
            self.pending_deliveries.load(Relaxed),
            self.expired.load(Relaxed),
        );
        out.push_str(
            "# HELP kabar_hub_verifications_total Verifications of intent, by outcome.\n\
             # TYPE kabar_hub_verifications_total counter\n",
        );
        for (outcome, n) in Verification::ALL.iter().zip(&self.verifications) {
            let _ = writeln!(
                out,
                "kabar_hub_verifications_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                n.load(Relaxed)
            );
        }
        out.push_str(
            "# HELP kabar_hub_deliveries_total Content delivery attempts, by outcome \
             (retried: failed and tried again, the retries).\n\
             # TYPE kabar_hub_deliveries_total counter\n",
        );
        for (outcome, n) in Delivered::ALL.iter().zip(&self.deliveries) {
            let _ = writeln!(
                out,
                "kabar_hub_deliveries_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                n.load(Relaxed)
            );
        }
        out.push_str(
            "# HELP kabar_hub_delivery_latency_seconds From a write's commit to the subscriber's 2xx.\n\
             # TYPE kabar_hub_delivery_latency_seconds histogram\n",
        );
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "kabar_hub_delivery_latency_seconds_bucket{{le=\"{bound}\"}} {}",
                n.load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            out,
            "kabar_hub_delivery_latency_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             kabar_hub_delivery_latency_seconds_sum {}\n\
             kabar_hub_delivery_latency_seconds_count {count}",
            self.latency_sum_ms.load(Relaxed) as f64 / 1000.0
        );
        out
    }
}
