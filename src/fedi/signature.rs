//! HTTP signatures as the fediverse uses them today: draft-cavage-http-
//! signatures-12 with RSA and SHA-256 (`rsa-sha256`, or `hs2019` with an RSA
//! key), over `(request-target)`, `host`, `date` and a `Digest` of the body.
//! Kabar signs its own requests this way and checks every POST to its inboxes
//! (RFC 9421's signatures, where a sender uses them: `message_signature`).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA512, UnparsedPublicKey};

use super::keys::SigningKey;

/// The header fields Kabar signs, and the least it accepts on a POST.
const SIGNED: [&str; 4] = ["(request-target)", "host", "date", "digest"];

/// Why a request's signature is refused; the inbox answers 401 or 400 with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no Signature header")]
    Unsigned,
    #[error("the Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature does not cover {0}")]
    NotCovered(&'static str),
    #[error("the signature's algorithm {0:?} is not rsa-sha256 or hs2019")]
    Algorithm(String),
    #[error("the signed header {0} is missing")]
    Missing(String),
    #[error("the Date is not a valid HTTP date")]
    BadDate,
    #[error("the Date is more than {0} seconds from now")]
    Stale(u64),
    #[error("no SHA-256 Digest of the body")]
    NoDigest,
    #[error("the Digest does not match the body")]
    DigestMismatch,
    #[error("the signature does not verify with the key {0}")]
    Invalid(String),
}

/// How a signature was made (all with RSA keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: draft-cavage's `rsa-sha256` and
    /// `hs2019` with an RSA key, RFC 9421's `rsa-v1_5-sha256`.
    RsaSha256,
    /// RFC 9421's `rsa-pss-sha512`.
    RsaPssSha512,
}

/// A signature, read (from `Signature`, or RFC 9421's `Signature-Input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_id: String,
    /// The covered fields or components, in order.
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub alg: Algorithm,
}

/// The header fields that sign a request with `key` (published as `key_id`):
/// `Date`, `Digest` when there is a body, and `Signature`. The request must
/// carry `Host` as `host` below (the URL's authority).
pub fn sign(
    key: &SigningKey,
    key_id: &str,
    method: &Method,
    uri: &Uri,
    body: Option<&[u8]>,
    now: SystemTime,
) -> Vec<(HeaderName, HeaderValue)> {
    let date = httpdate::fmt_http_date(now);
    let host = uri.authority().map_or("", |a| a.as_str());
    let target = request_target(method, uri);
    let mut covered = vec!["(request-target)", "host", "date"];
    let mut lines = vec![
        format!("(request-target): {target}"),
        format!("host: {host}"),
        format!("date: {date}"),
    ];
    let digest = body.map(digest);
    if let Some(digest) = &digest {
        covered.push("digest");
        lines.push(format!("digest: {digest}"));
    }
    let signature = STANDARD.encode(key.sign(lines.join("\n").as_bytes()));
    let value = format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{signature}\"",
        covered.join(" ")
    );
    let mut fields = vec![(hyper::header::DATE, date)];
    if let Some(digest) = digest {
        fields.push((HeaderName::from_static("digest"), digest));
    }
    fields.push((HeaderName::from_static("signature"), value));
    fields
        .into_iter()
        .filter_map(|(name, value)| HeaderValue::from_str(&value).ok().map(|v| (name, v)))
        .collect()
}

/// `SHA-256=` and the base64 of the body's SHA-256.
fn digest(body: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, body);
    format!("SHA-256={}", STANDARD.encode(hash.as_ref()))
}

fn request_target(method: &Method, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{} {path}", method.as_str().to_ascii_lowercase())
}

