//! One request in, one response out: routing, methods, conditional GET and
//! content negotiation. Serving a cached resource clones a `Bytes` and a
//! prebuilt header map; nothing is rendered or allocated per byte of body.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG, HOST, HeaderName, HeaderValue, LAST_MODIFIED, VARY,
};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::response::{Body, empty, text};
use super::routes::{self, Route, RouteError};
use super::{api, negotiate};
use crate::app::App;
use crate::metrics;
use crate::serve::representation::{Encoding, Headers, Representation, Served, VARY_NAVIGATION};
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
    /// The fediverse accounts' routes.
    Fedi,
    /// A resource not in this thread's copy of the cache: fetched or rendered.
    Miss(Resource, Encoding),
    /// A browser's navigation to a feed: its preview page, this once.
    Navigation(Resource, Encoding),
}

/// Answers `req` if nothing needs waiting for, else says what it waits for.
/// Never fails, never panics on input.
pub fn start<S: ArticleStore>(app: &App<S>, req: &Request<Incoming>) -> Handled {
    if req.uri().path().starts_with(api::PREFIX) && has_host(req) {
        return Handled::Later(Wait::Api);
    }
    if app.fedi.enabled() && super::fedi::is_fedi_path(req.uri().path()) && has_host(req) {
        return Handled::Later(Wait::Fedi);
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
        Wait::Fedi => (
            metrics::Route::ActivityPub,
            super::fedi::respond(app, req).await,
        ),
        Wait::Miss(resource, encoding) => (
            routes::metric(&Route::Resource(resource)),
            miss(app, &req, resource, encoding).await,
        ),
        Wait::Navigation(preview, encoding) => (
            metrics::Route::Preview,
            navigation(app, preview, encoding).await,
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
        Route::Resource(resource) => match navigated_preview(req, resource) {
            Some(preview) => {
                let encoding = negotiate::encoding(req.headers());
                return (
                    metrics::Route::Preview,
                    Handled::Later(Wait::Navigation(preview, encoding)),
                );
            }
            None => hit(app, req, resource),
        },
        Route::Health => Handled::Now(text(StatusCode::OK, "ok\n")),
        Route::Ready => Handled::Later(Wait::Ready),
        Route::Hub => Handled::Later(Wait::Hub),
        Route::Metrics => {
            let mut exposition = app.metrics.exposition();
            exposition.push_str(&app.publish_stats.exposition());
            exposition.push_str(&app.hub.stats().exposition());
            exposition.push_str(&app.fedi.stats().exposition());
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

/// `Sec-Fetch-Dest` and `Sec-Fetch-Mode` (Fetch Metadata): a browser sends
/// `document` and `navigate` when a person opens a URL in a tab; feed readers
/// and scripts never do.
const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// The preview page to answer with when `req` is a person opening the feed
/// `resource` in a browser tab, rather than a reader fetching it.
fn navigated_preview(req: &Request<Incoming>, resource: Resource) -> Option<Resource> {
    let preview = match resource {
        Resource::Feed {
            lang,
            section,
            format,
        } => Resource::Preview {
            lang,
            section,
            format,
        },
        Resource::Tag { lang, tag, format } => Resource::TagPreview { lang, tag, format },
        Resource::Archive { lang, month } => Resource::ArchivePreview { lang, month },
        _ => return None,
    };
    let headers = req.headers();
    let is = |name: &HeaderName, value: &str| headers.get(name).is_some_and(|v| v == value);
    (is(&SEC_FETCH_DEST, "document") && is(&SEC_FETCH_MODE, "navigate")).then_some(preview)
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
    match fetch(app, resource, encoding).await {
        Ok(rep) => respond_with(
            req,
            rep.served(encoding, app.cache.cache_control(resource)),
            None,
        ),
        Err(response) => response,
    }
}

/// `Cache-Control` of a preview page answering a navigation to a feed URL:
/// no shared cache may keep it, so none hands it to a feed reader, not even
/// a CDN that ignores `Vary`.
const NAVIGATION_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("private, no-store");

/// The preview page `preview`, answering a browser's navigation to a feed's
/// URL. It has no validators: a feed reader's `If-None-Match` or
/// `If-Modified-Since` can never match it, and the browser keeps no copy to
/// revalidate.
async fn navigation<S: ArticleStore>(
    app: &App<S>,
    preview: Resource,
    encoding: Encoding,
) -> Response<Body> {
    let rep = match fetch(app, preview, encoding).await {
        Ok(rep) => rep,
        Err(response) => return response,
    };
    let private = NAVIGATION_CACHE_CONTROL;
    let served = rep.served(encoding, &private);
    let mut response = Response::new(Full::new(served.body.bytes.clone()));
    let mut headers = served.ok_headers();
    headers.remove(ETAG);
    headers.remove(LAST_MODIFIED);
    headers.insert(VARY, HeaderValue::from_static(VARY_NAVIGATION));
    headers.insert(CACHE_CONTROL, NAVIGATION_CACHE_CONTROL);
    *response.headers_mut() = headers;
    response
}

/// `resource` from the shared cache, its body in `encoding` made; or the
/// error response (404, 503).
async fn fetch<S: ArticleStore>(
    app: &App<S>,
    resource: Resource,
    encoding: Encoding,
) -> Result<Arc<Representation>, Response<Body>> {
    let rep = match app.cache.get(resource).await {
        Ok(rep) => rep,
        Err(error) if error.is_not_found() => {
            return Err(text(
                StatusCode::NOT_FOUND,
                format!("404 Not Found: {error}.\n"),
            ));
        }
        Err(_) => {
            return Err(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable: the feed cannot be built right now; try again shortly.\n",
            ));
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
    Ok(rep)
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
