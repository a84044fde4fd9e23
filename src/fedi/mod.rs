//! Each language as a fediverse account (ActivityPub): its keys, the signed
//! requests it makes to other servers, and the checks on what they send it.
//!
//! Everything another server names (its actor, its key, its inbox) is
//! fetched through the guarded outgoing client (`outbound`), signed as the
//! site's own actor so that servers in "authorized fetch" mode answer.
//! Keys are cached, and fetched again once when a signature does not verify
//! with the cached one (the sender may have rotated it).

pub mod deliver;
pub mod documents;
pub mod inbox;
pub mod keys;
pub mod message_signature;
pub mod outbox;
pub mod signature;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::Value;
use tokio::sync::{Notify, OnceCell};

use crate::article::Article;
use crate::config::{Config, Language};
use crate::feed::{self, Item};
use crate::outbound::{Outbound, OutboundError, OutboundSettings};
use crate::store::{ArticleMeta, ArticleStore, FeedRow, Sibling};
use crate::urls;
use keys::{KeyError, SigningKey};

/// The media type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// What Kabar asks for when it fetches an actor or a key.
const ACCEPT_ACTIVITY: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Store names of the two keys: the accounts' and the site actor's.
const ACCOUNTS_KEY: &str = "accounts";
const INSTANCE_KEY: &str = "instance";

/// The keys this site signs with.
pub struct Keys {
    /// Every language's account signs with this one.
    pub accounts: SigningKey,
    /// The site's own actor signs the fetches.
    pub instance: SigningKey,
}

/// A key another server published.
#[derive(Debug)]
pub struct RemoteKey {
    /// The actor the key belongs to.
    pub owner: String,
    /// PKCS#1 `RSAPublicKey`, as ring verifies with it.
    pub der: Vec<u8>,
}

/// Why a fetch from another server gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("{url} answered {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url} answered more than the bytes allowed")]
    TooLarge { url: String },
    #[error("{url} answered something that is not the JSON expected: {why}")]
    NotJson { url: String, why: String },
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl FetchError {
    /// Whether the other server says the thing is gone for good.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status, .. }
            if *status == StatusCode::GONE || *status == StatusCode::NOT_FOUND)
    }
}

pub struct Fedi {
    config: Arc<Config>,
    outbound: Outbound,
    keys: OnceCell<Arc<Keys>>,
    remote_keys: moka::future::Cache<String, Arc<RemoteKey>>,
    /// Wakes the delivery worker after a write.
    wake: Arc<Notify>,
    /// Hosts that refused a draft-cavage signature and took an RFC 9421 one.
    rfc9421_hosts: moka::future::Cache<String, ()>,
    stats: deliver::DeliveryStats,
    outboxes: outbox::Outboxes,
}

impl Fedi {
    pub fn new(config: Arc<Config>) -> Fedi {
        let c = &config.activitypub;
        let outbound = Outbound::new(OutboundSettings {
            allow_networks: c.allow_networks.iter().map(|n| *n.get_ref()).collect(),
            connect_timeout: Duration::from_secs(c.connect_timeout_secs.get()),
            request_timeout: Duration::from_secs(c.request_timeout_secs.get()),
            max_response_bytes: c.max_response_bytes.get(),
            max_connections: c.max_connections.get(),
            max_connections_per_host: c.max_connections_per_host.get(),
            user_agent: concat!("Kabar/", env!("CARGO_PKG_VERSION"), " (ActivityPub)"),
        });
        let remote_keys = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(Duration::from_secs(c.key_cache_secs.get()))
            .build();
        Fedi {
            outbound,
            keys: OnceCell::new(),
            remote_keys,
            wake: Arc::new(Notify::new()),
            rfc9421_hosts: moka::future::Cache::new(100_000),
            stats: deliver::DeliveryStats::default(),
            outboxes: outbox::Outboxes::new(&config),
            config,
        }
    }

    /// Each language's outbox, kept while its feed stays as it is.
    pub fn outboxes(&self) -> &outbox::Outboxes {
        &self.outboxes
    }

