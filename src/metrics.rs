//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Every label set is known in advance (routes, statuses, formats), so counters
//! are plain atomics in fixed arrays: recording a request takes no lock and no
//! allocation on the hot path. The two counters every request moves are kept
//! in per-thread shards, summed when read: one shared counter would make each
//! core take its cache line from the other on every request.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// What a request was for, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Feed,
    Preview,
    TagFeed,
    Sitemap,
    Opml,
    Index,
    Health,
    Ready,
    Metrics,
    Api,
    Hub,
    ActivityPub,
    Unknown,
}

impl Route {
    const ALL: [Route; 13] = [
        Route::Feed,
        Route::Preview,
        Route::TagFeed,
        Route::Sitemap,
        Route::Opml,
        Route::Index,
        Route::Health,
        Route::Ready,
        Route::Metrics,
        Route::Api,
        Route::Hub,
        Route::ActivityPub,
        Route::Unknown,
    ];

    fn label(self) -> &'static str {
        match self {
            Route::Feed => "feed",
            Route::Preview => "preview",
            Route::TagFeed => "tag_feed",
            Route::Sitemap => "sitemap",
            Route::Opml => "opml",
            Route::Index => "index",
            Route::Health => "healthz",
            Route::Ready => "readyz",
            Route::Metrics => "metrics",
            Route::Api => "api",
            Route::Hub => "websub",
            Route::ActivityPub => "activitypub",
            Route::Unknown => "unknown",
        }
    }
}

/// The statuses Kabar sends; anything else is counted under the last slot.
const STATUSES: [u16; 18] = [
    200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 406, 412, 413, 415, 422, 500, 503, 0,
];

/// What is rendered, as a metric label.
pub const RENDER_KINDS: [&str; 7] = ["rss", "atom", "json", "opml", "index", "sitemap", "preview"];

/// Upper bounds of the render-time histogram, in seconds.
const RENDER_BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Shards of the per-request counters: more than the serving threads of the
/// machines Kabar runs on; threads beyond that share.
const SHARDS: usize = 16;

/// The counters every request moves, one thread's share. Aligned so that two
/// shards never share a cache line.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    requests: [[AtomicU64; STATUSES.len()]; Route::ALL.len()],
    cache_hits: AtomicU64,
}

/// This thread's shard: threads take them in turn as they first count.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    INDEX.try_with(|i| *i).unwrap_or(0)
}

#[derive(Default)]
pub struct Metrics {
    shards: [Shard; SHARDS],
    cache_misses: AtomicU64,
    renders: [AtomicU64; RENDER_KINDS.len()],
    render_buckets: [AtomicU64; RENDER_BUCKETS.len()],
    render_micros_sum: AtomicU64,
    render_count: AtomicU64,
    /// Rebuilds that failed (store unreachable, render error).
    build_failures: AtomicU64,
    /// Responses served from the last good render because a rebuild failed.
    stale_served: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: Route, status: u16) {
        let r = Route::ALL
            .iter()
            .position(|x| *x == route)
            .unwrap_or(Route::ALL.len() - 1);
        let s = STATUSES
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES.len() - 1);
        self.shard().requests[r][s].fetch_add(1, Relaxed);
    }

    pub fn cache_hit(&self) {
        self.shard().cache_hits.fetch_add(1, Relaxed);
    }

    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    pub fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Relaxed);
    }

    /// Records one render of `kind` (an index into [`RENDER_KINDS`]).
    pub fn render(&self, kind: usize, took: Duration) {
        if let Some(counter) = self.renders.get(kind) {
            counter.fetch_add(1, Relaxed);
        }
        let secs = took.as_secs_f64();
        if let Some(bucket) = RENDER_BUCKETS.iter().position(|b| secs <= *b) {
            self.render_buckets[bucket].fetch_add(1, Relaxed);
        }
        self.render_count.fetch_add(1, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.render_micros_sum.fetch_add(micros, Relaxed);
    }

    pub fn build_failure(&self) {
        self.build_failures.fetch_add(1, Relaxed);
    }

    pub fn stale_served(&self) {
        self.stale_served.fetch_add(1, Relaxed);
    }

    /// Renders performed so far, all kinds.
    pub fn renders_total(&self) -> u64 {
        self.renders.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The Prometheus text exposition of every counter.
    pub fn exposition(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP kabar_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE kabar_http_requests_total counter\n");
        for (r, route) in Route::ALL.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let n: u64 = self
                    .shards
                    .iter()
                    .map(|shard| shard.requests[r][s].load(Relaxed))
                    .sum();
                if n > 0 {
                    let status = if *status == 0 {
                        "other".to_owned()
                    } else {
                        status.to_string()
                    };
                    let _ = writeln!(
                        out,
                        "kabar_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                        route.label()
                    );
                }
            }
        }
        let hits = self.shards.iter().map(|s| s.cache_hits.load(Relaxed)).sum();
        counter(
            &mut out,
            "kabar_cache_hits_total",
            "Requests answered from the render cache.",
            hits,
        );
        counter(
            &mut out,
            "kabar_cache_misses_total",
            "Requests that found no cached render.",
            self.cache_misses.load(Relaxed),
        );
        counter(
            &mut out,
            "kabar_build_failures_total",
            "Rebuilds that failed.",
            self.build_failures.load(Relaxed),
        );
        counter(
            &mut out,
            "kabar_stale_served_total",
            "Responses served from the last good render after a failed rebuild.",
            self.stale_served.load(Relaxed),
        );
        out.push_str("# HELP kabar_renders_total Resources rendered, by kind.\n");
        out.push_str("# TYPE kabar_renders_total counter\n");
        for (kind, n) in RENDER_KINDS.iter().zip(&self.renders) {
            let _ = writeln!(
                out,
                "kabar_renders_total{{kind=\"{kind}\"}} {}",
                n.load(Relaxed)
            );
        }
        out.push_str(
            "# HELP kabar_render_seconds Time to build, render and compress a resource.\n",
        );
        out.push_str("# TYPE kabar_render_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, n) in RENDER_BUCKETS.iter().zip(&self.render_buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                out,
                "kabar_render_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.render_count.load(Relaxed);
        let _ = writeln!(out, "kabar_render_seconds_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.render_micros_sum.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "kabar_render_seconds_sum {sum}");
        let _ = writeln!(out, "kabar_render_seconds_count {count}");
        out
    }
}

/// Appends gauge `name` (a value that goes up and down) to `out`.
pub fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

pub fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}
