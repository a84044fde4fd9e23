//! The WebSub publisher against real test hubs on 127.0.0.1: what is sent,
//! retries and backoff, giving up, coalescing, the bounded queue, and shutdown.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{DEADLINE, eventually};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kabar::websub::{MAX_IN_FLIGHT, PublishStats, Publisher, PublisherConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use url::Url;

/// One request as a hub saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    content_type: Option<String>,
    user_agent: Option<String>,
    body: String,
    form: Vec<(String, String)>,
}

impl Seen {
    fn feed(&self) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == "hub.url")
            .map(|(_, v)| v.as_str())
    }
}

/// A WebSub hub on 127.0.0.1 that records every request and answers 202, or
/// 500 to its first `fail_first` requests; a gated hub holds every answer
/// until the gate opens (the request is recorded before).
struct Hub {
    url: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<watch::Sender<bool>>,
}

impl Hub {
    async fn start(fail_first: usize, gated: bool) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(watch::channel(!gated).0);
        let (seen2, gate2) = (Arc::clone(&seen), Arc::clone(&gate));
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, gate) = (Arc::clone(&seen2), Arc::clone(&gate2));
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        answer(req, Arc::clone(&seen), Arc::clone(&gate), fail_first)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Hub {
            url: Url::parse(&format!("http://{addr}/hub")).expect("hub url"),
            seen,
            gate,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// How many requests named `feed`.
    fn count_of(&self, feed: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.feed() == Some(feed))
            .count()
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }
}

async fn answer(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<watch::Sender<bool>>,
    fail_first: usize,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let method = req.method().to_string();
    let content_type = header("content-type");
    let user_agent = header("user-agent");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let form = url::form_urlencoded::parse(&body).into_owned().collect();
    let index = {
        let mut seen = seen.lock().expect("lock");
        seen.push(Seen {
            method,
            content_type,
            user_agent,
            body: String::from_utf8_lossy(&body).into_owned(),
            form,
        });
        seen.len() - 1
    };
    let mut gate = gate.subscribe();
    let _ = gate.wait_for(|open| *open).await;
    let (status, text) = if index < fail_first {
        (StatusCode::INTERNAL_SERVER_ERROR, "hub is down")
    } else {
        (StatusCode::ACCEPTED, "")
    };
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    Ok(response)
}

/// A hub URL on which nothing listens: the port was bound, then let go.
async fn refusing_hub() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    Url::parse(&format!("http://{addr}/hub")).expect("hub url")
}

/// Fast retries for tests.
fn config(hubs: Vec<Url>) -> PublisherConfig {
    PublisherConfig {
        hubs,
        retry_base: Duration::from_millis(20),
        max_attempts: 3,
        request_timeout: Duration::from_secs(5),
        queue: 64,
    }
}

fn start(config: PublisherConfig) -> (Publisher, Arc<PublishStats>) {
    let stats = Arc::new(PublishStats::default());
    let (publisher, _worker) = Publisher::start(config, Arc::clone(&stats));
    (publisher, stats)
}

