//! The write API under `/api/v1/`: articles and their language versions as
//! JSON, behind a bearer token. Errors are JSON naming the field and the reason.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, ETAG, HeaderValue, IF_MATCH, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use super::body::{self, BodyError};
use super::response::{Body, json};
use crate::app::App;
use crate::article::{self, Article, Invalid, Version};
use crate::store::{ArticleStore, IfMatch};
use crate::write::{self, WriteError, Written};

/// The API's path prefix.
pub const PREFIX: &str = "/api/v1/";

/// What an API path names.
enum Target {
    Article(String),
    Version(String, String),
}

pub async fn respond<S: ArticleStore>(app: &App<S>, req: Request<Incoming>) -> Response<Body> {
    let Some(tokens) = &app.tokens else {
        return error(
            StatusCode::NOT_FOUND,
            "api",
            "the write API is off: no token is configured",
        );
    };
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|token| tokens.accepts(token)) {
        let reason = if presented.is_some() {
            "wrong token"
        } else {
            "no bearer token"
        };
        tracing::warn!(method = %req.method(), path = req.uri().path(), reason, "write API: unauthorized");
        let mut response = error(StatusCode::UNAUTHORIZED, "authorization", reason);
        let challenge = if presented.is_some() {
            "Bearer realm=\"kabar\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"kabar\""
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        return response;
    }
    let target = match target(app, req.uri().path()) {
        Ok(target) => target,
        Err(e) => return e.response(),
    };
    let if_match = if_match(&req);
    match (req.method().clone(), target) {
        (Method::GET | Method::HEAD, Target::Article(id)) => get_article(app, &id, None).await,
        (Method::GET | Method::HEAD, Target::Version(id, lang)) => {
            get_article(app, &id, Some(&lang)).await
        }
        (Method::PUT, Target::Article(id)) => match read_json::<Article>(app, req).await {
            Ok(article) => written(write::put_article(app, &id, article, if_match).await, None),
            Err(e) => e.response(),
        },
        (Method::PUT, Target::Version(id, lang)) => match read_json::<Version>(app, req).await {
            Ok(version) => written(
                write::put_version(app, &id, &lang, version, if_match).await,
                Some(&lang),
            ),
            Err(e) => e.response(),
        },
        (Method::DELETE, Target::Article(id)) => {
            written(write::delete_article(app, &id, if_match).await, None)
        }
        (Method::DELETE, Target::Version(id, lang)) => {
            written(write::delete_version(app, &id, &lang, if_match).await, None)
        }
        _ => {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "use GET, HEAD, PUT or DELETE",
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, PUT, DELETE"));
            response
        }
    }
}

/// `/api/v1/articles/{id}` or `/api/v1/articles/{id}/versions/{lang}`.
fn target<S>(app: &App<S>, path: &str) -> Result<Target, ApiError> {
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let parts: Vec<&str> = rest.split('/').collect();
    let (id, lang) = match parts.as_slice() {
        ["articles", id] => (*id, None),
        ["articles", id, "versions", lang] => (*id, Some(*lang)),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "path",
                "API paths are /api/v1/articles/{id} and /api/v1/articles/{id}/versions/{lang}",
            ));
        }
    };
    if !article::is_valid_id(id) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "id",
            "must be 1 to 128 characters of a-z, 0-9 and '-', starting with a letter or digit",
        ));
    }
    match lang {
        None => Ok(Target::Article(id.to_owned())),
        Some(lang) if app.config.language(lang).is_some() => {
            Ok(Target::Version(id.to_owned(), lang.to_owned()))
        }
        Some(lang) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "lang",
            &format!(
                "unknown language {lang:?}; known: {}",
                app.config.language_codes().join(", ")
            ),
        )),
    }
}

