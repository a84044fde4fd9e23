//! Which addresses Kabar may call, and the resolver that enforces it at
//! connect time.
//!
//! A callback URL is a stranger's choice. Calling it must not reach this
//! machine, its private network or a cloud's metadata service, so every
//! address a host name resolves to is checked, and one bad address refuses
//! the whole host (a name that also resolves to a private address is probing).
//! The connector then connects to exactly the addresses that passed: there is
//! no second lookup for a DNS-rebinding server to answer differently.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::config::Network;

/// Whether `addr` is a public unicast address: not loopback, private,
/// link-local, multicast, unspecified, shared (CGNAT), documentation,
/// benchmarking or otherwise reserved, in IPv4 or IPv6. IPv4-mapped and
/// NAT64 addresses are judged by the IPv4 address they carry.
pub fn is_global(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    let [b0, b1, b2, _] = a.octets();
    !(b0 == 0                                   // "this network", 0.0.0.0/8
        || b0 == 10                             // private
        || b0 == 127                            // loopback
        || (b0 == 100 && (64..128).contains(&b1)) // shared address space (CGNAT)
        || (b0 == 169 && b1 == 254)             // link-local, cloud metadata
        || (b0 == 172 && (16..32).contains(&b1)) // private
        || (b0 == 192 && b1 == 0 && b2 == 0)    // IETF protocol assignments
        || (b0 == 192 && b1 == 0 && b2 == 2)    // documentation
        || (b0 == 192 && b1 == 88 && b2 == 99)  // 6to4 relay anycast
        || (b0 == 192 && b1 == 168)             // private
        || (b0 == 198 && (18..20).contains(&b1)) // benchmarking
        || (b0 == 198 && b1 == 51 && b2 == 100) // documentation
        || (b0 == 203 && b1 == 0 && b2 == 113)  // documentation
        || b0 >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    let s = a.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address it carries.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b, c, d] = [s[6] >> 8, s[6] & 0xff, s[7] >> 8, s[7] & 0xff];
        return is_global_v4(Ipv4Addr::new(a as u8, b as u8, c as u8, d as u8));
    }
    // Global unicast is 2000::/3; inside it, refuse what tunnels or is reserved.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo, ORCHID
        && !(s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        && s[0] != 0x2002 // 6to4: carries an IPv4 address that may be private
        && !(s[0] == 0x3fff && s[1] < 0x1000) // documentation (2024)
}

/// What may be called: public addresses, and those in the allowed networks.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Non-public networks an operator chose to allow (tests: loopback).
    pub allow: Vec<Network>,
}

impl AddressPolicy {
    /// Whether `addr` may be connected to.
    pub fn permits(&self, addr: IpAddr) -> bool {
        is_global(addr) || self.allow.iter().any(|n| n.contains(addr))
    }

    /// `addrs`, if every one of them may be connected to.
    pub fn check(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        if addrs.is_empty() {
            return Err(Refused(format!("{} resolves to no address", quote(host))));
        }
        match addrs.iter().find(|a| !self.permits(a.ip())) {
            Some(bad) => Err(Refused(format!(
                "{} resolves to {}, which is not a public address",
                quote(host),
                bad.ip()
            ))),
            None => Ok(addrs),
        }
    }
}

/// Why a host may not be called; carried through the connector's I/O error
/// so the caller can tell a refusal from a failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A stranger's text, fit for a log line or an error: escaped, and cut.
pub fn quote(text: &str) -> String {
    /// Enough to recognise a host or URL, not enough to flood a log.
    const MAX_CHARS: usize = 120;
    let mut cut: String = text.chars().take(MAX_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// The connector's resolver: looks the name up once and hands over only
/// addresses the policy permits, or an error carrying [`Refused`].
#[derive(Clone)]
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, io::Error>> + Send>>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the connector puts the URL's port on each address.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            policy
                .check(&host, addrs)
                .map(Vec::into_iter)
                .map_err(|refused| io::Error::new(io::ErrorKind::PermissionDenied, refused))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(s: &str) -> bool {
        is_global(s.parse().unwrap())
    }

    #[test]
    fn only_public_unicast_addresses_are_global() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(global(public), "{public}");
        }
        for refused in [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.0.0.8",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2001::1",
            "100::1",
        ] {
            assert!(!global(refused), "{refused}");
        }
    }

    #[test]
    fn one_refused_address_refuses_the_host() {
        let policy = AddressPolicy::default();
        let public: SocketAddr = "8.8.8.8:80".parse().unwrap();
        let private: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert!(policy.check("a.example", vec![public]).is_ok());
        assert!(policy.check("a.example", vec![public, private]).is_err());
        assert!(policy.check("a.example", vec![]).is_err());
        let allowed = AddressPolicy {
            allow: vec![Network::try_from("10.0.0.0/8".to_owned()).unwrap()],
        };
        assert!(allowed.check("a.example", vec![public, private]).is_ok());
    }

    #[test]
    fn quoted_text_is_escaped_and_cut() {
        assert_eq!(quote("a\nb\u{1b}[31m"), "\"a\\nb\\u{1b}[31m\"");
        let long = "x".repeat(500);
        assert!(quote(&long).chars().count() < 130);
    }
}
