//! The fediverse's routes, when `[activitypub] enabled`: WebFinger and
//! NodeInfo, each language's actor with its inbox, outbox and followers, the
//! site's own actor and shared inbox, and each item as a `Note`.
//!
//! ```text
//! GET  /.well-known/webfinger?resource=acct:{account}@{host}
//! GET  /.well-known/nodeinfo, /nodeinfo/2.1
//! GET  /ap/{account}                 the actor (a browser goes to the language's page)
//! POST /ap/{account}/inbox, /ap/inbox
//! GET  /ap/{account}/outbox[?page=N]
//! GET  /ap/{account}/followers       how many, not who
//! GET  /ap/{account}/notes/{article} the item as a Note
//! GET  /ap/actor                     the site's own actor
//! ```

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION,
    VARY,
};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use super::body::{self, BodyError};
use super::response::{Body, text};
use crate::app::App;
use crate::config::Language;
use crate::fedi::outbox::Outbox;
use crate::fedi::{self, ACTIVITY_JSON, documents, inbox};
use crate::feed;
use crate::store::ArticleStore;
use crate::urls::{self, Format, Resource};

/// Whether `path` is one of the fediverse's routes.
pub fn is_fedi_path(path: &str) -> bool {
    path.starts_with("/.well-known/webfinger")
        || path.starts_with("/.well-known/nodeinfo")
        || path.starts_with("/nodeinfo/")
        || path == "/ap"
        || path.starts_with("/ap/")
}

pub async fn respond<S: ArticleStore>(app: &App<S>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = req.method() == Method::POST;
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    match segments.as_slice() {
        [".well-known", "webfinger"] if read => webfinger(app, &req),
        [".well-known", "nodeinfo"] if read => jrd(documents::nodeinfo_links(&app.config)),
        ["nodeinfo", "2.1"] if read => nodeinfo(app).await,
        ["ap", "actor"] if read => instance_actor(app).await,
        ["ap", "inbox"] if post => receive(app, req, None).await,
        ["ap", account] if read => match account_of(app, account) {
            Some((_, lang)) => actor(app, &req, lang).await,
            None => unknown_account(account),
        },
        ["ap", account, "inbox"] if post => match account_of(app, account) {
            Some((index, _)) => receive(app, req, Some(index)).await,
            None => unknown_account(account),
        },
        ["ap", account, "outbox"] if read => match account_of(app, account) {
            Some((index, lang)) => outbox(app, &req, index, lang).await,
            None => unknown_account(account),
        },
        ["ap", account, "followers"] if read => match account_of(app, account) {
            Some((_, lang)) => followers(app, lang).await,
            None => unknown_account(account),
        },
        ["ap", account, "notes", id] if read => match account_of(app, account) {
            Some((index, lang)) => note(app, &req, index, lang, id).await,
            None => unknown_account(account),
        },
        [".well-known", _] | ["nodeinfo", _] | ["ap", ..] if known_path(&segments) => {
            let allow = if segments.last() == Some(&"inbox") {
                "POST"
            } else {
                "GET, HEAD"
            };
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("405 Method Not Allowed: use {allow}.\n"),
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            response
        }
        _ => text(
            StatusCode::NOT_FOUND,
            format!("404 Not Found: no fediverse route for {path:?}.\n"),
        ),
    }
}

/// Whether the path names a route (with another method).
fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        [".well-known", "webfinger" | "nodeinfo"]
            | ["nodeinfo", "2.1"]
            | ["ap", _]
            | ["ap", _, "inbox" | "outbox" | "followers"]
            | ["ap", _, "notes", _]
    )
}

fn account_of<'a, S>(app: &'a App<S>, account: &str) -> Option<(usize, &'a Language)> {
    app.config
        .languages
        .iter()
        .enumerate()
        .find(|(_, l)| l.account_name() == account)
}

fn unknown_account(account: &str) -> Response<Body> {
    text(
        StatusCode::NOT_FOUND,
        format!("404 Not Found: no account {account:?} here.\n"),
    )
}

/// An ActivityPub document.
fn activity_json(value: &Value) -> Response<Body> {
    with_type(json_bytes(value), ACTIVITY_JSON)
}

fn jrd(value: Value) -> Response<Body> {
    with_type(json_bytes(&value), "application/jrd+json")
}

fn json_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn with_type(json: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(json));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

fn unavailable(what: &str) -> Response<Body> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("503 Service Unavailable: {what}; try again shortly.\n"),
    )
}

/// Whether the client asked for an ActivityStreams document (servers do;
/// browsers ask for HTML).
fn wants_activity(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/activity+json") || v.contains("application/ld+json"))
}

fn see_other(location: &str) -> Response<Body> {
    let mut response = text(StatusCode::SEE_OTHER, format!("See {location}\n"));
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    response
}

fn webfinger<S: ArticleStore>(app: &App<S>, req: &Request<Incoming>) -> Response<Body> {
    let config = &app.config;
    let resource = req.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "resource")
            .map(|(_, value)| value.into_owned())
    });
    let Some(resource) = resource else {
        return text(
            StatusCode::BAD_REQUEST,
            "400 Bad Request: give ?resource=acct:{account}@{host}.\n",
        );
    };
    let host = documents::handle_host(config);
    let found = config.languages.iter().find(|lang| {
        let account = lang.account_name();
        let handle = resource.strip_prefix("acct:").unwrap_or(&resource);
        let by_handle = handle
            .rsplit_once('@')
            .is_some_and(|(name, at)| name == account && at.eq_ignore_ascii_case(&host));
        by_handle || resource == urls::actor_url(config, account)
    });
    match found {
        Some(lang) => jrd(documents::webfinger(config, lang)),
        None => text(
            StatusCode::NOT_FOUND,
            format!("404 Not Found: no account {resource:?} here.\n"),
        ),
    }
}

