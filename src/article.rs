//! The article model: what the newsroom sends and the store keeps.
//!
//! One article has one stable id from the CMS, metadata shared by every language
//! (times, section, tags, authors, image) and one [`Version`] per language. The same
//! JSON shape is read by `kabar import`, the write API and the demo loader, so all
//! three validate the same way ([`Article::validate`]).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::Config;
pub use crate::config::{MAX_ID_LEN, is_valid_id};
use crate::text::Markup;

/// A whole article with all its language versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// Stable id from the CMS: a slug of `a-z`, `0-9` and `-`, at most [`MAX_ID_LEN`].
    pub id: String,
    /// Section (category) slug, declared in `feeds.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// First publication; orders feeds (newest first).
    pub published: DateTime<FixedOffset>,
    /// Last editorial change to the article as a whole; defaults to `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Author>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// One version per language code; ordered so that stored JSON is deterministic.
    pub versions: BTreeMap<String, Version>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: Url,
    /// MIME type, e.g. `image/jpeg`; RSS enclosures require one.
    #[serde(rename = "type", default = "default_image_type")]
    pub mime_type: String,
    /// Size in bytes when known; RSS enclosures carry it (0 when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Text alternative, in the original language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

fn default_image_type() -> String {
    "image/jpeg".to_owned()
}

/// The article in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// How this text was made.
    pub translation: Translation,
    /// Missing in real machine translations: the builder derives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Missing more often than not: the builder derives one from the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub body: String,
    #[serde(default)]
    pub format: BodyFormat,
    /// The page of this version; derived from the language's URL pattern when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    /// When this version last changed (a regenerated translation moves only this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Translation {
    /// Written in the site's original language.
    Original,
    /// Machine translated, not reviewed.
    Machine,
    /// Translated or reviewed by a person.
    Human,
}

impl Translation {
    pub fn as_str(self) -> &'static str {
        match self {
            Translation::Original => "original",
            Translation::Machine => "machine",
            Translation::Human => "human",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "original" => Some(Translation::Original),
            "machine" => Some(Translation::Machine),
            "human" => Some(Translation::Human),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// Plain text, paragraphs separated by blank lines.
    #[default]
    Text,
    /// HTML fragment; sanitized before it reaches a feed.
    Html,
}

impl BodyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Text => "text",
            BodyFormat::Html => "html",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(BodyFormat::Text),
            "html" => Some(BodyFormat::Html),
            _ => None,
        }
    }
}

/// The text pipeline knows only how a body is written, not the article model.
impl From<BodyFormat> for Markup {
    fn from(format: BodyFormat) -> Self {
        match format {
            BodyFormat::Text => Markup::Text,
            BodyFormat::Html => Markup::Html,
        }
    }
}

/// Why an article was refused. `field` is a JSON path the sender can find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
    /// Whether the document was not JSON at all (400) rather than a bad value (422).
    pub syntax: bool,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            reason: reason.into(),
            syntax: false,
        }
    }
}

/// Parses a JSON document into `T`; a bad value is reported with the path of
/// its field (`versions.fr.url`), a syntax error with its line and column.
pub fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Invalid> {
    let syntax = |inner: serde_json::Error| Invalid {
        field: "body".to_owned(),
        reason: format!(
            "invalid JSON at line {}, column {}: {inner}",
            inner.line(),
            inner.column()
        ),
        syntax: true,
    };
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => Invalid::new(
                if path == "." { "body".to_owned() } else { path },
                inner.to_string(),
            ),
            _ => syntax(inner),
        }
    })?;
    // Trailing characters after the document are a syntax error too.
    de.end().map_err(syntax)?;
    Ok(value)
}

impl Article {
    /// When the article as a whole last changed.
    pub fn updated(&self) -> DateTime<FixedOffset> {
        self.updated.unwrap_or(self.published)
    }

    /// Parses one article from JSON (see [`parse_json`]).
    pub fn from_json(json: &str) -> Result<Article, Invalid> {
        parse_json(json)
    }

