//! `POST /websub`: subscription requests to the built-in hub, as WebSub §5.1
//! has them (form-encoded, answered 202 or 4xx with a plain-text reason).

use hyper::body::Incoming;
use hyper::header::{ALLOW, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::{self, BodyError};
use super::response::{Body, text};
use crate::app::App;
use crate::store::ArticleStore;

const FORM: &str = "application/x-www-form-urlencoded";

pub async fn respond<S: ArticleStore>(app: &App<S>, req: Request<Incoming>) -> Response<Body> {
    if !app.hub.enabled() {
        return text(
            StatusCode::NOT_FOUND,
            "404 Not Found: this server's WebSub hub is off.\n",
        );
    }
    if req.method() != Method::POST {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 Method Not Allowed: subscribe with a form-encoded POST (WebSub 5.1).\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !body::has_media_type(&req, FORM) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415 Unsupported Media Type: send application/x-www-form-urlencoded.\n",
        );
    }
    let limit = app.config.hub.max_request_bytes.get();
    let body = match body::read_limited(req, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("413 Payload Too Large: at most {limit} bytes.\n"),
            );
        }
        Err(BodyError::Unreadable(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: the body could not be read.\n",
            );
        }
    };
    match app.hub.request(&app.store, &body).await {
        Ok(()) => text(
            StatusCode::ACCEPTED,
            "202 Accepted: the callback will be asked to confirm (hub.challenge).\n",
        ),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            text(
                status,
                format!(
                    "{} {}: {}\n",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or(""),
                    refusal.reason
                ),
            )
        }
    }
}