    /// Starts the delivery worker, which ends when `fedi` or `store` goes.
    pub fn start<S: ArticleStore>(fedi: &Arc<Fedi>, store: &Arc<S>) {
        if fedi.enabled() {
            tokio::spawn(deliver::run(Arc::downgrade(fedi), Arc::downgrade(store)));
        }
    }

    /// Tells the delivery worker the log may have grown.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn stats(&self) -> &deliver::DeliveryStats {
        &self.stats
    }

    /// The scheme others reach this site by (`[server] public_url`'s), which
    /// RFC 9421 signatures cover.
    pub fn scheme(&self) -> &str {
        self.config
            .server
            .public_url
            .as_str()
            .split_once("://")
            .map_or("https", |(scheme, _)| scheme)
    }

    pub fn enabled(&self) -> bool {
        self.config.activitypub.enabled
    }

    /// The site's keys, read from the store or made and stored the first
    /// time they are needed.
    pub async fn keys<S: ArticleStore>(&self, store: &S) -> Result<Arc<Keys>, KeyError> {
        self.keys
            .get_or_try_init(|| async {
                Ok(Arc::new(Keys {
                    accounts: SigningKey::load_or_make(store, ACCOUNTS_KEY).await?,
                    instance: SigningKey::load_or_make(store, INSTANCE_KEY).await?,
                }))
            })
            .await
            .cloned()
    }

    /// The JSON document at `url`, fetched with a GET signed as the site's
    /// actor.
    pub async fn fetch<S: ArticleStore>(&self, store: &S, url: &str) -> Result<Value, FetchError> {
        let keys = self.keys(store).await?;
        let key_id = documents::key_id(&urls::instance_actor_url(&self.config));
        let request = signed(
            &keys.instance,
            &key_id,
            Method::GET,
            url,
            None,
            Scheme::Cavage,
        )?;
        let answer = self.outbound.send(request).await?;
        if !answer.status.is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: answer.status,
            });
        }
        if answer.cut {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
            });
        }
        serde_json::from_slice(&answer.body).map_err(|e| FetchError::NotJson {
            url: url.to_owned(),
            why: e.to_string(),
        })
    }

    /// POSTs `activity` to `inbox`, signed by the account `actor`.
    pub async fn post<S: ArticleStore>(
        &self,
        store: &S,
        actor: &str,
        inbox: &str,
        activity: &Value,
    ) -> Result<StatusCode, FetchError> {
        let body = serde_json::to_vec(activity).map_err(|e| FetchError::NotJson {
            url: inbox.to_owned(),
            why: e.to_string(),
        })?;
        self.post_bytes(store, actor, inbox, body).await
    }

    /// POSTs the activity `body` (JSON) to `inbox`, signed by the account `actor`.
    pub async fn post_bytes<S: ArticleStore>(
        &self,
        store: &S,
        actor: &str,
        inbox: &str,
        body: Vec<u8>,
    ) -> Result<StatusCode, FetchError> {
        let keys = self.keys(store).await?;
        let key_id = documents::key_id(actor);
        let host = inbox_host(inbox);
        let post = |scheme, body| {
            signed(
                &keys.accounts,
                &key_id,
                Method::POST,
                inbox,
                Some(body),
                scheme,
            )
        };
        if self.rfc9421_hosts.contains_key(&host) {
            let request = post(Scheme::Rfc9421, body)?;
            return Ok(self.outbound.send(request).await?.status);
        }
        let status = self
            .outbound
            .send(post(Scheme::Cavage, body.clone())?)
            .await?
            .status;
        if status != StatusCode::UNAUTHORIZED {
            return Ok(status);
        }
        // Refused: once more the RFC 9421 way, remembered for the host if
        // it takes it.
        let status = self
            .outbound
            .send(post(Scheme::Rfc9421, body)?)
            .await?
            .status;
        if status.is_success() {
            self.rfc9421_hosts.insert(host, ()).await;
        }
        Ok(status)
    }

    /// The key `key_id` names, from the cache unless `fresh`.
    pub async fn remote_key<S: ArticleStore>(
        &self,
        store: &S,
        key_id: &str,
        fresh: bool,
    ) -> Result<Arc<RemoteKey>, FetchError> {
        if !fresh && let Some(key) = self.remote_keys.get(key_id).await {
            return Ok(key);
        }
        let document_url = key_id.split('#').next().unwrap_or(key_id);
        let document = self.fetch(store, document_url).await?;
        let key = find_key(&document, key_id).ok_or_else(|| FetchError::NotJson {
            url: document_url.to_owned(),
            why: format!("it publishes no RSA key {key_id}"),
        })?;
        let key = Arc::new(key);
        self.remote_keys
            .insert(key_id.to_owned(), Arc::clone(&key))
            .await;
        Ok(key)
    }
}

