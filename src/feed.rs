//! The feed builder: turns store rows into the items of one feed.
//!
//! Everything a renderer needs is decided here, once, in one format-neutral
//! [`Feed`]: derived titles, clean summaries, sanitized content with the
//! translation notice, stable ids, links to the original and the siblings. Every
//! string that leaves this module is XML 1.0 legal, so the renderers only encode.

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::archive::{self, Month};
use crate::article::{Author, Image, Translation};
use crate::config::{Config, Direction, Language, Section};
use crate::store::{FeedQuery, FeedRow};
use crate::text::{self, Boilerplate};

/// The three feed formats Kabar serves for every language and section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The last path segment of the feed's route.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.file_name() == name)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// The media type without parameters, for `<link type=…>` and OPML.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// Short name for people and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }
}

/// One feed, ready to render in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// tag: URI of the feed (Atom `id`).
    pub id: String,
    pub lang: String,
    pub direction: Direction,
    pub title: String,
    pub description: String,
    /// The site's page this feed follows.
    pub home_url: String,
    /// The feed's own URL in each format, for self and alternate links.
    pub urls: FeedUrls,
    pub section: Option<SectionRef>,
    /// Scheme (RSS `domain`) of the category that says how an item was translated.
    pub translation_scheme: String,
    /// Links between the subscription feed and its monthly archives (RFC 5005).
    pub history: History,
    /// The newest `updated` among the items: the feed's Last-Modified.
    pub updated: DateTime<Tz>,
    pub items: Vec<Item>,
}

/// A feed's place in its language's history (RFC 5005).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The next older archive: from the subscription feed, the newest closed
    /// month; from an archive, the month before it that has items.
    pub prev_archive: Option<String>,
    /// Set on archive documents only: the subscription feed they belong to.
    pub current: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrls {
    pub rss: String,
    pub atom: String,
    pub json: String,
}