fn feeds(paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .map(|p| format!("https://news.example{p}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_publish_pings_every_hub_once_per_feed() {
    let (a, b) = (Hub::start(0, false).await, Hub::start(0, false).await);
    let (publisher, stats) = start(config(vec![a.url.clone(), b.url.clone()]));
    let urls = feeds(&[
        "/fr/rss.xml",
        "/fr/atom.xml",
        "/en/feed.json?section=world&x=a b",
    ]);

    publisher.publish(&urls);
    eventually("6 pings published", DEADLINE, async || {
        stats.published() == 6
    })
    .await;
    assert!(publisher.close(DEADLINE).await, "closed in time");

    for hub in [&a, &b] {
        let seen = hub.seen();
        assert_eq!(seen.len(), 3, "{seen:#?}");
        for request in &seen {
            assert_eq!(request.method, "POST");
            assert_eq!(
                request.content_type.as_deref(),
                Some("application/x-www-form-urlencoded")
            );
            assert_eq!(
                request.user_agent.as_deref(),
                Some(concat!(
                    "Kabar/",
                    env!("CARGO_PKG_VERSION"),
                    " (WebSub publisher)"
                ))
            );
            assert_eq!(request.form.len(), 2, "{request:?}");
            assert!(
                request
                    .form
                    .contains(&("hub.mode".into(), "publish".into()))
            );
        }
        for url in &urls {
            assert_eq!(hub.count_of(url), 1, "{url} once to {}", hub.url);
        }
        // The feed URL is percent-encoded in the form body.
        let raw = seen
            .iter()
            .find(|s| s.feed() == Some(urls[2].as_str()))
            .map(|s| s.body.clone())
            .expect("the JSON feed's ping");
        assert!(
            raw.contains(
                "hub.url=https%3A%2F%2Fnews.example%2Fen%2Ffeed.json%3Fsection%3Dworld%26x%3Da+b"
            ),
            "{raw}"
        );
    }
    assert_eq!(
        (stats.retries(), stats.failed(), stats.dropped()),
        (0, 0, 0)
    );
    let text = stats.exposition();
    for line in [
        "# HELP kabar_websub_published_total ",
        "# TYPE kabar_websub_published_total counter\n",
        "kabar_websub_published_total 6\n",
        "# TYPE kabar_websub_retries_total counter\n",
        "kabar_websub_retries_total 0\n",
        "# TYPE kabar_websub_failed_total counter\n",
        "kabar_websub_failed_total 0\n",
        "# TYPE kabar_websub_dropped_total counter\n",
        "kabar_websub_dropped_total 0\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_answered_500_is_retried() {
    let hub = Hub::start(1, false).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));
    let urls = feeds(&["/fr/rss.xml", "/fr/atom.xml", "/fr/feed.json"]);

    publisher.publish(&urls);
    eventually("3 pings published", DEADLINE, async || {
        stats.published() == 3
    })
    .await;
    assert!(publisher.close(DEADLINE).await);

    assert_eq!(hub.count(), 4, "{:#?}", hub.seen());
    let first = hub.seen()[0].feed().expect("hub.url").to_owned();
    assert_eq!(hub.count_of(&first), 2, "the refused ping came again");
    assert_eq!(
        (stats.published(), stats.retries(), stats.failed()),
        (3, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_that_always_fails_is_given_up_after_max_attempts() {
    let hub = Hub::start(usize::MAX, false).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));

    publisher.publish(&feeds(&["/fr/rss.xml"]));
    eventually("the ping given up", DEADLINE, async || stats.failed() == 1).await;
    assert!(publisher.close(DEADLINE).await);

    assert_eq!(hub.count(), 3, "max_attempts requests");
    assert_eq!(
        (stats.published(), stats.retries(), stats.failed()),
        (0, 2, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_retried_without_holding_up_other_hubs() {
    let down = refusing_hub().await;
    let up = Hub::start(0, false).await;
    let (publisher, stats) = start(config(vec![down, up.url.clone()]));

    publisher.publish(&feeds(&["/fr/rss.xml"]));
    eventually("the live hub's ping", DEADLINE, async || {
        stats.published() == 1
    })
    .await;
    eventually("the dead hub's ping given up", DEADLINE, async || {
        stats.failed() == 1
    })
    .await;
    assert!(publisher.close(DEADLINE).await);

    assert_eq!(up.count(), 1);
    assert_eq!(
        (stats.published(), stats.retries(), stats.failed()),
        (1, 2, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_returns_before_the_hub_answers() {
    let hub = Hub::start(0, true).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));

    let started = Instant::now();
    publisher.publish(&feeds(&["/fr/rss.xml"]));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(stats.published(), 0);

    // The hub holds its answer until the gate opens, which happens only after
    // publish() has returned: a publish that awaited delivery would hang here.
    eventually("the hub to receive the ping", DEADLINE, async || {
        hub.count() == 1
    })
    .await;
    assert_eq!(stats.published(), 0, "the answer is still held");
    hub.open();
    eventually("the ping published", DEADLINE, async || {
        stats.published() == 1
    })
    .await;
    assert!(publisher.close(DEADLINE).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_of_a_feed_already_queued_is_coalesced() {
    let hub = Hub::start(0, true).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));

    // Occupy every delivery slot with a held request, so the next ping waits.
    let busy: Vec<String> = (0..MAX_IN_FLIGHT)
        .map(|i| format!("https://news.example/busy/{i}.xml"))
        .collect();
    publisher.publish(&busy);
    eventually("every slot busy", DEADLINE, async || {
        hub.count() == MAX_IN_FLIGHT
    })
    .await;

    let feed = feeds(&["/fr/rss.xml"]);
    publisher.publish(&feed);
    publisher.publish(&feed);
    publisher.publish(&feed);
    assert_eq!(stats.coalesced(), 2);

    hub.open();
    eventually("all published", DEADLINE, async || {
        stats.published() == MAX_IN_FLIGHT as u64 + 1
    })
    .await;
    assert!(publisher.close(DEADLINE).await);
    assert_eq!(hub.count(), MAX_IN_FLIGHT + 1, "no slot beyond the bound");
    assert_eq!(hub.count_of(&feed[0]), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_during_a_retry_backoff_is_coalesced() {
    let hub = Hub::start(1, false).await;
    let mut config = config(vec![hub.url.clone()]);
    // Wide enough for the test to publish while the ping waits to retry.
    config.retry_base = Duration::from_millis(500);
    let (publisher, stats) = start(config);
    let feed = feeds(&["/fr/rss.xml"]);

    publisher.publish(&feed);
    eventually("the first attempt to fail", DEADLINE, async || {
        stats.retries() == 1
    })
    .await;
    publisher.publish(&feed);
    publisher.publish(&feed);
    assert_eq!(stats.coalesced(), 2);

    eventually("the retry published", DEADLINE, async || {
        stats.published() == 1
    })
    .await;
    assert!(publisher.close(DEADLINE).await);
    assert_eq!(hub.count(), 2, "one failed attempt and its retry");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let hub = Hub::start(0, true).await;
    let mut config = config(vec![hub.url.clone()]);
    config.queue = 1;
    let (publisher, stats) = start(config);

    // One at a time, so that none meets a full queue.
    for i in 0..MAX_IN_FLIGHT {
        publisher.publish(&[format!("https://news.example/busy/{i}.xml")]);
        eventually("the slot taken", DEADLINE, async || hub.count() == i + 1).await;
    }

    // The worker holds at most one ping while it waits for a slot, and the
    // queue one more: of five, at least three are dropped.
    let more = feeds(&["/1.xml", "/2.xml", "/3.xml", "/4.xml", "/5.xml"]);
    let started = Instant::now();
    publisher.publish(&more);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(stats.dropped() >= 3, "dropped {}", stats.dropped());

    hub.open();
    let total = (MAX_IN_FLIGHT + more.len()) as u64;
    eventually("every ping published or dropped", DEADLINE, async || {
        stats.published() + stats.dropped() == total
    })
    .await;
    assert!(publisher.close(DEADLINE).await);
    assert_eq!(hub.count() as u64, stats.published());
    assert_eq!(stats.failed(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_delivers_what_is_queued_then_refuses_more() {
    let hub = Hub::start(1, false).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));
    let urls = feeds(&["/fr/rss.xml", "/fr/atom.xml", "/fr/feed.json"]);

    publisher.publish(&urls);
    assert!(publisher.close(DEADLINE).await, "closed in time");
    assert_eq!((stats.published(), stats.retries()), (3, 1));

    let other = publisher.clone();
    other.publish(&feeds(&["/en/rss.xml"]));
    assert_eq!(stats.dropped(), 1, "a closed publisher drops and counts");
    assert_eq!(hub.count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_abandons_what_is_left_when_time_is_up() {
    let hub = Hub::start(0, true).await;
    let (publisher, stats) = start(config(vec![hub.url.clone()]));
    let urls: Vec<String> = (0..MAX_IN_FLIGHT + 2)
        .map(|i| format!("https://news.example/{i}.xml"))
        .collect();

    publisher.publish(&urls);
    eventually("every slot busy", DEADLINE, async || {
        hub.count() == MAX_IN_FLIGHT
    })
    .await;
    let finished = tokio::time::timeout(DEADLINE, publisher.close(Duration::from_millis(100)))
        .await
        .expect("close returns soon after its timeout");
    assert!(!finished);
    // In flight or queued, every ping is accounted for.
    assert_eq!(stats.failed(), urls.len() as u64);
    assert_eq!(stats.published(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_every_handle_lets_the_worker_finish() {
    let hub = Hub::start(1, false).await;
    let stats = Arc::new(PublishStats::default());
    let (publisher, worker) = Publisher::start(config(vec![hub.url.clone()]), Arc::clone(&stats));

    publisher.publish(&feeds(&["/fr/rss.xml", "/fr/atom.xml"]));
    drop(publisher);
    tokio::time::timeout(DEADLINE, worker)
        .await
        .expect("the worker ends")
        .expect("the worker did not panic");
    assert_eq!((stats.published(), stats.retries()), (2, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_hubs_publish_does_nothing() {
    let stats = Arc::new(PublishStats::default());
    let (publisher, worker) = Publisher::start(config(Vec::new()), Arc::clone(&stats));
    publisher.publish(&feeds(&["/fr/rss.xml"]));
    assert!(publisher.close(DEADLINE).await);
    worker.await.expect("the worker ends");
    assert_eq!(
        (stats.published(), stats.dropped(), stats.coalesced()),
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_hub_url_fails_at_once() {
    let bad = Url::parse("ftp://hub.example/").expect("url");
    let (publisher, stats) = start(config(vec![bad]));
    publisher.publish(&feeds(&["/fr/rss.xml"]));
    eventually("the ping given up", DEADLINE, async || stats.failed() == 1).await;
    assert!(publisher.close(DEADLINE).await);
    assert_eq!(stats.retries(), 0, "no retry can help");
}
