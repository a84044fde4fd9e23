//! `[hub]`: the built-in WebSub hub. Strangers choose the callbacks it calls,
//! so every number that bounds what they can make Kabar do lives here, with a
//! default that is safe on a public server.

use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// Serve the hub at `{public_url}websub` and advertise it in every feed.
    pub enabled: bool,
    /// The lease granted when a subscriber asks for none.
    pub lease_default_secs: Spanned<NonZeroU64>,
    /// Shorter leases are refused: each renewal costs a verification.
    pub lease_min_secs: NonZeroU64,
    /// Longer leases are refused: a forgotten subscriber fades within it.
    pub lease_max_secs: NonZeroU64,
    /// Subscriptions held in all, so strangers cannot fill the store.
    pub max_subscriptions: NonZeroU64,
    /// Subscriptions whose callback is on one host, so one subscriber cannot
    /// take the whole allowance.
    pub max_per_host: Spanned<NonZeroU64>,
    /// HMAC of `X-Hub-Signature` for subscribers that gave a secret.
    pub signature: Signature,
    /// Networks callbacks may be in even though they are not public
    /// (loopback, private, link-local…). Empty on a public server.
    pub allow_networks: Vec<Spanned<Network>>,
    /// The largest subscription request body read.
    pub max_request_bytes: NonZeroUsize,
    /// The most of any answer from a callback that is read.
    pub max_response_bytes: NonZeroUsize,
    /// The bound on connecting to a callback.
    pub connect_timeout_secs: NonZeroU64,
    /// The bound on one whole call: connecting, sending, reading the answer.
    pub request_timeout_secs: NonZeroU64,
    /// Calls to callbacks at once, over all hosts.
    pub max_connections: NonZeroUsize,
    /// Calls to callbacks on one host at once.
    pub max_connections_per_host: NonZeroUsize,
    /// The wait before the first retry of a failed delivery; each later one
    /// doubles it, with jitter.
    pub retry_base_millis: NonZeroU64,
    /// The longest wait between two attempts.
    pub retry_max_secs: NonZeroU64,
    /// How long one delivery is retried before it is dropped and counted.
    pub retry_for_secs: NonZeroU64,
    /// A subscription whose deliveries have failed for this long ends.
    pub end_after_failing_secs: NonZeroU64,
    /// Verifications of intent waiting or running at once, over all
    /// subscribers: past it new requests are refused (503) rather than queued.
    pub max_pending_verifications: NonZeroU32,
}