async fn nodeinfo<S: ArticleStore>(app: &App<S>) -> Response<Body> {
    let posts = app.store.article_count().await.unwrap_or(0);
    with_type(
        json_bytes(&documents::nodeinfo(&app.config, posts)),
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
    )
}

async fn instance_actor<S: ArticleStore>(app: &App<S>) -> Response<Body> {
    match app.fedi.keys(&*app.store).await {
        Ok(keys) => activity_json(&documents::instance_actor(
            &app.config,
            &keys.instance.public_pem,
        )),
        Err(error) => {
            tracing::error!(%error, "no keys for the site's actor");
            unavailable("the site's keys cannot be read")
        }
    }
}

async fn actor<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
    lang: &Language,
) -> Response<Body> {
    if !wants_activity(req) {
        let home = lang.home_url.as_ref().unwrap_or(&app.config.site.url);
        return see_other(home.as_str());
    }
    match app.fedi.keys(&*app.store).await {
        Ok(keys) => activity_json(&documents::actor(
            &app.config,
            lang,
            &keys.accounts.public_pem,
        )),
        Err(error) => {
            tracing::error!(%error, "no keys for the accounts");
            unavailable("the account's keys cannot be read")
        }
    }
}

async fn followers<S: ArticleStore>(app: &App<S>, lang: &Language) -> Response<Body> {
    match app.store.follower_count(lang.code().to_owned()).await {
        Ok(count) => activity_json(&documents::followers(&app.config, lang, count)),
        Err(_) => unavailable("the followers cannot be counted now"),
    }
}

/// The outbox of `lang` (at `index` in the configuration): the one kept
/// while its feed's generation stays, else built from the store again.
async fn kept_outbox<S: ArticleStore>(
    app: &App<S>,
    index: usize,
    lang: &Language,
) -> Option<Arc<Outbox>> {
    let feed = Resource::Feed {
        lang: index,
        section: None,
        format: Format::Json,
    };
    // Read before the rows: a write retiring the feed meanwhile moves the
    // generation on, so what is built here is kept under the older one.
    let generation = app.cache.generation_of(feed)?;
    let outboxes = app.fedi.outboxes();
    if let Some(outbox) = outboxes.get(index, generation) {
        return Some(outbox);
    }
    let rows = app
        .store
        .feed_rows(feed::query(&app.config, lang, None))
        .await
        .ok()?;
    let items = feed::build(&app.config, lang, None, &rows).items;
    Some(outboxes.keep(&app.config, index, generation, items))
}

async fn outbox<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
    index: usize,
    lang: &Language,
) -> Response<Body> {
    let page = req
        .uri()
        .query()
        .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "page"))
        .map(|(_, v)| v.parse::<usize>().ok().filter(|p| *p > 0));
    let page = match page {
        None => 0,
        Some(Some(page)) => page,
        Some(None) => {
            return text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: page is a number from 1.\n",
            );
        }
    };
    let Some(outbox) = kept_outbox(app, index, lang).await else {
        return unavailable("the outbox cannot be read now");
    };
    match outbox.page(&app.config, lang, page) {
        Some(json) => with_type(json, ACTIVITY_JSON),
        None => text(
            StatusCode::NOT_FOUND,
            format!("404 Not Found: the outbox has no page {page}.\n"),
        ),
    }
}

/// A post: from the kept outbox while the feed holds it, else from the store.
async fn note<S: ArticleStore>(
    app: &App<S>,
    req: &Request<Incoming>,
    index: usize,
    lang: &Language,
    id: &str,
) -> Response<Body> {
    let kept = kept_outbox(app, index, lang).await;
    if let Some(note) = kept.and_then(|outbox| outbox.note(&app.config, lang, id)) {
        return match wants_activity(req) {
            true => with_type(note.json, ACTIVITY_JSON),
            false => see_other(&note.link),
        };
    }
    let article = match app.store.article(id.to_owned()).await {
        Ok(article) => article,
        Err(_) => return unavailable("the post cannot be read now"),
    };
    let Some(item) = article.and_then(|a| fedi::item_of(&app.config, lang, a)) else {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "404 Not Found: no post {id:?} in {}.\n",
                lang.account_name()
            ),
        );
    };
    if !wants_activity(req) {
        return see_other(&item.link);
    }
    activity_json(&documents::note(&app.config, lang, &item))
}

/// An inbox POST: read within the bound, then checked and acted on.
async fn receive<S: ArticleStore>(
    app: &App<S>,
    req: Request<Incoming>,
    lang: Option<usize>,
) -> Response<Body> {
    let limit = app.config.activitypub.max_inbox_bytes.get();
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    let body = match body::read_limited(req, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("413 Payload Too Large: an inbox takes at most {limit} bytes.\n"),
            );
        }
        Err(BodyError::Unreadable(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: the body could not be read.\n",
            );
        }
    };
    let post = inbox::Post {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        lang,
    };
    let answer = inbox::receive(&app.fedi, &app.store, post).await;
    text(
        answer.status,
        format!(
            "{} {}: {}.\n",
            answer.status.as_u16(),
            answer.status.canonical_reason().unwrap_or(""),
            answer.reason
        ),
    )
}
