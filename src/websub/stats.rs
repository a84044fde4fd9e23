//! The publisher's counters: what became of the pings, and their Prometheus
//! exposition.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::metrics;

/// Counters of what became of the pings, exposed on `/metrics`.
#[derive(Debug, Default)]
pub struct PublishStats {
    /// Pings a hub accepted (any 2xx).
    pub(super) published: AtomicU64,
    /// Failed attempts that were followed by another (or handed over to a
    /// newer ping for the same hub and feed).
    pub(super) retries: AtomicU64,
    /// Pings given up: out of attempts, unusable hub URL, or abandoned when
    /// shutdown ran out of time.
    pub(super) failed: AtomicU64,
    /// Pings never queued: the queue was full or the publisher closed.
    pub(super) dropped: AtomicU64,
    /// Publishes folded into a ping already waiting for the same hub and feed.
    pub(super) coalesced: AtomicU64,
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
        metrics::counter(
            &mut out,
            "kabar_websub_published_total",
            "WebSub publish pings a hub accepted.",
            self.published.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_websub_retries_total",
            "WebSub publish attempts that failed and were retried.",
            self.retries.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_websub_failed_total",
            "WebSub publish pings given up after their last attempt or at shutdown.",
            self.failed.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_websub_dropped_total",
            "WebSub publish pings dropped because the queue was full or closed.",
            self.dropped.load(Relaxed),
        );
        metrics::counter(
            &mut out,
            "kabar_websub_coalesced_total",
            "WebSub publishes folded into a ping already waiting for the same hub and feed.",
            self.coalesced.load(Relaxed),
        );
        out
    }
}
