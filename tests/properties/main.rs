//! Property tests: the text pipeline and the whole feed builder on arbitrary,
//! hostile input, so that every feed stays clean for every validator whatever the
//! store holds.
//!
//! The generators lean toward what breaks feeds: C0 and C1 controls, NUL, lone
//! combining marks, bidi controls, noncharacters, emoji ZWJ sequences and flags,
//! right-to-left and CJK text, long unbroken words, terminal escape sequences, and
//! HTML that is nested, unclosed, scripted or commented, with relative, absolute
//! and `javascript:` URLs (strategies.rs). A failure is shrunk to a small case
//! and its seed kept in regressions.txt beside this file, so that every later
//! run tries it first. builder.rs runs the whole feed builder and renderers.

mod builder;
mod strategies;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use kabar::text::{self, Boilerplate, Markup};
use strategies::{html_fragment, max_len, nasty_text};

/// `cases` cases per property, and the seeds of past failures kept in one
/// file that is committed, so that every run and every machine tries them.
fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties/regressions.txt",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

/// Characters no string that leaves the text pipeline may hold: what XML 1.0
/// forbids, ESC (whose sequences go whole), the bidi embedding, override
/// and isolate controls, and U+FEFF. Written out here, apart from the code it
/// checks.
pub(crate) fn is_unclean(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{B}'
            | '\u{C}'
            | '\u{E}'..='\u{1F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    )
}

/// Fails the case when `s` (what `what` made) holds an unclean character.
pub(crate) fn assert_clean(what: &str, s: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !s.contains(is_unclean),
        "{what} keeps {:?} in {s:?}",
        s.chars().find(|&c| is_unclean(c))
    );
    Ok(())
}

/// The page every generated body is published on.
fn page() -> Url {
    Url::parse("https://kabar.example/fr/monde/article-1").expect("a valid URL")
}

