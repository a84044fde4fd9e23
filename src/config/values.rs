//! The value types of `feeds.toml`, each checked when it is read, so that a
//! bad value is reported at its own line: language codes, section slugs, base
//! and page URLs, tag: URI parts, the database URL, and the article-id rule
//! that slugs share.

use std::fmt;

use serde::Deserialize;
use url::Url;

/// The longest article id we accept; ids appear in URLs and tag: URIs.
pub const MAX_ID_LEN: usize = 128;

/// True for ids we accept: `[a-z0-9]` then `[a-z0-9-]`, at most [`MAX_ID_LEN`].
/// Article ids and section slugs both stand in URLs as they are.
pub fn is_valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_ID_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A PostgreSQL connection URL (`postgres://` or `postgresql://`), checked when
/// read. Shown only without its password, so it can go in logs and errors.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks a URL from the environment or the command line, where a password
    /// may stand (feeds.toml refuses one: see the `TryFrom` impl).
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("a PostgreSQL URL starts with postgres:// or postgresql://".to_owned());
        }
        url.parse::<tokio_postgres::Config>()
            .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
        Ok(DatabaseUrl(url.to_owned()))
    }

    /// The whole URL, password included: for connecting, never for showing.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The URL without password or query parameters, for logs and errors.
    pub fn redacted(&self) -> String {
        match Url::parse(&self.0) {
            Ok(mut url) => {
                let _ = url.set_password(None);
                url.set_query(None);
                url.to_string()
            }
            Err(_) => "postgres://…".to_owned(),
        }
    }

    fn has_password(&self) -> bool {
        self.0
            .parse::<tokio_postgres::Config>()
            .is_ok_and(|c| c.get_password().is_some())
    }
}

/// From feeds.toml: a password there would sit in plain text in a file that
/// is usually committed, so it must come from the environment instead.
impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(url: String) -> Result<Self, String> {
        let url = DatabaseUrl::parse(&url)?;
        if url.has_password() {
            return Err(
                "carries a password: set the whole URL in KABAR_DATABASE_URL instead, \
                 so the secret stays out of this file"
                    .to_owned(),
            );
        }
        Ok(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Ltr,
    Rtl,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ltr => "ltr",
            Direction::Rtl => "rtl",
        }
    }
}

/// A BCP 47-style language code as used in routes: `id`, `en`, `zh`, `pt-br`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct LangCode(String);

impl TryFrom<String> for LangCode {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        let mut parts = code.split('-');
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok = parts.all(|p| {
            (1..=8).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if primary_ok && rest_ok {
            Ok(LangCode(code))
        } else {
            Err(format!(
                "{code:?} is not a language code (lowercase, like \"id\", \"en\" or \"pt-br\")"
            ))
        }
    }
}

impl LangCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LangCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A section slug as used in routes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Slug(String);

impl TryFrom<String> for Slug {
    type Error = String;
    fn try_from(slug: String) -> Result<Self, String> {
        // The id rule has no `.`, so a slug never reads as a feed's file name.
        if is_valid_id(&slug) && slug.len() <= 64 {
            Ok(Slug(slug))
        } else {
            Err(format!(
                "{slug:?} is not a section slug (a-z, 0-9 and '-', at most 64 characters)"
            ))
        }
    }
}

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL ending in `/`, so paths can be appended to it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BaseUrl(String);

impl TryFrom<String> for BaseUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let url = Url::parse(&s).map_err(|e| format!("{s:?} is not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(format!("{s:?} must be an http(s) URL without a query"));
        }
        let mut base = url.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(BaseUrl(base))
    }
}

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self` followed by `path` (which must not start with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// A page URL pattern with `{id}` (required) and `{section}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PageUrl(String);

impl TryFrom<String> for PageUrl {
    type Error = String;
    fn try_from(pattern: String) -> Result<Self, String> {
        if !pattern.contains("{id}") {
            return Err(format!("{pattern:?} must contain {{id}}"));
        }
        let sample = pattern.replace("{id}", "x").replace("{section}", "x");
        match Url::parse(&sample) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(PageUrl(pattern)),
            _ => Err(format!(
                "{pattern:?} is not an absolute http(s) URL pattern"
            )),
        }
    }
}

impl PageUrl {
    /// The page of article `id` in `section` (articles without one use `news`).
    pub fn expand(&self, id: &str, section: Option<&str>) -> String {
        self.0
            .replace("{id}", id)
            .replace("{section}", section.unwrap_or("news"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct TagAuthority(pub String);

impl TryFrom<String> for TagAuthority {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // RFC 4151: a DNS name or an email address, lowercase.
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.@".contains(&b));
        if ok {
            Ok(TagAuthority(s))
        } else {
            Err(format!(
                "{s:?} is not a tag authority (a lowercase domain name)"
            ))
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct TagDate(pub String);

impl TryFrom<String> for TagDate {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        // RFC 4151: YYYY, YYYY-MM or YYYY-MM-DD.
        let ok = match s.len() {
            4 => s.bytes().all(|b| b.is_ascii_digit()),
            7 => chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok(),
            10 => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok(),
            _ => false,
        };
        if ok {
            Ok(TagDate(s))
        } else {
            Err(format!(
                "{s:?} is not a tag date (YYYY, YYYY-MM or YYYY-MM-DD)"
            ))
        }
    }
}
