//! A WebSub subscriber's callback server for tests: it answers the hub's
//! verification of intent (echoing the challenge, or not) and records every
//! content delivery, optionally failing the first ones with a 500.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How the callback answers a verification of intent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Echo,
    WrongChallenge,
    /// Holds each verification's answer until the answer is set to another
    /// (a `denied` notice is answered at once).
    Held,
}

/// A content delivery as the callback received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: Option<String>,
    pub link: Option<String>,
    pub signature: Option<String>,
    pub body: Bytes,
}

#[derive(Default)]
pub struct Seen {
    /// Query parameters of every GET, by callback path.
    pub gets: Vec<(String, HashMap<String, String>)>,
    /// POSTs answered 2xx.
    pub posts: Vec<Received>,
}

/// A subscriber's callback server: every path under it is a callback.
pub struct Callback {
    pub base: String,
    pub seen: Arc<Mutex<Seen>>,
    pub answer: Arc<Mutex<Answer>>,
    /// POSTs still to be answered 500 before the next 2xx.
    pub fail_posts: Arc<AtomicUsize>,
}

impl Callback {
    pub async fn start() -> Callback {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let answer = Arc::new(Mutex::new(Answer::Echo));
        let fail_posts = Arc::new(AtomicUsize::new(0));
        let (s, a, f) = (seen.clone(), answer.clone(), fail_posts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (s, a, f) = (s.clone(), a.clone(), f.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |req| callback(req, s.clone(), a.clone(), f.clone()));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Callback {
            base,
            seen,
            answer,
            fail_posts,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/cb/{name}", self.base)
    }

    pub fn posts_to(&self, name: &str) -> Vec<Received> {
        let path = format!("/cb/{name}");
        let seen = self.seen.lock().unwrap();
        seen.posts
            .iter()
            .filter(|p| p.path == path)
            .cloned()
            .collect()
    }

    pub fn gets_to(&self, name: &str) -> Vec<HashMap<String, String>> {
        let path = format!("/cb/{name}");
        let seen = self.seen.lock().unwrap();
        seen.gets
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, q)| q.clone())
            .collect()
    }
}

async fn callback(
    req: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
    answer: Arc<Mutex<Answer>>,
    fail_posts: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let reply = |status: u16, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        Ok(response)
    };
    if req.method() == hyper::Method::GET {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let challenge = query.get("hub.challenge").cloned().unwrap_or_default();
        let denied = query.get("hub.mode").is_some_and(|m| m == "denied");
        seen.lock().unwrap().gets.push((path, query));
        while !denied && *answer.lock().unwrap() == Answer::Held {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        return match *answer.lock().unwrap() {
            Answer::Echo | Answer::Held => reply(200, challenge),
            Answer::WrongChallenge => reply(200, format!("{challenge}x")),
        };
    }
    let received = Received {
        path,
        content_type: header("content-type"),
        link: header("link"),
        signature: header("x-hub-signature"),
        body: Bytes::new(),
    };
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let failing = fail_posts
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return reply(500, "not now".to_owned());
    }
    seen.lock()
        .unwrap()
        .posts
        .push(Received { body, ..received });
    reply(200, String::new())
}

pub fn hmac_sha256(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}