/// `article`'s version in `lang` as the feed builder makes it an item.
pub fn item_of(config: &Config, lang: &Language, article: Article) -> Option<Item> {
    let version = article.versions.get(lang.code())?.clone();
    let siblings = article
        .versions
        .iter()
        .filter(|(code, _)| code.as_str() != lang.code())
        .map(|(code, v)| Sibling {
            lang: code.clone(),
            url: v.url.clone(),
            translation: v.translation,
        })
        .collect();
    let row = FeedRow {
        article: ArticleMeta {
            id: article.id,
            section: article.section,
            published: article.published,
            updated: article.updated.unwrap_or(article.published),
            tags: article.tags,
            authors: article.authors,
            image: article.image,
        },
        version,
        siblings,
    };
    feed::build(config, lang, None, &[row]).items.pop()
}

/// The key `key_id` in an actor document (its `publicKey`, one or several)
/// or in a key document of its own.
fn find_key(document: &Value, key_id: &str) -> Option<RemoteKey> {
    let candidates: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key) => vec![key],
        None => vec![document],
    };
    let key = candidates
        .into_iter()
        .find(|k| k.get("id").and_then(Value::as_str) == Some(key_id))?;
    let owner = key
        .get("owner")
        .or_else(|| key.get("controller"))
        .and_then(Value::as_str)
        .or_else(|| document.get("id").and_then(Value::as_str))?;
    let pem = key.get("publicKeyPem").and_then(Value::as_str)?;
    Some(RemoteKey {
        owner: owner.to_owned(),
        der: keys::public_key_der(pem)?,
    })
}

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// draft-cavage, which the fediverse verifies today.
    Cavage,
    /// RFC 9421, for hosts that refuse the other.
    Rfc9421,
}

/// A request to `url` signed with `key` as `key_id` by `scheme`, with a
/// JSON `body` (an RFC 9421 signature covers a body, so it signs POSTs only).
fn signed(
    key: &SigningKey,
    key_id: &str,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
    scheme: Scheme,
) -> Result<Request<Full<Bytes>>, FetchError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| OutboundError::Invalid(format!("{url:?} is not a URL")))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| OutboundError::Invalid(format!("{url:?} has no host")))?;
    let now = SystemTime::now();
    let fields = match scheme {
        Scheme::Cavage => signature::sign(key, key_id, &method, &uri, body.as_deref(), now),
        Scheme::Rfc9421 => {
            let body = body.as_deref().unwrap_or_default();
            message_signature::sign(key, key_id, &method, &uri, body, now)
        }
    };
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in fields {
        request = request.header(name, value);
    }
    request = request
        .header(HOST, host)
        .header(ACCEPT, HeaderValue::from_static(ACCEPT_ACTIVITY));
    if body.is_some() {
        request = request.header(CONTENT_TYPE, HeaderValue::from_static(ACCEPT_ACTIVITY_POST));
    }
    request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| FetchError::Outbound(OutboundError::Invalid(e.to_string())))
}

/// The host (and port) of an inbox URL, for remembering how it signs.
fn inbox_host(inbox: &str) -> String {
    inbox
        .parse::<Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_ascii_lowercase()))
        .unwrap_or_default()
}

/// The `Content-Type` of what Kabar posts.
const ACCEPT_ACTIVITY_POST: &str =
    "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