/// Reads the `Signature` header of a request.
pub fn parse(headers: &HeaderMap) -> Result<Signature, Refusal> {
    let value = headers
        .get("signature")
        .ok_or(Refusal::Unsigned)?
        .to_str()
        .map_err(|_| Refusal::Malformed("not ASCII"))?;
    let (mut key_id, mut covered, mut signature, mut algorithm) = (None, None, None, None);
    for param in split_params(value) {
        let (name, quoted) = param
            .split_once('=')
            .ok_or(Refusal::Malformed("a parameter without a value"))?;
        let value = quoted
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(quoted.trim());
        match name.trim() {
            "keyId" => key_id = Some(value.to_owned()),
            "headers" => covered = Some(value.to_ascii_lowercase()),
            "signature" => signature = Some(value.to_owned()),
            "algorithm" => algorithm = Some(value.to_owned()),
            _ => {}
        }
    }
    if let Some(algorithm) = algorithm
        && !matches!(algorithm.as_str(), "rsa-sha256" | "hs2019")
    {
        return Err(Refusal::Algorithm(algorithm));
    }
    let signature = STANDARD
        .decode(signature.ok_or(Refusal::Malformed("no signature"))?)
        .map_err(|_| Refusal::Malformed("the signature is not base64"))?;
    Ok(Signature {
        key_id: key_id.ok_or(Refusal::Malformed("no keyId"))?,
        // draft-cavage: when absent, only Date is signed.
        headers: covered
            .as_deref()
            .unwrap_or("date")
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect(),
        signature,
        alg: Algorithm::RsaSha256,
    })
}

/// Splits `a="x, y",b="z"` on the commas outside quotes.
fn split_params(value: &str) -> Vec<&str> {
    let mut params = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                params.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    params.push(&value[start..]);
    params
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect()
}

/// A received POST, as its signature is checked.
pub struct Received<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Received<'_> {
    /// Checks everything but the key: what the signature covers, the Date's
    /// window and the Digest against the body. Returns the signing string.
    pub fn check(&self, signature: &Signature, window: Duration) -> Result<String, Refusal> {
        for needed in SIGNED {
            if !signature.headers.iter().any(|h| h == needed) {
                return Err(Refusal::NotCovered(needed));
            }
        }
        let date = self.header("date").ok_or(Refusal::Missing("date".into()))?;
        let date = httpdate::parse_http_date(&date).map_err(|_| Refusal::BadDate)?;
        let now = SystemTime::now();
        let skew = now
            .duration_since(date)
            .or_else(|_| date.duration_since(now))
            .unwrap_or_default();
        if skew > window {
            return Err(Refusal::Stale(window.as_secs()));
        }
        let digests = self.header("digest").ok_or(Refusal::NoDigest)?;
        let ours = digest(self.body);
        let sha256 = digests
            .split(',')
            .map(str::trim)
            .find(|d| {
                d.get(..8)
                    .is_some_and(|a| a.eq_ignore_ascii_case("sha-256="))
            })
            .ok_or(Refusal::NoDigest)?;
        if sha256[8..] != ours[8..] {
            return Err(Refusal::DigestMismatch);
        }
        signature
            .headers
            .iter()
            .map(|name| match name.as_str() {
                "(request-target)" => Ok(format!(
                    "(request-target): {}",
                    request_target(self.method, self.uri)
                )),
                name => self
                    .header(name)
                    .map(|value| format!("{name}: {value}"))
                    .ok_or_else(|| Refusal::Missing(name.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| lines.join("\n"))
    }

    /// A header's values, trimmed and joined with ", ", as both kinds of
    /// signature cover them.
    pub(super) fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// Whether `signature` signs `signing_string` with the RSA key `public_der`
/// (PKCS#1) by `alg`.
pub fn verifies(public_der: &[u8], alg: Algorithm, signing_string: &str, signature: &[u8]) -> bool {
    let alg = match alg {
        Algorithm::RsaSha256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RsaPssSha512 => &RSA_PSS_2048_8192_SHA512,
    };
    UnparsedPublicKey::new(alg, public_der)
        .verify(signing_string.as_bytes(), signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_split_outside_quotes() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "signature",
            HeaderValue::from_static(
                "keyId=\"https://a.example/u#k,1\",algorithm=\"hs2019\",headers=\"(request-target) Host date digest\",signature=\"AAEC\"",
            ),
        );
        let parsed = parse(&headers).expect("parses");
        assert_eq!(parsed.key_id, "https://a.example/u#k,1");
        assert_eq!(
            parsed.headers,
            ["(request-target)", "host", "date", "digest"]
        );
        assert_eq!(parsed.signature, [0, 1, 2]);
        headers.insert(
            "signature",
            HeaderValue::from_static("keyId=\"k\",algorithm=\"rsa-sha1\",signature=\"AAEC\""),
        );
        assert_eq!(parse(&headers), Err(Refusal::Algorithm("rsa-sha1".into())));
    }
}
