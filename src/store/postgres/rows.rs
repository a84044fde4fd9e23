//! The queries' column lists and the feed query, and the decoding of their
//! rows into article and version columns, feed rows and whole articles.

use std::collections::BTreeMap;

use tokio_postgres::Row;

use crate::article::{Article, Version};
use crate::store::columns::{self, ArticleColumns, VersionColumns};
use crate::store::{FeedRow, StoreError};

/// The article columns, in [`ArticleColumns`] order, from table alias `a`.
pub(super) const ARTICLE_COLUMNS: &str =
    "a.id, a.section, a.published, a.published_ms, a.updated, a.tags, a.authors, a.image";

/// The version columns, in [`VersionColumns`] order, from table alias `v`.
pub(super) const VERSION_COLUMNS: &str = "v.translation, v.url, v.updated AS version_updated, v.title, \
     v.summary, v.format, v.body";

/// The feed query: the newest `$2` versions in language `$1` published from
/// `$3` to before `$4` (and with the tag slug `$5`, and in section `$5` or,
/// with a tag, `$6`), each with its article and, aggregated in the same
/// statement (one round trip, one snapshot), its sibling versions ordered by
/// language. With a tag it reads the tag index, else the versions.
pub(super) fn feed_sql(by_section: bool, by_tag: bool) -> String {
    let section = match (by_section, by_tag) {
        (false, _) => "",
        (true, false) => "AND v.section = $5",
        (true, true) => "AND v.section = $6",
    };
    let (from, by) = if by_tag {
        (
            "article_tags t JOIN versions v ON v.article_id = t.article_id AND v.lang = t.lang
               JOIN articles a ON a.id = t.article_id",
            "t",
        )
    } else {
        ("versions v JOIN articles a ON a.id = v.article_id", "v")
    };
    let tag = if by_tag { "AND t.slug = $5" } else { "" };
    format!(
        "SELECT f.*, s.langs, s.urls, s.translations
         FROM (SELECT {ARTICLE_COLUMNS}, {VERSION_COLUMNS}
               FROM {from}
               WHERE {by}.lang = $1 {tag} {section}
                   AND {by}.published_ms >= $3 AND {by}.published_ms < $4
               ORDER BY {by}.published_ms DESC, {by}.article_id
               LIMIT $2) f
         CROSS JOIN LATERAL (
               SELECT array_agg(s.lang ORDER BY s.lang) AS langs,
                      array_agg(s.url ORDER BY s.lang) AS urls,
                      array_agg(s.translation ORDER BY s.lang) AS translations
               FROM versions s WHERE s.article_id = f.id AND s.lang <> $1) s
         ORDER BY f.published_ms DESC, f.id"
    )
}

/// Reads the [`ArticleColumns`] from column `at` on.
fn article_columns(row: &Row, at: usize) -> Result<ArticleColumns, StoreError> {
    Ok(ArticleColumns {
        id: row.try_get(at)?,
        section: row.try_get(at + 1)?,
        published: row.try_get(at + 2)?,
        published_ms: row.try_get(at + 3)?,
        updated: row.try_get(at + 4)?,
        tags: row.try_get(at + 5)?,
        authors: row.try_get(at + 6)?,
        image: row.try_get(at + 7)?,
    })
}

/// Reads the [`VersionColumns`] from column `at` on.
fn version_columns(row: &Row, at: usize) -> Result<VersionColumns, StoreError> {
    Ok(VersionColumns {
        translation: row.try_get(at)?,
        url: row.try_get(at + 1)?,
        updated: row.try_get(at + 2)?,
        title: row.try_get(at + 3)?,
        summary: row.try_get(at + 4)?,
        format: row.try_get(at + 5)?,
        body: row.try_get::<_, LongText>(at + 6)?.0,
    })
}

/// A TEXT column read with [`columns::long_text`].
struct LongText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for LongText {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(LongText(columns::long_text(raw)?))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

/// One row of [`feed_sql`].
pub(super) fn feed_row(row: &Row) -> Result<FeedRow, StoreError> {
    let langs: Vec<String> = row.try_get::<_, Option<_>>(15)?.unwrap_or_default();
    let urls: Vec<Option<String>> = row.try_get::<_, Option<_>>(16)?.unwrap_or_default();
    let translations: Vec<String> = row.try_get::<_, Option<_>>(17)?.unwrap_or_default();
    if urls.len() != langs.len() || translations.len() != langs.len() {
        return Err(StoreError::Corrupt(
            "sibling columns of unequal length".to_owned(),
        ));
    }
    let siblings = langs
        .into_iter()
        .zip(urls)
        .zip(translations)
        .map(|((lang, url), translation)| columns::sibling(lang, url.as_deref(), &translation))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FeedRow {
        article: article_columns(row, 0)?.into_meta()?,
        version: version_columns(row, 8)?.into_version()?,
        siblings,
    })
}

/// Whole articles from rows of article columns, `lang`, then version columns
/// (a LEFT JOIN: `lang` is null for an article without versions), ordered by
/// article id then language.
pub(super) fn articles_from_rows(rows: &[Row]) -> Result<Vec<Article>, StoreError> {
    let mut articles = Vec::new();
    let mut current: Option<(ArticleColumns, BTreeMap<String, Version>)> = None;
    for row in rows {
        let id: &str = row.try_get(0)?;
        if current.as_ref().is_none_or(|(a, _)| a.id != id) {
            if let Some((columns, versions)) = current.take() {
                articles.push(columns.into_article(versions)?);
            }
            current = Some((article_columns(row, 0)?, BTreeMap::new()));
        }
        if let (Some(lang), Some((_, versions))) =
            (row.try_get::<_, Option<String>>(8)?, current.as_mut())
        {
            versions.insert(lang, version_columns(row, 9)?.into_version()?);
        }
    }
    if let Some((columns, versions)) = current {
        articles.push(columns.into_article(versions)?);
    }
    Ok(articles)
}