impl Default for HubConfig {
    fn default() -> Self {
        let secs = |n: u64| NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
        let size = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        HubConfig {
            enabled: true,
            lease_default_secs: Spanned::new(0..0, secs(10 * 86_400)),
            lease_min_secs: secs(86_400),
            lease_max_secs: secs(30 * 86_400),
            max_subscriptions: secs(10_000),
            max_per_host: Spanned::new(0..0, secs(100)),
            signature: Signature::Sha256,
            allow_networks: Vec::new(),
            max_request_bytes: size(8 * 1024),
            max_response_bytes: size(64 * 1024),
            connect_timeout_secs: secs(5),
            request_timeout_secs: secs(10),
            max_connections: size(32),
            max_connections_per_host: size(2),
            retry_base_millis: secs(1000),
            retry_max_secs: secs(3600),
            retry_for_secs: secs(86_400),
            end_after_failing_secs: secs(3 * 86_400),
            max_pending_verifications: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl HubConfig {
    /// Cross-field rules, as the span of the value at fault (when it was
    /// written in the file), the key and the problem.
    pub(super) fn check(&self) -> Result<(), (Option<Range<usize>>, String)> {
        let written = |span: Range<usize>| (span != (0..0)).then_some(span);
        let (min, default, max) = (
            self.lease_min_secs.get(),
            self.lease_default_secs.get_ref().get(),
            self.lease_max_secs.get(),
        );
        if !(min <= default && default <= max) {
            return Err((
                written(self.lease_default_secs.span()),
                format!(
                    "hub.lease_default_secs: needs lease_min_secs ({min}) <= \
                     lease_default_secs ({default}) <= lease_max_secs ({max})"
                ),
            ));
        }
        if *self.max_per_host.get_ref() > self.max_subscriptions {
            return Err((
                written(self.max_per_host.span()),
                "hub.max_per_host: is larger than hub.max_subscriptions".to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether `addr` is inside one of the allowed networks.
    pub fn allows(&self, addr: IpAddr) -> bool {
        self.allow_networks
            .iter()
            .any(|n| n.get_ref().contains(addr))
    }
}

/// The HMAC of `X-Hub-Signature` (WebSub §8): sha1 only for old subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signature {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Signature {
    /// The method's name in `X-Hub-Signature: {name}={hex}`.
    pub fn name(self) -> &'static str {
        match self {
            Signature::Sha1 => "sha1",
            Signature::Sha256 => "sha256",
            Signature::Sha384 => "sha384",
            Signature::Sha512 => "sha512",
        }
    }
}

/// An IP network in CIDR notation, `127.0.0.0/8` or `fd00::/8`.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `addr` is in this network. An IPv4-mapped IPv6 address is
    /// compared as the IPv4 address it carries.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl TryFrom<String> for Network {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a network (like \"127.0.0.0/8\" or \"fd00::/8\")");
        let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        let base_ok = match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(a) & !mask == 0
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(a) & !mask == 0
            }
        };
        if !base_ok {
            return Err(format!(
                "{text:?} has bits set past its prefix length (write the network's first address)"
            ));
        }
        Ok(Network { addr, prefix })
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Result<Network, String> {
        Network::try_from(s.to_owned())
    }

    const BUNDLED: &str = include_str!("../../feeds.toml");

    fn error_line(source: &str, starts: &str) -> String {
        let err = crate::config::Config::parse(source, "feeds.toml")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        let line = source.lines().position(|l| l.starts_with(starts)).unwrap() + 1;
        assert!(err.starts_with(&format!("feeds.toml:{line}:")), "{err}");
        err
    }

    #[test]
    fn the_hub_table_is_strict_and_errors_name_the_line() {
        let config = crate::config::Config::parse(BUNDLED, "feeds.toml").unwrap();
        assert!(config.hub.enabled);
        assert!(
            config.hub.allow_networks.is_empty(),
            "no loopback on a public server"
        );
        let err = error_line(
            &BUNDLED.replacen(
                "allow_networks = []",
                "allow_networks = [\"127.0.0.1/8\"]",
                1,
            ),
            "allow_networks",
        );
        assert!(err.contains("bits set past its prefix"), "{err}");
        let err = error_line(
            &BUNDLED.replace("lease_default_secs = 864000", "lease_default_secs = 60"),
            "lease_default_secs",
        );
        assert!(
            err.contains("lease_min_secs (86400) <= lease_default_secs (60)"),
            "{err}"
        );
        let err = error_line(
            &BUNDLED.replace("signature = \"sha256\"", "signature = \"md5\""),
            "signature",
        );
        assert!(err.contains("sha256"), "{err}");
        let err = error_line(
            &BUNDLED.replace("max_per_host = 100", "max_per_host = 100\nmax_hosts = 3"),
            "max_hosts",
        );
        assert!(err.contains("max_hosts"), "{err}");
        // Without the table: the defaults, the hub on.
        let start = BUNDLED.find("[hub]").unwrap();
        let end = BUNDLED
            .find("# Each language as a fediverse account")
            .unwrap();
        let without = format!("{}{}", &BUNDLED[..start], &BUNDLED[end..]);
        let config = crate::config::Config::parse(&without, "feeds.toml").unwrap();
        assert!(config.hub.enabled);
        assert_eq!(config.hub.lease_default_secs.get_ref().get(), 864_000);
    }

    #[test]
    fn networks_parse_strictly_and_contain_their_addresses() {
        let lo = net("127.0.0.0/8").unwrap();
        assert!(lo.contains("127.1.2.3".parse().unwrap()));
        assert!(lo.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!lo.contains("128.0.0.1".parse().unwrap()));
        assert!(!lo.contains("::1".parse().unwrap()));
        let all = net("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let ula = net("fd00::/8").unwrap();
        assert!(ula.contains("fd12::1".parse().unwrap()));
        assert!(!ula.contains("fe80::1".parse().unwrap()));
        assert!(net("::1/128").unwrap().contains("::1".parse().unwrap()));
        for bad in [
            "127.0.0.1",
            "127.0.0.0/33",
            "127.0.0.1/8",
            "x/8",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
        ] {
            assert!(net(bad).is_err(), "{bad}");
        }
    }
}
