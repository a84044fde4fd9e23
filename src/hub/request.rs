//! A subscription request (WebSub §5.1), read strictly: the form's `hub.*`
//! parameters once each, the topic one of Kabar's subscription feeds, the
//! callback an http(s) URL, the lease within `[hub]`'s bounds, the secret
//! under 200 bytes. Parameters it does not know are ignored, as §5.1 says.

use url::Url;

use crate::config::Config;
use crate::outbound::quote;
use crate::urls;

/// WebSub §5.1: `hub.secret` "MUST be less than 200 bytes in length".
pub const MAX_SECRET_BYTES: usize = 199;

/// The longest callback URL taken: every byte is stored and sent again.
pub const MAX_CALLBACK_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// What a well-formed request asks for.
#[derive(Debug, Clone)]
pub struct Intent {
    pub mode: Mode,
    /// As the subscriber wrote it: one of the feeds' self URLs.
    pub topic: String,
    pub callback: Url,
    /// The callback's host, lowercased: what the per-host limit counts.
    pub host: String,
    pub lease_secs: u64,
    pub secret: Option<String>,
}

/// Reads a form-encoded request body; the error is the plain-text reason.
pub fn parse(config: &Config, body: &[u8]) -> Result<Intent, String> {
    let mut mode = None;
    let mut topic = None;
    let mut callback = None;
    let mut lease = None;
    let mut secret = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        let slot = match &*key {
            "hub.mode" => &mut mode,
            "hub.topic" => &mut topic,
            "hub.callback" => &mut callback,
            "hub.lease_seconds" => &mut lease,
            "hub.secret" => &mut secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(format!("{key} is given more than once"));
        }
    }
    let mode = match mode.as_deref() {
        Some("subscribe") => Mode::Subscribe,
        Some("unsubscribe") => Mode::Unsubscribe,
        Some("publish") => {
            return Err(
                "hub.mode=publish is not taken: this hub publishes this server's feeds itself"
                    .to_owned(),
            );
        }
        Some(other) => {
            return Err(format!(
                "hub.mode {} is not subscribe or unsubscribe",
                quote(other)
            ));
        }
        None => return Err("hub.mode is missing".to_owned()),
    };
    let topic = topic.ok_or("hub.topic is missing")?;
    urls::topic(config, &topic).ok_or_else(|| {
        format!(
            "hub.topic {} is not one of this server's subscription feeds \
             (a language or section feed URL, as its self link gives it)",
            quote(&topic)
        )
    })?;
    let callback = callback.ok_or("hub.callback is missing")?;
    let (callback, host) = parse_callback(&callback)?;
    let hub = &config.hub;
    let lease_secs = match lease.as_deref() {
        None => hub.lease_default_secs.get_ref().get(),
        Some(text) => {
            let secs =
                (!text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| text.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        format!(
                            "hub.lease_seconds {} is not a number of seconds",
                            quote(text)
                        )
                    })?;
            let (min, max) = (hub.lease_min_secs.get(), hub.lease_max_secs.get());
            if !(min..=max).contains(&secs) {
                return Err(format!(
                    "hub.lease_seconds {secs} is out of range: this hub leases {min} to {max} seconds"
                ));
            }
            secs
        }
    };
    let secret = match secret {
        Some(s) if s.is_empty() => return Err("hub.secret is empty".to_owned()),
        Some(s) if s.len() > MAX_SECRET_BYTES => {
            return Err(format!(
                "hub.secret is {} bytes; it must be less than 200",
                s.len()
            ));
        }
        other => other,
    };
    Ok(Intent {
        mode,
        topic,
        callback,
        host,
        lease_secs,
        secret,
    })
}

/// An absolute http(s) URL with a host, no credentials and no fragment.
fn parse_callback(text: &str) -> Result<(Url, String), String> {
    if text.len() > MAX_CALLBACK_BYTES {
        return Err(format!(
            "hub.callback is longer than {MAX_CALLBACK_BYTES} bytes"
        ));
    }
    let bad = |why: &str| format!("hub.callback {} {why}", quote(text));
    let url = Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("carries credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("has a fragment"));
    }
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.to_ascii_lowercase(),
        _ => return Err(bad("has no host")),
    };
    Ok((url, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(include_str!("../../feeds.toml"), "feeds.toml").unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes()
    }

    const TOPIC: &str = "http://127.0.0.1:8080/fr/atom.xml";

    #[test]
    fn a_good_request_reads_whole_and_unknown_parameters_are_ignored() {
        let config = config();
        let intent = parse(
            &config,
            &form(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", "https://Sub.example/cb?id=1"),
                ("hub.lease_seconds", "86400"),
                ("hub.secret", "s3cret"),
                ("hub.extension", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(intent.mode, Mode::Subscribe);
        assert_eq!(intent.host, "sub.example");
        assert_eq!(intent.lease_secs, 86_400);
        assert_eq!(intent.secret.as_deref(), Some("s3cret"));
        let default = parse(
            &config,
            &form(&[
                ("hub.mode", "unsubscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", "http://a.example/"),
            ]),
        )
        .unwrap();
        assert_eq!(default.lease_secs, 864_000);
    }

    #[test]
    fn bad_requests_say_why() {
        let config = config();
        let ok = [
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "https://sub.example/cb"),
        ];
        let with = |key: &str, value: &str| {
            let mut pairs: Vec<(&str, &str)> =
                ok.iter().copied().filter(|(k, _)| *k != key).collect();
            pairs.push((key, value));
            parse(&config, &form(&pairs)).unwrap_err()
        };
        let long_secret = "x".repeat(200);
        for (key, value, says) in [
            ("hub.mode", "publish", "publishes"),
            ("hub.mode", "watch", "not subscribe"),
            (
                "hub.topic",
                "http://127.0.0.1:8080/fr/archive/2026-01/atom.xml",
                "not one of",
            ),
            (
                "hub.topic",
                "https://elsewhere.example/fr/atom.xml",
                "not one of",
            ),
            ("hub.callback", "ftp://sub.example/", "not an http"),
            ("hub.callback", "not a url", "is not a URL"),
            ("hub.callback", "https://u:p@sub.example/", "credentials"),
            ("hub.callback", "https://sub.example/#x", "fragment"),
            ("hub.lease_seconds", "-5", "not a number"),
            ("hub.lease_seconds", "60", "out of range"),
            ("hub.lease_seconds", "99999999", "out of range"),
            ("hub.secret", &long_secret, "less than 200"),
            ("hub.secret", "", "empty"),
        ] {
            let err = with(key, value);
            assert!(err.contains(says), "{key}={value}: {err}");
        }
        let twice = [ok.as_slice(), &[("hub.topic", TOPIC)]].concat();
        assert!(
            parse(&config, &form(&twice))
                .unwrap_err()
                .contains("more than once")
        );
        assert!(
            parse(&config, b"")
                .unwrap_err()
                .contains("hub.mode is missing")
        );
    }
}
