//! `[activitypub]`: each language as a fediverse account. Strangers' servers
//! post to its inbox and name the URLs Kabar fetches keys from and delivers
//! to, so the bounds on what they can make Kabar do live here, with defaults
//! that are safe on a public server.

use std::num::{NonZeroU64, NonZeroUsize};

use serde::Deserialize;
use toml::Spanned;

use super::Network;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityPubConfig {
    /// Serve WebFinger, NodeInfo and one actor per language; off, none of
    /// these routes exist.
    pub enabled: bool,
    /// The largest inbox POST read; larger ones are refused (413).
    pub max_inbox_bytes: NonZeroUsize,
    /// How far a signed request's `Date` may be from now, either way.
    pub signature_window_secs: NonZeroU64,
    /// How long a fetched actor key is trusted before it is fetched again.
    pub key_cache_secs: NonZeroU64,
    /// Networks that may be called although they are not public (loopback,
    /// private, link-local…). Empty on a public server.
    pub allow_networks: Vec<Spanned<Network>>,
    /// The most of any answer from another server that is read.
    pub max_response_bytes: NonZeroUsize,
    pub connect_timeout_secs: NonZeroU64,
    /// The bound on one whole call: connecting, sending, reading the answer.
    pub request_timeout_secs: NonZeroU64,
    /// Calls to other servers at once, over all hosts.
    pub max_connections: NonZeroUsize,
    /// Calls to one host at once.
    pub max_connections_per_host: NonZeroUsize,
    /// Items per page of an actor's outbox.
    pub outbox_page_items: NonZeroUsize,
    /// The wait before the first retry of a failed delivery; each later one
    /// doubles it.
    pub retry_base_secs: NonZeroU64,
    /// The longest wait between two attempts.
    pub retry_max_secs: NonZeroU64,
    /// How long a delivery is retried before it is dropped.
    pub retry_for_secs: NonZeroU64,
}

impl Default for ActivityPubConfig {
    fn default() -> Self {
        let secs = |n: u64| NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
        let size = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        ActivityPubConfig {
            enabled: false,
            max_inbox_bytes: size(256 * 1024),
            // Mastodon accepts signatures dated up to 12 hours from its clock.
            signature_window_secs: secs(12 * 3600),
            key_cache_secs: secs(86_400),
            allow_networks: Vec::new(),
            max_response_bytes: size(1024 * 1024),
            connect_timeout_secs: secs(5),
            request_timeout_secs: secs(10),
            max_connections: size(32),
            max_connections_per_host: size(2),
            outbox_page_items: size(20),
            retry_base_secs: secs(60),
            retry_max_secs: secs(6 * 3600),
            // Mastodon's own retries run for about two days.
            retry_for_secs: secs(2 * 86_400),
        }
    }
}
