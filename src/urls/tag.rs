//! Tag slugs: the `{tag}` of `/{lang}/tags/{tag}/rss.xml`.
//!
//! The rule (README.md, "Tag feeds", says it for people):
//!
//! 1. The tag is normalized (NFKC) and lowercased.
//! 2. Each character then becomes: a Latin letter or digit, its ASCII base
//!    (`é` → `e`; `ß` → `ss`, `æ` → `ae`, `œ` → `oe`, `ø` → `o`, `đ`/`ð` → `d`,
//!    `ł` → `l`, `þ` → `th`, `ı` → `i`), with the accents after it dropped;
//!    any other letter, digit or combining mark, itself (so Chinese or
//!    Arabic stays UTF-8); anything else (space, punctuation, symbol), a
//!    separator.
//! 3. Runs of separators become one `-`; none leads or trails.
//! 4. The result is cut to [`TagSlug::MAX_BYTES`] bytes of UTF-8 on a
//!    character boundary (and a `-` left at the end dropped).
//!
//! In a URL the slug's non-ASCII bytes are percent-encoded (`%XX`, upper-case
//! hex); its ASCII is `a`–`z`, `0`–`9` and `-`, which need no escape. A tag
//! whose slug is empty (only punctuation) has no feed. Tags that give the same
//! slug share one feed.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// What a slug's URL form escapes: everything but ASCII letters, digits and `-`.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-');

/// A tag's slug, kept inline so that a [`Resource`](super::Resource) naming a
/// tag feed stays `Copy` and allocation-free.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagSlug {
    len: u8,
    bytes: [u8; TagSlug::MAX_BYTES],
}

impl TagSlug {
    /// The longest slug, in bytes of UTF-8.
    pub const MAX_BYTES: usize = 64;

    /// The slug of `tag`, or `None` when it has none (nothing but
    /// punctuation).
    pub fn of(tag: &str) -> Option<TagSlug> {
        let slug = slug(tag);
        // The rule is meant to be idempotent, so that a feed's URL routes
        // back to it; a tag for which it is not has no feed.
        if slug.is_empty() || self::slug(&slug) != slug {
            return None;
        }
        TagSlug::inline(&slug)
    }

    /// `text` when it is a slug already (as routing reads one from a path).
    pub fn parse(text: &str) -> Option<TagSlug> {
        (!text.is_empty() && slug(text) == text)
            .then(|| TagSlug::inline(text))
            .flatten()
    }

    fn inline(slug: &str) -> Option<TagSlug> {
        let len = u8::try_from(slug.len())
            .ok()
            .filter(|&l| usize::from(l) <= TagSlug::MAX_BYTES)?;
        let mut bytes = [0; TagSlug::MAX_BYTES];
        bytes[..slug.len()].copy_from_slice(slug.as_bytes());
        Some(TagSlug { len, bytes })
    }

    pub fn as_str(&self) -> &str {
        // Only ever made from a `&str` cut on a character boundary.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The slug as a URL path segment: non-ASCII bytes percent-encoded.
    pub fn encoded(&self) -> String {
        utf8_percent_encode(self.as_str(), ESCAPED).to_string()
    }
}

impl fmt::Debug for TagSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagSlug({:?})", self.as_str())
    }
}

impl fmt::Display for TagSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The slug text of `tag` (possibly empty), by the rule in the module's doc.
pub fn slug(tag: &str) -> String {
    let folded: String = tag.nfkc().flat_map(char::to_lowercase).nfkc().collect();
    let mut out = String::with_capacity(folded.len());
    let mut after_latin = false;
    let mut pending_dash = false;
    let push = |out: &mut String, s: &str, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push('-');
        }
        *pending = false;
        out.push_str(s);
    };
    for c in folded.chars() {
        if let Some(ascii) = latin_base(c) {
            push(&mut out, ascii, &mut pending_dash);
            after_latin = true;
        } else if is_combining_mark(c) {
            if !after_latin {
                push(&mut out, c.encode_utf8(&mut [0; 4]), &mut pending_dash);
            }
        } else if c.is_alphanumeric() {
            push(&mut out, c.encode_utf8(&mut [0; 4]), &mut pending_dash);
            after_latin = false;
        } else {
            pending_dash = true;
            after_latin = false;
        }
    }
    if out.len() > TagSlug::MAX_BYTES {
        let mut end = TagSlug::MAX_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The ASCII a Latin letter or digit is written as in a slug.
fn latin_base(c: char) -> Option<&'static str> {
    const ASCII: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
    let mut base = None;
    decompose_canonical(c, |d| {
        base.get_or_insert(d);
    });
    let base = base.unwrap_or(c).to_ascii_lowercase();
    if base.is_ascii_alphanumeric() {
        let at = ASCII.find(base)?;
        return ASCII.get(at..at + 1);
    }
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'đ' | 'ð' => "d",
        'ł' => "l",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ŋ' => "n",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_tags_become_ascii() {
        for (tag, want) in [
            ("Économie Verte", "economie-verte"),
            ("  COVID-19 / Santé!! ", "covid-19-sante"),
            ("Straße", "strasse"),
            ("İstanbul", "istanbul"),
            ("Kinh tế Đà Nẵng", "kinh-te-da-nang"),
            ("e\u{301}te\u{301}", "ete"),
            ("ＡＢＣ１２", "abc12"),
            ("a_b.c", "a-b-c"),
        ] {
            assert_eq!(slug(tag), want, "{tag:?}");
            assert_eq!(
                TagSlug::of(tag).map(|s| s.to_string()).as_deref(),
                Some(want)
            );
        }
    }

    #[test]
    fn other_scripts_stay_utf8_and_encode_in_urls() {
        let zh = TagSlug::of("经济 政策").expect("a slug");
        assert_eq!(zh.as_str(), "经济-政策");
        assert_eq!(zh.encoded(), "%E7%BB%8F%E6%B5%8E-%E6%94%BF%E7%AD%96");
        let ar = TagSlug::of("الاقتصاد الأخضر").expect("a slug");
        assert_eq!(ar.as_str(), "الاقتصاد-الأخضر");
        assert_eq!(slug("Οικονομία"), "οικονομία");
        assert_eq!(slug("ガソリン価格"), "ガソリン価格", "dakuten are kept");
    }

    #[test]
    fn empty_long_and_canonical() {
        assert_eq!(TagSlug::of("!!! ?"), None);
        let long = TagSlug::of(&"経".repeat(40)).expect("a slug");
        assert_eq!(
            long.as_str(),
            "経".repeat(21),
            "cut on a character boundary"
        );
        let dash = TagSlug::of(&format!("{} b", "a".repeat(63))).expect("a slug");
        assert_eq!(dash.as_str(), "a".repeat(63), "no dash left at the end");
        assert!(TagSlug::parse("economie-verte").is_some());
        for not_canonical in ["Economie", "economie--verte", "-x", "x-", "", "été"] {
            assert_eq!(TagSlug::parse(not_canonical), None, "{not_canonical:?}");
        }
        assert!(TagSlug::parse("经济-政策").is_some());
    }
}