    /// The article's entity tag for optimistic concurrency (`If-Match`): a hash
    /// of its canonical JSON, so equal articles have equal tags everywhere.
    pub fn etag(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&json))
    }

    /// Checks the article against the site's configuration: known languages and
    /// section, exactly one original in the original language, sane times.
    pub fn validate(&self, config: &Config) -> Result<(), Invalid> {
        if !is_valid_id(&self.id) {
            return Err(Invalid::new(
                "id",
                format!(
                    "must be 1 to {MAX_ID_LEN} characters of a-z, 0-9 and '-', starting with a letter or digit"
                ),
            ));
        }
        if let Some(section) = &self.section
            && config.section(section).is_none()
        {
            return Err(Invalid::new(
                "section",
                format!(
                    "unknown section {section:?}; known: {}",
                    config.section_slugs().join(", ")
                ),
            ));
        }
        if self.updated() < self.published {
            return Err(Invalid::new("updated", "is before published"));
        }
        for (i, author) in self.authors.iter().enumerate() {
            if author.name.trim().is_empty() {
                return Err(Invalid::new(format!("authors[{i}].name"), "is empty"));
            }
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.trim().is_empty() {
                return Err(Invalid::new(format!("tags[{i}]"), "is empty"));
            }
        }
        self.validate_versions(config)
    }

    fn validate_versions(&self, config: &Config) -> Result<(), Invalid> {
        let original = config.original_language();
        if !self.versions.contains_key(original) {
            return Err(Invalid::new(
                format!("versions.{original}"),
                "the original-language version is missing",
            ));
        }
        for (lang, version) in &self.versions {
            let field = |name: &str| format!("versions.{lang}.{name}");
            if config.language(lang).is_none() {
                return Err(Invalid::new(
                    format!("versions.{lang}"),
                    format!(
                        "unknown language {lang:?}; known: {}",
                        config.language_codes().join(", ")
                    ),
                ));
            }
            let is_original_lang = lang == original;
            match (is_original_lang, version.translation) {
                (true, Translation::Original)
                | (false, Translation::Machine | Translation::Human) => {}
                (true, _) => {
                    return Err(Invalid::new(
                        field("translation"),
                        format!("the {original} version is the original and must say \"original\""),
                    ));
                }
                (false, _) => {
                    return Err(Invalid::new(
                        field("translation"),
                        format!("a {lang} version is a translation: \"machine\" or \"human\""),
                    ));
                }
            }
            if version.body.trim().is_empty() {
                return Err(Invalid::new(field("body"), "is empty"));
            }
            if let Some(url) = &version.url
                && !matches!(url.scheme(), "http" | "https")
            {
                return Err(Invalid::new(field("url"), "must be an http or https URL"));
            }
            if let Some(updated) = version.updated
                && updated < self.published
            {
                return Err(Invalid::new(
                    field("updated"),
                    "is before the article's published time",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_restricted_slugs() {
        assert!(is_valid_id("biden-putin-2021"));
        assert!(is_valid_id("7"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("-leading"));
        assert!(!is_valid_id("Upper"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }

    #[test]
    fn json_errors_name_line_and_column() {
        let err = Article::from_json("{\n  \"id\": \"a\",\n  oops\n}").unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.syntax, "{err}");
        assert!(err.reason.contains("line 3, column 3"), "{}", err.reason);
    }

    #[test]
    fn bad_values_name_their_field() {
        let json = r#"{"id":"a","published":"2026-01-01T10:00:00","versions":{}}"#;
        let err = Article::from_json(json).unwrap_err();
        assert_eq!(err.field, "published");
        assert!(!err.syntax);

        let json = r#"{"id":"a","published":"2026-01-01T10:00:00Z","versions":{"fr":{"translation":"machine","body":"x","url":"/fr/a"}}}"#;
        let err = Article::from_json(json).unwrap_err();
        assert_eq!(err.field, "versions.fr.url");
        assert!(err.reason.contains("relative URL"), "{}", err.reason);

        let err = Article::from_json(r#"{"id":"a""#).unwrap_err();
        assert!(err.syntax, "{err}");
    }
}
