//! One request in, one response out: routing, methods, conditional GET and
//! content negotiation. Serving a cached resource clones a `Bytes` and a
//! prebuilt header map; nothing is rendered or allocated per byte of body.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::response::{Body, empty, text};
use super::routes::{self, Route, RouteError};
use super::{api, negotiate};
use crate::app::App;
use crate::metrics;
use crate::serve::representation::{Encoding, Headers, Served};
use crate::store::ArticleStore;
use crate::urls::Resource;

/// Where a request stands after [`start`].
pub enum Handled {
    /// Answered without waiting: a cached hit, a 304, an error, health or
    /// metrics. Most requests end here, with no future of their own.
    Now(Response<Body>),
    /// Needs the store, a render or a request body: [`finish`] answers it.
    Later(Wait),
}

/// What a request waits for.
pub enum Wait {
    /// A write or the write API's reads.
    Api,
    /// The readiness check, which pings the store.
    Ready,
    /// A subscription request to the built-in WebSub hub.
    Hub,
    /// A resource not in this thread's copy of the cache: fetched or rendered.
    Miss(Resource, Encoding),
}

/// Answers `req` if nothing needs waiting for, else says what it waits for.
/// Never fails, never panics on input.
pub fn start<S: ArticleStore>(app: &App<S>, req: &Request<Incoming>) -> Handled {
    if req.uri().path().starts_with(api::PREFIX) && has_host(req) {
        return Handled::Later(Wait::Api);
    }
    let (route, handled) = route(app, req);
    if let Handled::Now(response) = &handled {
        app.metrics.request(route, response.status().as_u16());
    }
    handled
}

/// Answers a request [`start`] could not.
pub async fn finish<S: ArticleStore>(
    app: &App<S>,
    req: Request<Incoming>,
    wait: Wait,
) -> Response<Body> {
    let (route, response) = match wait {
        Wait::Api => (metrics::Route::Api, api::respond(app, req).await),
        Wait::Ready => (metrics::Route::Ready, ready(app).await),
        Wait::Hub => (metrics::Route::Hub, super::hub::respond(app, req).await),
        Wait::Miss(resource, encoding) => (
            routes::metric(&Route::Resource(resource)),
            miss(app, &req, resource, encoding).await,
        ),
    };
    app.metrics.request(route, response.status().as_u16());
    response
}

/// RFC 9112 §3.2: an HTTP/1.1 request without Host is malformed.
fn has_host(req: &Request<Incoming>) -> bool {
    req.version() != Version::HTTP_11 || req.headers().contains_key(HOST)
}

fn route<S: ArticleStore>(app: &App<S>, req: &Request<Incoming>) -> (metrics::Route, Handled) {
    if !has_host(req) {
        return (
            metrics::Route::Unknown,
            Handled::Now(text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: no Host header.\n",
            )),
        );
    }
    let route = match routes::route(&app.config, req.uri().path()) {
        Ok(route) => route,
        Err(RouteError::BadRequest(body)) => {
            return (
                metrics::Route::Unknown,
                Handled::Now(text(StatusCode::BAD_REQUEST, body)),
            );
        }
        Err(RouteError::NotFound(body)) => {
            return (
                metrics::Route::Unknown,
                Handled::Now(text(StatusCode::NOT_FOUND, body)),
            );
        }
    };
    let metric = routes::metric(&route);
    // The hub takes POSTs and answers other methods itself.
    let read_only = route != Route::Hub;
    if read_only && req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed: use GET or HEAD.\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (metric, Handled::Now(response));
    }
    let handled = match route {
        Route::Resource(resource) => hit(app, req, resource),
        Route::Health => Handled::Now(text(StatusCode::OK, "ok\n")),
        Route::Ready => Handled::Later(Wait::Ready),
        Route::Hub => Handled::Later(Wait::Hub),
        Route::Metrics => {
            let mut exposition = app.metrics.exposition();
            exposition.push_str(&app.publish_stats.exposition());
            exposition.push_str(&app.hub.stats().exposition());
            let held = app.cache.pages().map_or(0, |pages| pages.held());
            metrics::gauge(
                &mut exposition,
                "kabar_page_file_bytes",
                "Bytes of rendered bodies held in the page file, sent with sendfile.",
                held,
            );
            metrics::gauge(
                &mut exposition,
                "kabar_page_file_enabled",
                "1 when large bodies are sent with sendfile from the page file, 0 when from memory.",
                u64::from(app.cache.pages().is_some()),
            );
            let mut response = text(StatusCode::OK, exposition);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Handled::Now(response)
        }
    };
    (metric, handled)
}

/// Serves `resource` from this thread's copy of its render (see
/// `serve::cache::local`), if it has one.
fn hit<S: ArticleStore>(app: &App<S>, req: &Request<Incoming>, resource: Resource) -> Handled {
    let encoding = negotiate::encoding(req.headers());
    let response = app.cache.with_local(resource, |local| {
        local
            .served(encoding)
            .map(|(served, headers)| respond_with(req, served, Some(headers)))
    });
    match response {
        Some(response) => Handled::Now(response),
        None => Handled::Later(Wait::Miss(resource, encoding)),
    }
}

async fn ready<S: ArticleStore>(app: &App<S>) -> Response<Body> {
    match app.store.ping().await {
        Ok(()) => text(StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the store does not answer");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the store does not answer\n",
            )
        }
    }
}

/// Fetches or renders `resource` through the shared cache.
async fn miss<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
    resource: Resource,
    encoding: Encoding,
) -> Response<Body> {
    let rep = match app.cache.get(resource).await {
        Ok(rep) => rep,
        Err(error) if error.is_not_found() => {
            return text(StatusCode::NOT_FOUND, format!("404 Not Found: {error}.\n"));
        }
        Err(_) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable: the feed cannot be built right now; try again shortly.\n",
            );
        }
    };
    if !rep.is_ready(encoding) {
        // The first brotli request of a render compresses it: CPU work, kept
        // off the async workers like rendering (inline if the pool is gone).
        let rep = Arc::clone(&rep);
        let _ = tokio::task::spawn_blocking(move || {
            rep.body(encoding);
        })
        .await;
    }
    respond_with(
        req,
        rep.served(encoding, app.cache.cache_control(resource)),
        None,
    )
}

/// The response to `req` from `served`: 304 when the client's validators
/// match, else the body. Its header fields are a clone of the `prebuilt` map
/// (a serving thread's copy has them), or else built for this answer alone.
fn respond_with(
    req: &Request<Incoming>,
    served: Served<'_>,
    prebuilt: Option<&Headers>,
) -> Response<Body> {
    let body = served.body;
    if negotiate::not_modified(req.headers(), &body.etag, served.last_modified) {
        let mut response = empty(StatusCode::NOT_MODIFIED);
        *response.headers_mut() = prebuilt.map_or_else(
            || served.not_modified_headers(),
            |headers| headers.not_modified.clone(),
        );
        return response;
    }
    // For HEAD, hyper sends these headers (Content-Length included) and no body.
    let mut response = Response::new(Full::new(body.bytes.clone()));
    *response.headers_mut() =
        prebuilt.map_or_else(|| served.ok_headers(), |headers| headers.ok.clone());
    response
}
