//! The one guarded HTTP client for calls to URLs strangers choose: WebSub
//! callbacks, and the fediverse's actors, keys and inboxes.
//!
//! Each call: the host's addresses are checked at connect time ([`address`]:
//! refused if any is not public, unless an allowed network holds it) and the
//! connection goes to the addresses that passed; redirects are not followed
//! (the answer is the answer); connecting and the whole call are bounded in
//! time; at most [`OutboundSettings::max_response_bytes`] of an answer are
//! read; and calls at once are bounded overall and per host, waiting for a
//! slot counts against the call's time.

pub mod address;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::{Host, Url};

use self::address::GuardedResolver;
pub use self::address::{AddressPolicy, Refused, quote};
use crate::config::Network;

/// How long an idle keep-alive connection is kept for the next call to its host.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The bounds of an [`Outbound`] client.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Non-public networks that may be called all the same.
    pub allow_networks: Vec<Network>,
    pub connect_timeout: Duration,
    /// The bound on one whole call, waiting for a slot included.
    pub request_timeout: Duration,
    pub max_response_bytes: usize,
    pub max_connections: usize,
    pub max_connections_per_host: usize,
    /// Sent with every call, so the people behind a URL can tell who calls.
    pub user_agent: &'static str,
}

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL cannot be called (not http or https, no host).
    #[error("unusable URL: {0}")]
    Invalid(String),
    /// The host is, or resolves to, an address the policy refuses.
    #[error("refused: {0}")]
    Refused(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// DNS, connecting, TLS or the exchange failed.
    #[error("{0}")]
    Failed(String),
}

/// An answer: its status and at most the configured number of its bytes.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    /// Whether the body was longer than what was read.
    pub cut: bool,
}

type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

/// The guarded client; cheap to share behind an `Arc`.
pub struct Outbound {
    client: Client<Connector, Full<Bytes>>,
    policy: Arc<AddressPolicy>,
    settings: OutboundSettings,
    /// Calls at once, over all hosts.
    slots: Arc<Semaphore>,
    /// Calls at once per host; an entry lives while a call to its host does.
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Outbound {
    pub fn new(settings: OutboundSettings) -> Outbound {
        let policy = Arc::new(AddressPolicy {
            allow: settings.allow_networks.clone(),
        });
        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            policy: Arc::clone(&policy),
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_nodelay(true);
        // The provider is passed explicitly rather than taken from rustls'
        // process default, which panics if a second backend is ever enabled.
        // Not input-dependent: ring supports rustls' default protocol versions.
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .expect("ring supports rustls' default protocol versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(settings.max_connections_per_host)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Outbound {
            client,
            policy,
            slots: Arc::new(Semaphore::new(settings.max_connections.max(1))),
            per_host: Mutex::new(HashMap::new()),
            settings,
        }
    }

    /// Checks that `url` may be called now (scheme, host, every address it
    /// resolves to), without calling it: for refusing a request at once.
    /// The call itself checks again, at connect time.
    pub async fn check(&self, url: &Url) -> Result<(), OutboundError> {
        let host = callable_host(url)?;
        if let Some(ip) = literal_ip(url) {
            return self.check_ip(ip);
        }
        let lookup = tokio::net::lookup_host((host.as_str(), 0));
        let addrs = match tokio::time::timeout(self.settings.connect_timeout, lookup).await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(error)) => {
                return Err(OutboundError::Failed(format!(
                    "cannot resolve {}: {error}",
                    quote(&host)
                )));
            }
            Err(_) => return Err(OutboundError::Timeout(self.settings.connect_timeout)),
        };
        self.policy
            .check(&host, addrs)
            .map(drop)
            .map_err(|Refused(why)| OutboundError::Refused(why))
    }

    fn check_ip(&self, ip: std::net::IpAddr) -> Result<(), OutboundError> {
        if self.policy.permits(ip) {
            Ok(())
        } else {
            Err(OutboundError::Refused(format!(
                "{ip} is not a public address"
            )))
        }
    }

    /// Sends `req` (its URI absolute, http or https) and reads the answer,
    /// within the bounds. A redirect is returned as it is, not followed.
    pub async fn send(&self, mut req: Request<Full<Bytes>>) -> Result<Answer, OutboundError> {
        let url = Url::parse(&req.uri().to_string())
            .map_err(|e| OutboundError::Invalid(e.to_string()))?;
        let host = callable_host(&url)?;
        // The connector skips its resolver for an address written in the URL.
        if let Some(ip) = literal_ip(&url) {
            self.check_ip(ip)?;
        }
        req.headers_mut().insert(
            USER_AGENT,
            HeaderValue::from_static(self.settings.user_agent),
        );
        let timeout = self.settings.request_timeout;
        let call = async {
            let _permits = self.permits(&host).await;
            let answer = self.client.request(req).await.map_err(|e| failure(&e))?;
            let status = answer.status();
            let (body, cut) = read_at_most(answer.into_body(), self.settings.max_response_bytes)
                .await
                .map_err(|e| OutboundError::Failed(format!("reading the answer: {e}")))?;
            Ok(Answer { status, body, cut })
        };
        let result = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(OutboundError::Timeout(timeout)));
        self.forget_idle_host(&host);
        result
    }

    /// A slot overall and one for `host`.
    async fn permits(&self, host: &str) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let host_slots = Arc::clone(
            self.per_host
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(host.to_owned())
                .or_insert_with(|| {
                    Arc::new(Semaphore::new(
                        self.settings.max_connections_per_host.max(1),
                    ))
                }),
        );
        // Per host first, so calls waiting on one slow host hold no overall slot.
        let for_host = host_slots.acquire_owned().await.ok()?;
        let overall = Arc::clone(&self.slots).acquire_owned().await.ok()?;
        Some((for_host, overall))
    }

    /// Drops `host`'s entry when no call to it is running or waiting, so the
    /// map holds only hosts being called.
    fn forget_idle_host(&self, host: &str) {
        let mut per_host = self.per_host.lock().unwrap_or_else(PoisonError::into_inner);
        if per_host
            .get(host)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            per_host.remove(host);
        }
    }
}

