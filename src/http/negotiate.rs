//! Content negotiation and validators: which coding to send (`Accept-Encoding`
//! with q-values, RFC 9110 §12.5.3) and whether the client's copy is current
//! (`If-None-Match`, `If-Modified-Since`, RFC 9110 §13).

use hyper::HeaderMap;
use hyper::header::{ACCEPT_ENCODING, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};

use crate::serve::representation::{Encoding, LastModified};

/// The best coding the client accepts; brotli, then gzip, then identity on ties.
/// When nothing listed is acceptable we send identity, as RFC 9110 advises.
/// Every request asks this: the list is read as bytes, in place.
pub fn encoding(headers: &HeaderMap) -> Encoding {
    let mut q_br = None;
    let mut q_gzip = None;
    let mut q_identity = None;
    let mut q_any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let mut parts = item.split(|&b| b == b';');
            let coding = parts.next().unwrap_or_default().trim_ascii();
            let q = parts
                .find_map(q_param)
                .map_or(1.0, |q| if (0.0..=1.0).contains(&q) { q } else { 0.0 });
            // Codings are case-insensitive; compared in place, not lowercased
            // into a new string on every request.
            let is = |name: &[u8]| coding.eq_ignore_ascii_case(name);
            if is(b"br") {
                q_br = Some(q);
            } else if is(b"gzip") || is(b"x-gzip") {
                q_gzip = Some(q);
            } else if is(b"identity") {
                q_identity = Some(q);
            } else if coding == b"*" {
                q_any = Some(q);
            }
        }
    }
    let br = q_br.or(q_any).unwrap_or(0.0);
    let gzip = q_gzip.or(q_any).unwrap_or(0.0);
    // Identity unlisted is acceptable but least preferred; listed, it competes.
    let identity = q_identity.or(q_any).unwrap_or(f32::MIN_POSITIVE);
    if br > 0.0 && br >= gzip && br >= identity {
        Encoding::Brotli
    } else if gzip > 0.0 && gzip >= identity {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// The weight a `q=` parameter gives, if `param` is one that parses.
fn q_param(param: &[u8]) -> Option<f32> {
    let param = param.trim_ascii();
    let value = param
        .strip_prefix(b"q=")
        .or_else(|| param.strip_prefix(b"Q="))?;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// True when the client's copy matches: `If-None-Match` against the strong ETag
/// of the selected coding, else `If-Modified-Since` against Last-Modified.
pub fn not_modified(
    headers: &HeaderMap,
    etag: &HeaderValue,
    last_modified: Option<&LastModified>,
) -> bool {
    let mut tags = headers.get_all(IF_NONE_MATCH).iter().peekable();
    if tags.peek().is_some() {
        return tags.any(|v| etag_matches(v, etag));
    }
    let (Some(since), Some(modified)) = (headers.get(IF_MODIFIED_SINCE), last_modified) else {
        return false;
    };
    // An unparsable date is ignored, as RFC 9110 §13.1.3 requires.
    match since
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s).ok())
    {
        Some(since) => modified.time <= since,
        None => false,
    }
}

/// Weak comparison (RFC 9110 §8.8.3.2): `W/` prefixes are ignored on both sides.
fn etag_matches(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    header
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn http_date(time: SystemTime) -> String {
        httpdate::fmt_http_date(time)
    }

    fn accept(value: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        encoding(&headers)
    }

    #[test]
    fn q_values_choose_the_coding() {
        assert_eq!(encoding(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(accept("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(accept("gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=0, gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=0.5, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(accept("gzip;q=0, br;q=0"), Encoding::Identity);
        assert_eq!(accept("*"), Encoding::Brotli);
        assert_eq!(accept("*;q=0, gzip;q=0.1"), Encoding::Gzip);
        assert_eq!(accept("identity"), Encoding::Identity);
        assert_eq!(accept("identity;q=0, *;q=0"), Encoding::Identity);
        assert_eq!(accept("gzip;q=nonsense"), Encoding::Gzip);
        assert_eq!(accept("gzip;q=0.2, identity;q=0.5"), Encoding::Identity);
        assert_eq!(accept(" GZIP ; Q=0.5 , br ; q=0.4"), Encoding::Gzip);
        assert_eq!(accept("x-gzip"), Encoding::Gzip);
        assert_eq!(accept("br;q=1.5, gzip;q=0.1"), Encoding::Gzip);
        assert_eq!(accept("br;level=5;q=0.9, gzip;q=0.8"), Encoding::Brotli);
        assert_eq!(accept(",,;, gzip"), Encoding::Gzip);
    }

    #[test]
    fn validators_match() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(not_modified(&headers, &etag, None));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"abcd\""));
        assert!(!not_modified(&headers, &etag, None));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("  *  "));
        assert!(not_modified(&headers, &etag, None));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static(""));
        assert!(!not_modified(&headers, &etag, None));

        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let modified = LastModified {
            time,
            header: HeaderValue::from_str(&http_date(time)).unwrap(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_str(&http_date(time)).unwrap(),
        );
        assert!(not_modified(&headers, &etag, Some(&modified)));
        let earlier = time - std::time::Duration::from_secs(1);
        headers.insert(
            IF_MODIFIED_SINCE,
            HeaderValue::from_str(&http_date(earlier)).unwrap(),
        );
        assert!(!not_modified(&headers, &etag, Some(&modified)));
        headers.insert(IF_MODIFIED_SINCE, HeaderValue::from_static("yesterday"));
        assert!(!not_modified(&headers, &etag, Some(&modified)));
    }
}
