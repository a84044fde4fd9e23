//! `POST /websub`: subscription requests to the built-in hub, as WebSub §5.1
//! has them (form-encoded, answered 202 or 4xx with a plain-text reason).

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

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
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(FORM));
    if !is_form {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415 Unsupported Media Type: send application/x-www-form-urlencoded.\n",
        );
    }
    let limit = app.config.hub.max_request_bytes.get();
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("413 Payload Too Large: at most {limit} bytes.\n"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => {
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
