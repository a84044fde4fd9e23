//! How an article is kept in table columns, shared by every backend.
//!
//! Both stores keep the same text in the same columns (times as RFC 3339 with
//! their offset, tags/authors/image as JSON) and decode it here, in one place, so
//! replicas on PostgreSQL and a server on SQLite read back identical values and
//! therefore render identical bytes.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use super::{ArticleMeta, Sibling, StoreError};
use crate::article::{Article, BodyFormat, Translation, Version};

/// The `articles` row of one article, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ArticleColumns {
    pub id: String,
    pub section: Option<String>,
    pub published: String,
    /// Milliseconds since the epoch: what feeds are ordered by.
    pub published_ms: i64,
    pub updated: Option<String>,
    pub tags: String,
    pub authors: String,
    pub image: Option<String>,
}

/// The `versions` row of one language version, as stored (without its keys
/// and the copies of the article's section and publish time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VersionColumns {
    pub translation: String,
    pub url: Option<String>,
    pub updated: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub format: String,
    pub body: String,
}

impl ArticleColumns {
    pub fn encode(article: &Article) -> Result<ArticleColumns, StoreError> {
        Ok(ArticleColumns {
            id: article.id.clone(),
            section: article.section.clone(),
            published: article.published.to_rfc3339(),
            published_ms: article.published.timestamp_millis(),
            updated: article.updated.map(|t| t.to_rfc3339()),
            tags: to_json(&article.tags)?,
            authors: to_json(&article.authors)?,
            image: article.image.as_ref().map(to_json).transpose()?,
        })
    }

    /// What a feed item needs; a missing update time is the publish time.
    pub fn into_meta(self) -> Result<ArticleMeta, StoreError> {
        let published = parse_time(&self.published)?;
        Ok(ArticleMeta {
            id: self.id,
            section: self.section,
            published,
            updated: match self.updated {
                Some(t) => parse_time(&t)?,
                None => published,
            },
            tags: parse_json(&self.tags)?,
            authors: parse_json(&self.authors)?,
            image: self.image.as_deref().map(parse_json).transpose()?,
        })
    }

    /// The whole article, as it was put.
    pub fn into_article(self, versions: BTreeMap<String, Version>) -> Result<Article, StoreError> {
        Ok(Article {
            published: parse_time(&self.published)?,
            updated: self.updated.as_deref().map(parse_time).transpose()?,
            tags: parse_json(&self.tags)?,
            authors: parse_json(&self.authors)?,
            image: self.image.as_deref().map(parse_json).transpose()?,
            id: self.id,
            section: self.section,
            versions,
        })
    }
}

impl VersionColumns {
    pub fn encode(version: &Version) -> VersionColumns {
        VersionColumns {
            translation: version.translation.as_str().to_owned(),
            url: version.url.as_ref().map(|u| u.as_str().to_owned()),
            updated: version.updated.map(|t| t.to_rfc3339()),
            title: version.title.clone(),
            summary: version.summary.clone(),
            format: version.format.as_str().to_owned(),
            body: version.body.clone(),
        }
    }

    /// Decodes the version; a column that does not decode is reported as
    /// corruption rather than skipped, so a bad row is seen, not silently dropped.
    pub fn into_version(self) -> Result<Version, StoreError> {
        Ok(Version {
            translation: parse_translation(&self.translation)?,
            url: parse_url(self.url.as_deref())?,
            updated: self.updated.as_deref().map(parse_time).transpose()?,
            title: self.title,
            summary: self.summary,
            format: BodyFormat::parse(&self.format).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown body format {:?}", self.format))
            })?,
            body: self.body,
        })
    }
}

/// A sibling version from its stored language, URL and translation columns.
pub(super) fn sibling(
    lang: String,
    url: Option<&str>,
    translation: &str,
) -> Result<Sibling, StoreError> {
    Ok(Sibling {
        lang,
        url: parse_url(url)?,
        translation: parse_translation(translation)?,
    })
}

/// The text of a column that may be long (an article body), checked as UTF-8
/// with SIMD: several times faster than the standard check on non-Latin text,
/// which was most of what reading a feed's rows spent decoding.
pub(super) fn long_text(bytes: &[u8]) -> Result<String, simdutf8::basic::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).map(str::to_owned)
}

/// Serializes the small JSON columns (tags, authors, image, change-log sets).
pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad JSON column: {e}")))
}

fn parse_time(s: &str) -> Result<DateTime<FixedOffset>, StoreError> {
    DateTime::parse_from_rfc3339(s).map_err(|e| StoreError::Corrupt(format!("bad time {s:?}: {e}")))
}

fn parse_url(s: Option<&str>) -> Result<Option<url::Url>, StoreError> {
    s.map(|s| url::Url::parse(s).map_err(|e| StoreError::Corrupt(format!("bad URL {s:?}: {e}"))))
        .transpose()
}

fn parse_translation(s: &str) -> Result<Translation, StoreError> {
    Translation::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown translation {s:?}")))
}