/// Checks that `cut` is within `max` graphemes and is `whole` itself, or whole
/// graphemes from the start of `whole`, then "…" when cut.
fn assert_cut_of(cut: &str, whole: &str, max: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        cut.graphemes(true).count() <= max,
        "{cut:?} is longer than {max} graphemes"
    );
    if cut == whole {
        return Ok(());
    }
    let kept = cut.strip_suffix('…').unwrap_or(cut);
    prop_assert!(
        whole.starts_with(kept),
        "{cut:?} (max {max}) is not a prefix of {whole:?}"
    );
    let at_boundary = kept.len() == whole.len()
        || whole
            .grapheme_indices(true)
            .any(|(start, _)| start == kept.len());
    prop_assert!(
        at_boundary,
        "{cut:?} (max {max}) splits a grapheme of {whole:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn text_cleaning_leaves_nothing_unclean(s in nasty_text(24)) {
        assert_clean("xml_safe", &text::xml_safe(&s))?;
        assert_clean("fold_whitespace", &text::fold_whitespace(&s))?;
        assert_clean("plain_text", &text::plain_text(&s))?;
        for markup in [Markup::Text, Markup::Html] {
            let clean = text::clean_body(&s, markup, &Boilerplate::default(), Some(&page()));
            assert_clean("clean_body html", &clean.html)?;
            assert_clean("clean_body text", &clean.text)?;
        }
    }

    #[test]
    fn html_cleaning_leaves_nothing_unclean(html in html_fragment()) {
        let boilerplate = Boilerplate::new(["Share:"], ["Partager"]);
        for base in [None, Some(page())] {
            let clean = text::clean_body(&html, Markup::Html, &boilerplate, base.as_ref());
            assert_clean("clean_body html", &clean.html)?;
            assert_clean("clean_body text", &clean.text)?;
            // Only the article's elements and attributes are left, and text
            // is escaped: every `<` starts one of them.
            for (name, attributes) in tags(&clean.html) {
                prop_assert!(OUTPUT_TAGS.contains(&name), "<{name}> in {:?}", clean.html);
                for attribute in attributes {
                    prop_assert!(
                        OUTPUT_ATTRIBUTES.contains(&attribute),
                        "{attribute} on <{name}> in {:?}", clean.html
                    );
                }
            }
            // Every URL left is absolute, with a scheme a reader may follow.
            for (attribute, value) in url_attributes(&clean.html) {
                let url = Url::parse(&value);
                prop_assert!(
                    url.as_ref().is_ok_and(|u| ["http", "https", "mailto"].contains(&u.scheme())),
                    "{attribute}={value:?} in {:?}", clean.html
                );
            }
        }
        assert_clean("plain_text", &text::plain_text(&html))?;
    }

    #[test]
    fn titles_and_summaries_fit_and_split_no_grapheme(s in nasty_text(32), max in max_len()) {
        let folded = text::fold_whitespace(&s);
        let summary = text::summarize(&s, max);
        assert_cut_of(&summary, &folded, max)?;
        prop_assert!(max == 0 || summary.ends_with('…') || summary == folded, "{summary:?}");
        let title = text::derive_title(&s, max);
        assert_cut_of(&title, &folded, max)?;
        assert_clean("summarize", &summary)?;
        assert_clean("derive_title", &title)?;
    }

    #[test]
    fn text_cleaning_is_idempotent(s in nasty_text(24)) {
        let folded = text::fold_whitespace(&s);
        prop_assert_eq!(text::fold_whitespace(&folded), folded.clone());
        let safe = text::xml_safe(&s);
        prop_assert_eq!(text::xml_safe(&safe), safe.clone());
        // plain_text reads markup, so its own output, where `<` and `&` are
        // plain characters, reads back the same once escaped.
        let plain = text::plain_text(&s);
        prop_assert_eq!(text::plain_text(&text::escape_html(&plain)), plain.clone());
        if !plain.contains(['<', '&']) {
            prop_assert_eq!(text::plain_text(&plain), plain.clone());
        }
        let clean = text::clean_body(&s, Markup::Text, &Boilerplate::default(), None);
        let again = text::clean_body(&clean.text, Markup::Text, &Boilerplate::default(), None);
        prop_assert_eq!(again, clean);
    }

    #[test]
    fn clean_html_is_its_own_cleaning(html in html_fragment()) {
        let boilerplate = Boilerplate::new(["Share:"], ["Partager"]);
        for base in [None, Some(page())] {
            let clean = text::clean_body(&html, Markup::Html, &boilerplate, base.as_ref());
            let again = text::clean_body(&clean.html, Markup::Html, &boilerplate, base.as_ref());
            prop_assert_eq!(&again.html, &clean.html, "from {:?}", html);
            prop_assert_eq!(&again.text, &clean.text, "from {:?}", html);
        }
    }
}

/// The elements a cleaned body may hold.
const OUTPUT_TAGS: &[&str] = &[
    "p",
    "div",
    "br",
    "a",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "blockquote",
    "q",
    "cite",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "figcaption",
    "img",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "span",
    "abbr",
    "time",
];

/// The attributes a cleaned body may hold.
const OUTPUT_ATTRIBUTES: &[&str] = &[
    "href", "title", "hreflang", "rel", "src", "alt", "width", "height", "datetime", "colspan",
    "rowspan",
];

/// The tags of sanitized HTML, start and end: each name, and its attributes'
/// names (values are double-quoted and escaped, so a quote always closes one).
fn tags(html: &str) -> Vec<(&str, Vec<&str>)> {
    html.split('<')
        .skip(1)
        .map(|tag| {
            let inside = tag.split('>').next().unwrap_or_default();
            let unquoted: Vec<&str> = inside.split('"').step_by(2).collect();
            let mut words = unquoted
                .iter()
                .flat_map(|part| part.split_whitespace())
                .map(|word| word.trim_end_matches('='));
            let name = words.next().unwrap_or_default().trim_start_matches('/');
            (name, words.collect())
        })
        .collect()
}

/// The values of `href` and `src` attributes in sanitized HTML (double-quoted,
/// escaped as the pipeline writes them).
fn url_attributes(html: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for attribute in ["href", "src"] {
        let opening = format!(" {attribute}=\"");
        for (at, _) in html.match_indices(&opening) {
            let rest = &html[at + opening.len()..];
            let value = rest.split('"').next().unwrap_or_default();
            found.push((
                attribute,
                value.replace("&amp;", "&").replace("&quot;", "\""),
            ));
        }
    }
    found
}
