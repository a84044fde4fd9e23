//! URLs in HTML bodies: every URL attribute the sanitizer keeps, made absolute against the item's page.
//!
//! A reader resolves a relative `<img src="x.jpg">` against the feed's URL, not the
//! article's page, so it shows a broken image or follows a wrong link, and the W3C
//! validator reports the body (ContainsRelRef). A feed item says where it lives (its
//! link), so the builder resolves here what a browser on that page would.

use url::Url;

use super::tokens::Token;

/// Schemes a reader may follow; `javascript:`, `data:` and the like lose their attribute.
pub(super) const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// The attributes of the sanitizer's allow-list whose values are URLs (element,
/// attribute): resolved against the page, or dropped. A test checks the
/// allow-list against the URL attributes of HTML.
pub(super) const URL_ATTRIBUTES: &[(&str, &str)] = &[("a", "href"), ("img", "src")];

/// `tokens` with every URL attribute absolute against `base`, or gone when it
/// cannot be resolved (a relative URL with no `base`, a malformed one) or
/// resolves to a scheme outside [`URL_SCHEMES`]; and without the images that are
/// left with no source, since they show nothing.
pub(super) fn resolve_links(tokens: Vec<Token>, base: Option<&Url>) -> Vec<Token> {
    tokens
        .into_iter()
        .filter_map(|token| match token {
            Token::Start { name, attributes } => {
                let attributes: Vec<(String, String)> = attributes
                    .into_iter()
                    .filter_map(|(attribute, value)| {
                        if !is_url_attribute(&name, &attribute) {
                            return Some((attribute, value));
                        }
                        let resolved = resolve(&name, &value, base)?;
                        Some((attribute, resolved))
                    })
                    .collect();
                let sourceless = name == "img" && !attributes.iter().any(|(a, _)| a == "src");
                (!sourceless).then_some(Token::Start { name, attributes })
            }
            other => Some(other),
        })
        .collect()
}

/// Whether `attribute` of `element` holds a URL.
fn is_url_attribute(element: &str, attribute: &str) -> bool {
    URL_ATTRIBUTES
        .iter()
        .any(|&(e, a)| e == element && a == attribute)
}

/// `value`, a URL attribute of `element`, as an absolute URL with an allowed
/// scheme, or `None`.
///
/// An empty image source would resolve to the page itself, which is no image;
/// an empty link does mean the page, as a browser takes it.
fn resolve(element: &str, value: &str, base: Option<&Url>) -> Option<String> {
    // What the URL parser trims from either end: C0 controls and space.
    if element == "img" && value.trim_matches(|c: char| c <= ' ').is_empty() {
        return None;
    }
    let url = match base {
        Some(base) => base.join(value),
        None => Url::parse(value),
    }
    .ok()?;
    URL_SCHEMES
        .contains(&url.scheme())
        .then(|| String::from(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Boilerplate, Markup, clean_body};

    fn base() -> Url {
        Url::parse("https://kabar.example/fr/monde/article-1?ref=feed#top").unwrap_or_else(|e| {
            panic!("a valid base: {e}");
        })
    }

    #[test]
    fn relative_urls_resolve_against_the_page() {
        let base = base();
        let body = concat!(
            "<p><img src=\"x.jpg\" alt=\"x\"><a href=\"/p\">akar</a> ",
            "<a href=\"../dunia/b?c=1&amp;d=2\">naik</a> <a href=\"#catatan\">catatan</a> ",
            "<a href=\"//cdn.example/f\">cdn</a> <a href=\"\">ini</a> ",
            "<a href=\"https://other.example/a b\">luar</a> ",
            "<a href=\"mailto:redaksi@kabar.example\">surat</a></p>",
        );
        let clean = clean_body(body, Markup::Html, &Boilerplate::default(), Some(&base));
        assert_eq!(
            clean.html,
            concat!(
                "<p><img src=\"https://kabar.example/fr/monde/x.jpg\" alt=\"x\">",
                "<a href=\"https://kabar.example/p\" rel=\"noopener noreferrer\">akar</a> ",
                "<a href=\"https://kabar.example/fr/dunia/b?c=1&amp;d=2\" rel=\"noopener noreferrer\">naik</a> ",
                "<a href=\"https://kabar.example/fr/monde/article-1?ref=feed#catatan\" rel=\"noopener noreferrer\">catatan</a> ",
                "<a href=\"https://cdn.example/f\" rel=\"noopener noreferrer\">cdn</a> ",
                "<a href=\"https://kabar.example/fr/monde/article-1?ref=feed\" rel=\"noopener noreferrer\">ini</a> ",
                "<a href=\"https://other.example/a%20b\" rel=\"noopener noreferrer\">luar</a> ",
                "<a href=\"mailto:redaksi@kabar.example\" rel=\"noopener noreferrer\">surat</a></p>",
            )
        );
    }

    #[test]
    fn unresolvable_and_unsafe_urls_lose_their_attribute() {
        let body = concat!(
            "<p><a href=\"/p\">akar</a><img src=\"x.jpg\"><img src=\"  \">",
            "<a href=\"http://[::1\">rusak</a><a href=\"java\tscript:alert(1)\">js</a>",
            "<img src=\"data:image/png;base64,AAAA\"><a href=\"ftp://f.example/\">ftp</a>",
            "<img src=\"https://kabar.example/a.jpg\"></p>",
        );
        let expected = concat!(
            "<p><a rel=\"noopener noreferrer\">akar</a>",
            "<a rel=\"noopener noreferrer\">rusak</a><a rel=\"noopener noreferrer\">js</a>",
            "<a rel=\"noopener noreferrer\">ftp</a>",
            "<img src=\"https://kabar.example/a.jpg\"></p>",
        );
        let clean = clean_body(body, Markup::Html, &Boilerplate::default(), None);
        assert_eq!(clean.html, expected);
        // With a page to resolve against, only the relative ones come back.
        let clean = clean_body(body, Markup::Html, &Boilerplate::default(), Some(&base()));
        assert!(clean.html.contains("href=\"https://kabar.example/p\""));
        assert!(
            clean
                .html
                .contains("src=\"https://kabar.example/fr/monde/x.jpg\"")
        );
        assert_eq!(clean.html.matches("<img").count(), 2, "{}", clean.html);
        assert!(!clean.html.contains("javascript") && !clean.html.contains("ftp:"));
    }

    #[test]
    fn every_url_attribute_of_the_allow_list_is_resolved() {
        // The attributes whose values HTML defines as URLs (or lists of them).
        const HTML_URL_ATTRIBUTES: &[&str] = &[
            "href",
            "src",
            "srcset",
            "cite",
            "action",
            "formaction",
            "poster",
            "longdesc",
            "background",
            "usemap",
            "data",
            "codebase",
            "classid",
            "archive",
            "profile",
            "manifest",
            "ping",
            "itemid",
            "itemtype",
            "xlink:href",
        ];
        for (element, attributes) in super::super::html::ALLOWED_ATTRIBUTES {
            for attribute in *attributes {
                if HTML_URL_ATTRIBUTES.contains(attribute) {
                    assert!(
                        is_url_attribute(element, attribute),
                        "{element} {attribute} is kept but not resolved"
                    );
                }
            }
        }
    }
}
