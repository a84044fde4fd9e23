//! HTTP Message Signatures (RFC 9421), which fediverse servers are moving
//! to: `Signature-Input` names the covered components and parameters,
//! `Signature` carries the signature, and the body's hash is in
//! `Content-Digest` (RFC 9530). Kabar checks them where a sender uses them,
//! and signs with them for a server that refused its draft-cavage signature.
//!
//! Only what the fediverse uses is taken: RSA keys (`rsa-v1_5-sha256`, the
//! default for them, or `rsa-pss-sha512`), components without parameters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};

use super::keys::SigningKey;
use super::signature::{Algorithm, Received, Refusal, Signature};

/// The components Kabar signs, as Mastodon does.
const SIGNED: &str = "(\"@method\" \"@target-uri\" \"content-digest\")";

/// Whether the request carries an RFC 9421 signature.
pub fn is_used(headers: &HeaderMap) -> bool {
    headers.contains_key("signature-input")
}

/// Reads and checks an RFC 9421 signature of `received`: the covered
/// components (the method, the target, and the body by its
/// `Content-Digest`), `created` within `window` and `expires` not past, the
/// digest against the body. `scheme` is the one the sender used (Kabar's
/// public URL's). Returns the signature and the signature base it signs.
pub fn check(
    received: &Received<'_>,
    scheme: &str,
    window: Duration,
) -> Result<(Signature, String), Refusal> {
    let input = received
        .header("signature-input")
        .ok_or(Refusal::Unsigned)?;
    let signatures = received.header("signature").ok_or(Refusal::Unsigned)?;
    // The first signature; a sender that adds more signs with each.
    let (label, params) = members(&input)
        .into_iter()
        .next()
        .ok_or(Refusal::Malformed("an empty Signature-Input"))?;
    let encoded = members(&signatures)
        .into_iter()
        .find(|(l, _)| *l == label)
        .map(|(_, value)| value)
        .ok_or(Refusal::Malformed(
            "no Signature for the Signature-Input's label",
        ))?;
    let signature = encoded
        .strip_prefix(':')
        .and_then(|v| v.strip_suffix(':'))
        .and_then(|v| STANDARD.decode(v).ok())
        .ok_or(Refusal::Malformed("the signature is not a byte sequence"))?;
    let (components, parameters) = inner_list(params)?;
    for needed in ["@method", "content-digest"] {
        if !components.contains(&needed) {
            return Err(Refusal::NotCovered(needed));
        }
    }
    if !components.contains(&"@target-uri")
        && !(components.contains(&"@authority")
            && (components.contains(&"@path") || components.contains(&"@request-target")))
    {
        return Err(Refusal::NotCovered("@target-uri"));
    }
    let number = |name: &str| parameter(&parameters, name).and_then(|v| v.parse::<u64>().ok());
    let created = number("created").ok_or(Refusal::Malformed("no created"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if now.abs_diff(created) > window.as_secs() || number("expires").is_some_and(|e| e < now) {
        return Err(Refusal::Stale(window.as_secs()));
    }
    let key_id = parameter(&parameters, "keyid")
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"').map(str::to_owned))
        .ok_or(Refusal::Malformed("no keyid"))?;
    let alg = match parameter(&parameters, "alg").as_deref() {
        None | Some("\"rsa-v1_5-sha256\"") => Algorithm::RsaSha256,
        Some("\"rsa-pss-sha512\"") => Algorithm::RsaPssSha512,
        Some(other) => return Err(Refusal::Algorithm(other.trim_matches('"').to_owned())),
    };
    check_digest(received)?;
    let mut base = String::new();
    for name in &components {
        let value = component(received, scheme, name)?;
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {params}"));
    Ok((
        Signature {
            key_id,
            headers: components.iter().map(|c| (*c).to_owned()).collect(),
            signature,
            alg,
        },
        base,
    ))
}

/// The value of a covered component of `received`.
fn component(received: &Received<'_>, scheme: &str, name: &str) -> Result<String, Refusal> {
    let authority = || {
        received
            .header("host")
            .map(|h| h.to_ascii_lowercase())
            .ok_or_else(|| Refusal::Missing("host".into()))
    };
    let path = received.uri.path();
    let query = received.uri.query();
    Ok(match name {
        "@method" => received.method.as_str().to_owned(),
        "@authority" => authority()?,
        "@scheme" => scheme.to_owned(),
        "@path" => path.to_owned(),
        "@query" => format!("?{}", query.unwrap_or("")),
        "@request-target" => match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        },
        "@target-uri" => match query {
            Some(q) => format!("{scheme}://{}{path}?{q}", authority()?),
            None => format!("{scheme}://{}{path}", authority()?),
        },
        derived if derived.starts_with('@') => {
            return Err(Refusal::Malformed(
                "a derived component Kabar does not take",
            ));
        }
        field => received
            .header(field)
            .ok_or_else(|| Refusal::Missing(field.to_owned()))?,
    })
}

/// Checks `Content-Digest` (its SHA-256 or SHA-512) against the body.
fn check_digest(received: &Received<'_>) -> Result<(), Refusal> {
    let digests = received.header("content-digest").ok_or(Refusal::NoDigest)?;
    for (algorithm, value) in members(&digests) {
        let hash = match algorithm {
            "sha-256" => &ring::digest::SHA256,
            "sha-512" => &ring::digest::SHA512,
            _ => continue,
        };
        let ours = ring::digest::digest(hash, received.body);
        let theirs = value
            .strip_prefix(':')
            .and_then(|v| v.strip_suffix(':'))
            .and_then(|v| STANDARD.decode(v).ok());
        return match theirs {
            Some(theirs) if theirs == ours.as_ref() => Ok(()),
            _ => Err(Refusal::DigestMismatch),
        };
    }
    Err(Refusal::NoDigest)
}

/// The header fields that sign a POST of `body` to `uri` with `key` as
/// `key_id`, the RFC 9421 way: `Content-Digest`, `Signature-Input` and
/// `Signature` (label `sig1`).
pub fn sign(
    key: &SigningKey,
    key_id: &str,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    now: SystemTime,
) -> Vec<(HeaderName, HeaderValue)> {
    let hash = ring::digest::digest(&ring::digest::SHA256, body);
    let digest = format!("sha-256=:{}:", STANDARD.encode(hash.as_ref()));
    let created = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let params = format!("{SIGNED};created={created};keyid=\"{key_id}\"");
    let base = format!(
        "\"@method\": {}\n\"@target-uri\": {uri}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        method.as_str()
    );
    let signature = STANDARD.encode(key.sign(base.as_bytes()));
    [
        ("content-digest", digest),
        ("signature-input", format!("sig1={params}")),
        ("signature", format!("sig1=:{signature}:")),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        HeaderValue::from_str(&value)
            .ok()
            .map(|v| (HeaderName::from_static(name), v))
    })
    .collect()
}

/// The members of a structured dictionary (RFC 9651), as (key, raw value):
/// split on the commas outside strings and inner lists.
fn members(dictionary: &str) -> Vec<(&str, &str)> {
    let mut members = Vec::new();
    let (mut start, mut quoted, mut depth, mut escaped) = (0, false, 0u32, false);
    let bytes = dictionary.as_bytes();
    let mut parts = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b',' if !quoted && depth == 0 => {
                parts.push(&dictionary[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&dictionary[start..]);
    for part in parts {
        let part = part.trim();
        if let Some((key, value)) = part.split_once('=') {
            members.push((key.trim(), value.trim()));
        }
    }
    members
}

/// An inner list of strings with parameters, `("a" "b");k=v;…`: its strings
/// (which may carry no parameters of their own) and its parameters, raw.
fn inner_list(value: &str) -> Result<(Vec<&str>, Parameters<'_>), Refusal> {
    let malformed = Refusal::Malformed("Signature-Input is not an inner list of strings");
    let rest = value.strip_prefix('(').ok_or(malformed.clone())?;
    let close = rest.find(')').ok_or(malformed.clone())?;
    let (list, params) = (&rest[..close], &rest[close + 1..]);
    let mut components = Vec::new();
    for item in list.split_ascii_whitespace() {
        let name = item
            .strip_prefix('"')
            .and_then(|i| i.strip_suffix('"'))
            .filter(|n| !n.contains('"') && !n.contains(';'))
            .ok_or(Refusal::Malformed(
                "a covered component with parameters, or not a string",
            ))?;
        components.push(name);
    }
    let mut parameters = Vec::new();
    for param in params.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, "?1"));
        parameters.push((key.trim(), value.trim()));
    }
    Ok((components, parameters))
}

/// Parameters as written: (key, raw value); a bare key is `?1` (true).
type Parameters<'a> = Vec<(&'a str, &'a str)>;

fn parameter(parameters: &[(&str, &str)], name: &str) -> Option<String> {
    parameters
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| (*v).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_split_outside_strings_and_lists() {
        let members =
            members("sig1=(\"@method\" \"@target-uri\");created=1;keyid=\"a,b\", sig2=:AAEC:");
        assert_eq!(
            members,
            [
                (
                    "sig1",
                    "(\"@method\" \"@target-uri\");created=1;keyid=\"a,b\""
                ),
                ("sig2", ":AAEC:")
            ]
        );
        let (components, params) =
            inner_list("(\"@method\" \"content-digest\");created=1618884473;keyid=\"k\"").unwrap();
        assert_eq!(components, ["@method", "content-digest"]);
        assert_eq!(params, [("created", "1618884473"), ("keyid", "\"k\"")]);
        assert!(inner_list("(\"@query-param\";name=\"a\")").is_err());
    }
}