/// `If-Match: *` or a list of entity tags (RFC 9110 §13.1.1).
fn if_match(req: &Request<Incoming>) -> Option<IfMatch> {
    let values: Vec<&str> = req
        .headers()
        .get_all(IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.iter().any(|t| t == "*") {
        Some(IfMatch::Any)
    } else {
        Some(IfMatch::Tags(tags))
    }
}

/// Reads and parses a JSON body: 415 for another media type, 413 past the size
/// limit, 400 for broken JSON, 422 for a bad value (naming its field).
async fn read_json<T: serde::de::DeserializeOwned>(
    app: &App<impl ArticleStore>,
    req: Request<Incoming>,
) -> Result<T, ApiError> {
    if !body::has_media_type(&req, "application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            "send the article as application/json",
        ));
    }
    let limit = app.config.server.max_body_bytes.get();
    let body = body::read_limited(req, limit)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                &format!("is larger than the limit of {limit} bytes"),
            ),
            BodyError::Unreadable(why) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "body",
                &format!("could not be read: {why}"),
            ),
        })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "body", "is not UTF-8"))?;
    article::parse_json(text).map_err(|invalid| ApiError::invalid(&invalid))
}

async fn get_article<S: ArticleStore>(
    app: &App<S>,
    id: &str,
    lang: Option<&str>,
) -> Response<Body> {
    let article = match app.store.article(id.to_owned()).await {
        Ok(Some(article)) => article,
        Ok(None) => return error(StatusCode::NOT_FOUND, "id", &format!("no article {id:?}")),
        Err(e) => return store_unavailable(&e),
    };
    let etag = article.etag();
    let mut response = match lang {
        None => json(StatusCode::OK, &article),
        Some(lang) => match article.versions.get(lang) {
            Some(version) => json(StatusCode::OK, version),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "lang",
                    &format!("article {id:?} has no {lang} version"),
                );
            }
        },
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// The answer to a write: the stored article (or the version written), with
/// its entity tag; 201 when created, 204 after a delete.
fn written(result: Result<Written, WriteError>, lang: Option<&str>) -> Response<Body> {
    let written = match result {
        Ok(written) => written,
        Err(WriteError::Invalid(invalid)) => return ApiError::invalid(&invalid).response(),
        Err(WriteError::NotFound(reason)) => return error(StatusCode::NOT_FOUND, "id", &reason),
        Err(WriteError::PreconditionFailed) => {
            return error(
                StatusCode::PRECONDITION_FAILED,
                "if-match",
                "the article has changed since that ETag",
            );
        }
        Err(WriteError::Conflict(reason)) => return error(StatusCode::CONFLICT, "lang", &reason),
        Err(WriteError::Store(e)) => return store_unavailable(&e),
    };
    let Some(article) = written.article else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        return response;
    };
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = match lang.and_then(|l| article.versions.get(l)) {
        Some(version) => json(status, version),
        None => json(status, &article),
    };
    if let Ok(value) = HeaderValue::from_str(&article.etag()) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

fn store_unavailable(error_: &crate::store::StoreError) -> Response<Body> {
    tracing::error!(error = %error_, "write API: the store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store",
        "the article store is unavailable; nothing was written",
    )
}

/// A refused API request: the status, the field at fault and why.
struct ApiError {
    status: StatusCode,
    field: String,
    reason: String,
}

impl ApiError {
    fn new(status: StatusCode, field: &str, reason: &str) -> ApiError {
        ApiError {
            status,
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// 400 when the body is not JSON at all, 422 when a value is wrong.
    fn invalid(invalid: &Invalid) -> ApiError {
        let status = if invalid.syntax {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, &invalid.field, &invalid.reason)
    }

    fn response(&self) -> Response<Body> {
        error(self.status, &self.field, &self.reason)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: &'a str,
    reason: &'a str,
}

fn error(status: StatusCode, field: &str, reason: &str) -> Response<Body> {
    let body = ErrorBody {
        error: status.canonical_reason().unwrap_or("error"),
        field,
        reason,
    };
    json(status, &body)
}
