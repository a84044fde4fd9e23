//! XML 1.0 legality (characters a feed must never carry, terminal escapes) and escaping for HTML and XML.

use std::borrow::Cow;

/// Removes characters XML 1.0 forbids: U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE, U+FFFF (borrows when there is nothing to remove — the common case must not allocate).
///
/// One such character makes a strict parser reject the whole feed, and neither the
/// `rss` nor the `atom_syndication` writer removes them.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    match s.find(is_xml_forbidden) {
        None => Cow::Borrowed(s),
        Some(first) => {
            let (clean, rest) = s.split_at(first);
            let mut out = String::with_capacity(s.len());
            out.push_str(clean);
            out.extend(without_terminal_escapes(rest).filter(|c| !is_xml_forbidden(*c)));
            Cow::Owned(out)
        }
    }
}

/// The characters of `s` without ANSI terminal escape sequences (`ESC [ … m`),
/// which text pasted from a terminal brings: removing the ESC alone would
/// leave a visible `[0m` behind.
pub(super) fn without_terminal_escapes(s: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = s.chars().peekable();
    std::iter::from_fn(move || {
        loop {
            let c = chars.next()?;
            if c != '\u{1b}' || chars.peek() != Some(&'[') {
                return Some(c);
            }
            chars.next();
            // Parameter and intermediate bytes, then one final byte (ECMA-48 CSI).
            while let Some(&p) = chars.peek() {
                if ('\u{20}'..='\u{3f}').contains(&p) {
                    chars.next();
                } else {
                    if ('\u{40}'..='\u{7e}').contains(&p) {
                        chars.next();
                    }
                    break;
                }
            }
        }
    })
}

/// Like [`xml_safe`], but form feed and vertical tab become spaces, so that words
/// they separated stay apart in HTML as they do in folded text.
pub(super) fn xml_legal(s: &str) -> Cow<'_, str> {
    if !s.contains(is_xml_forbidden) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\u{B}' | '\u{C}' => Some(' '),
                c if is_xml_forbidden(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// Whether XML 1.0 forbids `c` anywhere in a document (the characters [`xml_safe`] removes).
pub(super) fn is_xml_forbidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'
    )
}

/// Escapes text for HTML/XML content and attribute values (& < > " ').
///
/// One escape for both places keeps callers from picking the wrong one; `'` becomes
/// `&#39;`, which HTML 4 readers understand too (unlike `&apos;`).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    push_escaped_html(&mut out, s);
    out
}

/// [`escape_html`] onto the end of `out`.
pub(super) fn push_escaped_html(out: &mut String, s: &str) {
    let mut run = 0;
    // The five characters are ASCII, so byte offsets are character boundaries.
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(s.get(run..i).unwrap_or(""));
        out.push_str(escaped);
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or(""));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fold_whitespace;

    #[test]
    fn xml_safe_borrows_clean_input() {
        for clean in ["", "Kabar — 新闻 خبر 👨‍👩‍👧‍👦", "tab\tand\nnewlines\r\n"]
        {
            assert!(matches!(xml_safe(clean), Cow::Borrowed(s) if s == clean));
        }
        assert!(matches!(xml_safe("a\u{0}"), Cow::Owned(s) if s == "a"));
    }

    #[test]
    fn escape_html_escapes_the_five() {
        assert_eq!(
            escape_html("a & b < c > d \" e ' f — 中"),
            "a &amp; b &lt; c &gt; d &quot; e &#39; f — 中"
        );
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn terminal_escape_sequences_vanish_whole() {
        let pasted = "kalimat.\u{1b}[0m Data \u{1b}[1;31mmerah\u{1b}[0m.";
        assert_eq!(xml_safe(pasted), "kalimat. Data merah.");
        assert_eq!(fold_whitespace(pasted), "kalimat. Data merah.");
        assert_eq!(xml_safe("a\u{1b}b"), "ab");
        assert_eq!(xml_safe("a\u{1b}["), "a");
    }
}
