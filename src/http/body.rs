//! Reading a request body a client chose: its media type checked, its size
//! bounded before and while it is read, so a stranger cannot make the server
//! hold more than the limit.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over the limit, by its `Content-Length` or by what arrived.
    TooLarge,
    /// The connection failed while it was read.
    Unreadable(String),
}

/// Whether the request's `Content-Type` is `media_type` (parameters aside).
pub fn has_media_type(req: &Request<Incoming>, media_type: &str) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// The whole body, at most `limit` bytes: a declared length over it is refused
/// before a byte is read.
pub async fn read_limited(req: Request<Incoming>, limit: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(other) => Err(BodyError::Unreadable(other.to_string())),
    }
}
