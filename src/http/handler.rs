//! One request in, one response out: routing, methods, conditional GET and
//! content negotiation. Serving a cached resource clones a few `Bytes` and
//! header values; nothing is rendered or allocated per byte of body.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ALLOW, CACHE_CONTROL,
    CONTENT_ENCODING, CONTENT_TYPE, ETAG, HOST, HeaderValue, LAST_MODIFIED, LINK, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Version};

use super::routes::{self, Route, RouteError};
use super::{api, negotiate};
use crate::app::App;
use crate::cache::Resource;
use crate::metrics;
use crate::representation::Served;
use crate::store::ArticleStore;

pub type Body = Full<Bytes>;

/// Entry point for hyper: never fails, never panics on input.
pub async fn handle<S: ArticleStore>(
    app: &App<S>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (route, response) = if req.uri().path().starts_with(api::PREFIX) && has_host(&req) {
        // Boxed: the write path's future is large, and would make every
        // feed request's future as large.
        (metrics::Route::Api, Box::pin(api::respond(app, req)).await)
    } else {
        respond(app, &req).await
    };
    app.metrics.request(route, response.status().as_u16());
    Ok(response)
}

/// RFC 9112 §3.2: an HTTP/1.1 request without Host is malformed.
fn has_host(req: &Request<Incoming>) -> bool {
    req.version() != Version::HTTP_11 || req.headers().contains_key(HOST)
}

async fn respond<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
) -> (metrics::Route, Response<Body>) {
    if !has_host(req) {
        return (
            metrics::Route::Unknown,
            text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: no Host header.\n",
            ),
        );
    }
    let route = match routes::route(&app.config, req.uri().path()) {
        Ok(route) => route,
        Err(RouteError::BadRequest(body)) => {
            return (metrics::Route::Unknown, text(StatusCode::BAD_REQUEST, body));
        }
        Err(RouteError::NotFound(body)) => {
            return (metrics::Route::Unknown, text(StatusCode::NOT_FOUND, body));
        }
    };
    let metric = route.metric();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed: use GET or HEAD.\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (metric, response);
    }
    let response = match route {
        Route::Resource(resource) => resource_response(app, req, resource).await,
        Route::Health => text(StatusCode::OK, "ok\n"),
        Route::Ready => match Box::pin(app.store.ping()).await {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(error) => {
                tracing::warn!(%error, "readiness check: the store does not answer");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the store does not answer\n",
                )
            }
        },
        Route::Metrics => {
            let mut exposition = app.metrics.exposition();
            exposition.push_str(&app.publish_stats.exposition());
            let mut response = text(StatusCode::OK, exposition);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
    };
    (metric, response)
}

async fn resource_response<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
    resource: Resource,
) -> Response<Body> {
    let encoding = negotiate::encoding(req.headers());
    // A hit: this thread's copy of the render (see `cache::local`).
    if let Some(response) = app.cache.with_local(resource, |local| {
        local
            .served(encoding)
            .map(|served| respond_with(req, served))
    }) {
        return response;
    }
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
    respond_with(req, rep.served(encoding, app.cache.cache_control(resource)))
}

/// The response to `req` from `served`: 304 when the client's validators
/// match, else the body with its headers.
fn respond_with(req: &Request<Incoming>, served: Served<'_>) -> Response<Body> {
    let body = served.body;
    let not_modified = negotiate::not_modified(req.headers(), &body.etag, served.last_modified);
    // Every value is precomputed: each insert clones a static or shared value.
    // Sized for all of them, so the map is allocated once and never rehashed.
    let mut headers = HeaderMap::with_capacity(RESOURCE_HEADERS);
    headers.insert(ETAG, body.etag.clone());
    headers.insert(CACHE_CONTROL, served.cache_control.clone());
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Last-Modified, Link"),
    );
    if not_modified {
        // RFC 9110 §15.4.5: a 304 carries the validators and caching fields
        // (and CORS, for scripts that revalidate themselves), not the
        // representation's metadata, which the client already has.
        let mut response = empty(StatusCode::NOT_MODIFIED);
        *response.headers_mut() = headers;
        return response;
    }
    headers.insert(CONTENT_TYPE, served.content_type.clone());
    if let Some(token) = served.encoding.token() {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    if let Some(modified) = served.last_modified {
        headers.insert(LAST_MODIFIED, modified.header.clone());
    }
    if let Some(link) = served.link {
        headers.insert(LINK, link.clone());
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // For HEAD, hyper sends these headers (Content-Length included) and no body.
    let mut response = Response::new(Full::new(body.bytes.clone()));
    *response.headers_mut() = headers;
    response
}

/// Header fields of a resource response, at most (hyper adds Date and
/// Content-Length while writing).
const RESOURCE_HEADERS: usize = 10;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
