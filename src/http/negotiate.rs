//! Content negotiation and validators: which coding to send (`Accept-Encoding`
//! with q-values, RFC 9110 §12.5.3) and whether the client's copy is current
//! (`If-None-Match`, `If-Modified-Since`, RFC 9110 §13).

use hyper::HeaderMap;
use hyper::header::{ACCEPT_ENCODING, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};

use crate::representation::{Encoding, LastModified};

/// The best coding the client accepts; brotli, then gzip, then identity on ties.
/// When nothing listed is acceptable we send identity, as RFC 9110 advises.
pub fn encoding(headers: &HeaderMap) -> Encoding {
    let mut q_br = None;
    let mut q_gzip = None;
    let mut q_identity = None;
    let mut q_any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let q = if (0.0..=1.0).contains(&q) { q } else { 0.0 };
            // Codings are case-insensitive; compared in place, not lowercased
            // into a new string on every request.
            let is = |name: &str| coding.eq_ignore_ascii_case(name);
            if is("br") {
                q_br = Some(q);
            } else if is("gzip") || is("x-gzip") {
                q_gzip = Some(q);
            } else if is("identity") {
                q_identity = Some(q);
            } else if coding == "*" {
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

/// True when the client's copy matches: `If-None-Match` against the strong ETag
/// of the selected coding, else `If-Modified-Since` against Last-Modified.
pub fn not_modified(
    headers: &HeaderMap,
    etag: &HeaderValue,
    last_modified: Option<&LastModified>,
) -> bool {
    if headers.contains_key(IF_NONE_MATCH) {
        return headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .any(|v| etag_matches(v, etag));
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
    let Ok(header) = header.to_str() else {
        return false;
    };
    let ours = etag.as_bytes();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
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
    }

    #[test]
    fn validators_match() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(not_modified(&headers, &etag, None));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"abcd\""));
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
