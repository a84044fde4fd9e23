//! One feed's items from its store rows: titles, summaries, content, ids and
//! the links between an article's language versions.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::{Feed, FeedUrls, History, Item, LinkTo, SectionRef};
use crate::article::{Author, Image, Translation};
use crate::config::{Config, Language, Section};
use crate::store::FeedRow;
use crate::text::{self, Boilerplate};
use crate::urls::{self, Format, TagSlug};

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
            rss: urls::feed_url(config, code, section_slug, Format::Rss),
            atom: urls::feed_url(config, code, section_slug, Format::Atom),
            json: urls::feed_url(config, code, section_slug, Format::Json),
        },
        preview_url: Some(urls::preview_url(config, code, section_slug)),
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

/// Builds the feed of `lang`'s items tagged `tag` from its rows, already in
/// feed order: the language's feed, titled with the tag as the newest item
/// writes it (tags that share a slug share the feed).
pub fn build_tag(config: &Config, lang: &Language, tag: &TagSlug, rows: &[FeedRow]) -> Feed {
    let mut feed = build(config, lang, None, rows);
    let code = lang.code();
    let urls = feed_urls(config, code, tag);
    let name = feed
        .items
        .iter()
        .flat_map(|item| item.tags.iter().zip(&item.tag_feeds))
        .find(|(_, feeds)| feeds.as_ref() == Some(&urls))
        .map_or_else(|| tag.as_str().to_owned(), |(name, _)| name.clone());
    feed.id = format!("{}feed/{code}/tags/{}", tag_prefix(config), tag.encoded());
    feed.title = format!("{} — {name}", feed.title);
    feed.urls = urls;
    feed.preview_url = Some(urls::tag_preview_url(config, code, tag));
    feed
}

/// A tag feed's URL in each format.
fn feed_urls(config: &Config, lang: &str, tag: &TagSlug) -> FeedUrls {
    FeedUrls {
        rss: urls::tag_feed_url(config, lang, tag, Format::Rss),
        atom: urls::tag_feed_url(config, lang, tag, Format::Atom),
        json: urls::tag_feed_url(config, lang, tag, Format::Json),
    }
}

/// `tag:authority,date:` — every id Kabar mints starts with it.
pub(super) fn tag_prefix(config: &Config) -> String {
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

/// When a row's item last changed: its version's update, or the article's
/// (section, tags, image) when that is later.
pub fn updated_of(row: &FeedRow) -> DateTime<FixedOffset> {
    let version_updated = row.version.updated.unwrap_or(row.article.published);
    version_updated.max(row.article.updated)
}

fn build_item(config: &Config, lang: &Language, boilerplate: &Boilerplate, row: &FeedRow) -> Item {
    let article = &row.article;
    let version = &row.version;
    let code = lang.code();
    let zone = config.site.time_zone;
    let section = article.section.as_deref().and_then(|s| config.section(s));

    let link = page_url(config, code, version.url.as_ref(), article);
    // The body's relative URLs mean the page it is published on, not the feed.
    let base = url::Url::parse(&link).ok();
    let body = text::clean_body(
        &version.body,
        version.format.into(),
        boilerplate,
        base.as_ref(),
    );

    let title_length = config.feeds.title_length.get();
    // Titles are plain text: a `<` in a headline is a less-than sign, not a tag.
    // A stored title is cut like a derived one, so that no item's title is
    // longer than the configured length, whoever wrote it.
    let title = version
        .title
        .as_deref()
        .map(|t| text::summarize(t, title_length))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| text::derive_title(&body.text, title_length));
    let title = if title.is_empty() {
        text::summarize(&article.id, title_length)
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

    // Each tag's feed from the tag as stored, as the store's index has it.
    let tags: Vec<(String, Option<FeedUrls>)> = article
        .tags
        .iter()
        .map(|t| {
            let urls = TagSlug::of(t).map(|slug| feed_urls(config, code, &slug));
            (text::fold_whitespace(t), urls)
        })
        .filter(|(t, _)| !t.is_empty())
        .collect();

    let updated = updated_of(row);
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
        tags: tags.iter().map(|(name, _)| name.clone()).collect(),
        tag_feeds: tags.into_iter().map(|(_, urls)| urls).collect(),
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

/// The localized notice a translated item ends with, as `lang` words it for
/// this kind of translation.
pub fn notice(lang: &Language, translation: Translation) -> Option<&str> {
    match translation {
        Translation::Original => None,
        Translation::Human => lang.human_notice.as_deref(),
        _ => lang.machine_notice.as_deref(),
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
        let notice = notice(lang, translation);
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