/// The host of an http or https URL without credentials, lowercased.
fn callable_host(url: &Url) -> Result<String, OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Invalid(format!(
            "scheme {} is not http or https",
            quote(url.scheme())
        )));
    }
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(host.to_ascii_lowercase()),
        _ => Err(OutboundError::Invalid("no host".to_owned())),
    }
}

fn literal_ip(url: &Url) -> Option<std::net::IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(v4.into()),
        Host::Ipv6(v6) => Some(v6.into()),
        Host::Domain(_) => None,
    }
}

/// A client error, told apart: a refusal by the resolver, or another failure
/// (with its chain of causes, which name no secret).
fn failure(error: &hyper_util::client::legacy::Error) -> OutboundError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    let mut words = Vec::new();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return OutboundError::Refused(refused.0.clone());
        }
        words.push(cause.to_string());
        source = cause.source();
    }
    words.dedup();
    OutboundError::Failed(words.join(": "))
}

/// Reads at most `limit` bytes of `body`; says whether there was more.
async fn read_at_most(
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<(Bytes, bool), hyper::Error> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit - out.len();
            if data.len() > room {
                out.extend_from_slice(&data[..room]);
                return Ok((out.freeze(), true));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok((out.freeze(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn loopback_client(max_response_bytes: usize, request_timeout: Duration) -> Outbound {
        Outbound::new(OutboundSettings {
            allow_networks: vec![Network::try_from("127.0.0.0/8".to_owned()).expect("network")],
            connect_timeout: Duration::from_secs(5),
            request_timeout,
            max_response_bytes,
            max_connections: 4,
            max_connections_per_host: 2,
            user_agent: "Kabar (test)",
        })
    }

    /// A server on loopback that answers every request with `head`, then
    /// writes `chunk` as long as the client reads.
    async fn serving(head: &'static str, chunk: &'static [u8]) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    if chunk.is_empty() {
                        // Keeps the connection open, saying no more.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    while !chunk.is_empty() && socket.write_all(chunk).await.is_ok() {}
                });
            }
        });
        addr
    }

    fn get(addr: std::net::SocketAddr) -> Request<Full<Bytes>> {
        Request::get(format!("http://{addr}/callback"))
            .body(Full::new(Bytes::new()))
            .expect("request")
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_limit() {
        // One 4 KiB chunk of 'x' after another, for ever.
        let chunk = format!("1000\r\n{}\r\n", "x".repeat(4096));
        let addr = serving(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            chunk.into_bytes().leak(),
        )
        .await;
        let client = loopback_client(64 * 1024, Duration::from_secs(20));
        let answer = client.send(get(addr)).await.expect("an answer");
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.cut, "the answer was longer than the limit");
        assert_eq!(answer.body.len(), 64 * 1024);
    }

    #[tokio::test]
    async fn a_callback_that_never_finishes_its_answer_times_out() {
        let addr = serving("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", b"").await;
        let client = loopback_client(1024, Duration::from_millis(300));
        let error = client.send(get(addr)).await.expect_err("no whole answer");
        assert!(matches!(error, OutboundError::Timeout(_)), "{error}");
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let addr = serving("HTTP/1.1 204 No Content\r\n\r\n", b"").await;
        let strict = Outbound::new(OutboundSettings {
            allow_networks: Vec::new(),
            ..loopback_client(1024, Duration::from_secs(5)).settings
        });
        let error = strict.send(get(addr)).await.expect_err("refused");
        assert!(matches!(error, OutboundError::Refused(_)), "{error}");
        let answer = loopback_client(1024, Duration::from_secs(5))
            .send(get(addr))
            .await
            .expect("allowed");
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
}