impl FeedUrls {
    pub fn get(&self, format: Format) -> &str {
        match format {
            Format::Rss => &self.rss,
            Format::Atom => &self.atom,
            Format::Json => &self.json,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRef {
    pub slug: String,
    /// The section's name in the feed's language.
    pub name: String,
}

/// One article version as a feed item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// tag: URI per article and language; never changes when the text does.
    pub id: String,
    /// tag: URI of the article, shared by all its language versions.
    pub article_uri: String,
    /// The CMS id, shared by all language versions.
    pub article_id: String,
    /// The item's language: the feed's.
    pub lang: String,
    pub title: String,
    /// The item's own page, in the feed's language: its only `alternate` link.
    pub link: String,
    /// Plain text, whitespace folded, cut to the configured length.
    pub summary: String,
    /// Sanitized HTML with `lang`/`dir`, the notice and link to the original.
    pub content_html: String,
    pub published: DateTime<Tz>,
    pub updated: DateTime<Tz>,
    pub authors: Vec<Author>,
    pub section: Option<SectionRef>,
    pub tags: Vec<String>,
    pub image: Option<Image>,
    pub translation: Translation,
    /// The original this item was translated from; `None` for originals.
    pub original: Option<LinkTo>,
    /// The article's other translations (not this one, not the original).
    pub related: Vec<LinkTo>,
}

/// A link to another language version of the same article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTo {
    pub lang: String,
    pub url: String,
}

/// The store query for one feed.
pub fn query(config: &Config, lang: &Language, section: Option<&Section>) -> FeedQuery {
    FeedQuery {
        lang: lang.code().to_owned(),
        section: section.map(|s| s.slug().to_owned()),
        limit: config.feeds.items.get(),
        published_ms: FeedQuery::ALL_TIME,
    }
}

/// Builds the feed of `lang` (and `section`) from its rows, already in feed order.
pub fn build(
    config: &Config,
    lang: &Language,
    section: Option<&Section>,
    rows: &[FeedRow],
) -> Feed {
    let code = lang.code();
    let section_slug = section.map(Section::slug);
    let boilerplate = Boilerplate::new(
        config
            .boilerplate
            .strip_labels
            .iter()
            .chain(&lang.strip_labels),
        config
            .boilerplate
            .strip_prefixes
            .iter()
            .chain(&lang.strip_prefixes),
    );
    let items: Vec<Item> = rows
        .iter()
        .map(|row| build_item(config, lang, &boilerplate, row))
        .collect();
    let updated = items
        .iter()
        .map(|item| item.updated)
        .max()
        .unwrap_or_else(|| epoch_of_tags(config));
    let (title, description) = match section {
        Some(s) => (
            format!(
                "{} — {}",
                text::xml_safe(&lang.title),
                text::xml_safe(s.name(code))
            ),
            text::xml_safe(&lang.description).into_owned(),
        ),
        None => (
            text::xml_safe(&lang.title).into_owned(),
            text::xml_safe(&lang.description).into_owned(),
        ),
    };
    let path = match section_slug {
        Some(s) => format!("{code}/{s}"),
        None => code.to_owned(),
    };
    Feed {
        id: format!("{}feed/{path}", tag_prefix(config)),
        lang: code.to_owned(),
        direction: lang.direction,
        title,
        description,
        home_url: lang
            .home_url
            .as_ref()
            .unwrap_or(&config.site.url)
            .to_string(),
        urls: FeedUrls {
            rss: config.feed_url(code, section_slug, Format::Rss),
            atom: config.feed_url(code, section_slug, Format::Atom),
            json: config.feed_url(code, section_slug, Format::Json),
        },
        section: section.map(|s| SectionRef {
            slug: s.slug().to_owned(),
            name: text::xml_safe(s.name(code)).into_owned(),
        }),
        translation_scheme: format!("{}translation", tag_prefix(config)),
        history: History::default(),
        updated,
        items,
    }
}

/// The archive of `lang` for `month`: the month's items, marked as an archive
/// and linked to the subscription feed and the archive before it.
pub fn build_archive(
    config: &Config,
    lang: &Language,
    month: Month,
    prev_archive: Option<Month>,
    rows: &[FeedRow],
) -> Feed {
    let mut feed = build(config, lang, None, rows);
    let code = lang.code();
    feed.id = format!("{}feed/{code}/archive/{month}", tag_prefix(config));
    feed.title = format!("{} — {month}", feed.title);
    let subscription = std::mem::replace(
        &mut feed.urls.atom,
        config.server.public_url.join(&archive::path(code, month)),
    );
    feed.history = History {
        prev_archive: prev_archive.map(|m| config.server.public_url.join(&archive::path(code, m))),
        current: Some(subscription),
    };
    feed
}

/// `tag:authority,date:` — every id Kabar mints starts with it.
fn tag_prefix(config: &Config) -> String {
    format!(
        "tag:{},{}:",
        config.site.tag_authority.0, config.site.tag_date.0
    )
}

/// The start of the tag date: the `updated` of a feed with no items, so an empty
/// feed still renders the same bytes every time.
fn epoch_of_tags(config: &Config) -> DateTime<Tz> {
    let date = &config.site.tag_date.0;
    let first = match date.len() {
        4 => format!("{date}-01-01"),
        7 => format!("{date}-01"),
        _ => date.clone(),
    };
    let naive = NaiveDate::parse_from_str(&first, "%Y-%m-%d")
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    config.site.time_zone.from_utc_datetime(&naive)
}

fn build_item(config: &Config, lang: &Language, boilerplate: &Boilerplate, row: &FeedRow) -> Item {
    let article = &row.article;
    let version = &row.version;
    let code = lang.code();
    let zone = config.site.time_zone;
    let section = article.section.as_deref().and_then(|s| config.section(s));

    let body = text::clean_body(&version.body, version.format.into(), boilerplate);

    let title_length = config.feeds.title_length.get();
    // Titles are plain text: a `<` in a headline is a less-than sign, not a tag.
    let title = version
        .title
        .as_deref()
        .map(text::fold_whitespace)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| text::derive_title(&body.text, title_length));
    let title = if title.is_empty() {
        article.id.clone()
    } else {
        title
    };
    let summary_source = version
        .summary
        .as_deref()
        .map(text::plain_text)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| body.text.clone());
    let summary = text::summarize(&summary_source, config.feeds.summary_length.get());

    let link = page_url(config, code, version.url.as_ref(), article);
    let original = (version.translation != Translation::Original).then(|| {
        let lang = config.original_language();
        let url = row
            .siblings
            .iter()
            .find(|s| s.lang == lang)
            .and_then(|s| s.url.as_ref());
        LinkTo {
            lang: lang.to_owned(),
            url: page_url(config, lang, url, article),
        }
    });
    let related = row
        .siblings
        .iter()
        .filter(|s| s.translation != Translation::Original && config.language(&s.lang).is_some())
        .map(|s| LinkTo {
            lang: s.lang.clone(),
            url: page_url(config, &s.lang, s.url.as_ref(), article),
        })
        .collect();

    let version_updated = version.updated.unwrap_or(article.published);
    let updated = version_updated.max(article.updated);
    let image = article.image.as_ref().map(clean_image);
    let content_html = content_html(
        lang,
        version.translation,
        &body.html,
        image.as_ref(),
        original.as_ref(),
    );

    Item {
        id: format!("{}{code}/{}", tag_prefix(config), article.id),
        article_uri: format!("{}article/{}", tag_prefix(config), article.id),
        article_id: article.id.clone(),
        lang: code.to_owned(),
        title,
        link,
        summary,
        content_html,
        published: article.published.with_timezone(&zone),
        updated: updated.with_timezone(&zone),
        authors: article.authors.iter().map(clean_author).collect(),
        section: section.map(|s| SectionRef {
            slug: s.slug().to_owned(),
            name: text::xml_safe(s.name(code)).into_owned(),
        }),
        tags: article
            .tags
            .iter()
            .map(|t| text::fold_whitespace(t))
            .filter(|t| !t.is_empty())
            .collect(),
        image,
        translation: version.translation,
        original,
        related,
    }
}

/// The page of `article` in `lang`: the stored URL, or the language's pattern.
fn page_url(
    config: &Config,
    lang: &str,
    stored: Option<&url::Url>,
    article: &crate::store::ArticleMeta,
) -> String {
    match (stored, config.language(lang)) {
        (Some(url), _) => text::xml_safe(url.as_str()).into_owned(),
        (None, Some(language)) => language
            .page_url
            .expand(&article.id, article.section.as_deref()),
        (None, None) => config.site.url.to_string(),
    }
}

fn clean_author(author: &Author) -> Author {
    Author {
        name: text::fold_whitespace(&author.name),
        email: author.email.as_deref().map(text::fold_whitespace),
        url: author.url.clone(),
    }
}

fn clean_image(image: &Image) -> Image {
    Image {
        url: image.url.clone(),
        mime_type: text::fold_whitespace(&image.mime_type),
        length: image.length,
        width: image.width,
        height: image.height,
        alt: image.alt.as_deref().map(text::fold_whitespace),
    }
}

/// The item's full HTML: the image, the body, and for translations the
/// localized notice with a visible link to the original.
fn content_html(
    lang: &Language,
    translation: Translation,
    body: &str,
    image: Option<&Image>,
    original: Option<&LinkTo>,
) -> String {
    // The body is most of it; the wrapper, image and notice fit in the rest.
    let mut html = String::with_capacity(body.len() + 1024);
    html.push_str(&format!(
        "<div lang=\"{}\" dir=\"{}\">\n",
        lang.code(),
        lang.direction.as_str()
    ));
    if let Some(image) = image {
        html.push_str(&format!(
            "<figure><img src=\"{}\" alt=\"{}\"",
            text::escape_html(image.url.as_str()),
            text::escape_html(image.alt.as_deref().unwrap_or(""))
        ));
        if let (Some(w), Some(h)) = (image.width, image.height) {
            html.push_str(&format!(" width=\"{w}\" height=\"{h}\""));
        }
        html.push_str("></figure>\n");
    }
    html.push_str(body);
    if let Some(original) = original {
        let notice = match translation {
            Translation::Human => lang.human_notice.as_deref(),
            _ => lang.machine_notice.as_deref(),
        };
        html.push_str(&format!(
            "\n<hr>\n<p class=\"kabar-translation-notice\" data-translation=\"{}\"><em>{}</em> <a href=\"{}\" hreflang=\"{}\">{}</a></p>",
            translation.as_str(),
            text::escape_html(notice.unwrap_or_default()),
            text::escape_html(&original.url),
            original.lang,
            text::escape_html(lang.original_link.as_deref().unwrap_or(&original.url)),
        ));
    }
    html.push_str("\n</div>");
    html
}
