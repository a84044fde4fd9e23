//! The one character rule for text that leaves text/ (XML 1.0 legality, terminal escapes, bidi controls, BOM), and escaping for HTML and XML.

use std::borrow::Cow;

/// Makes `s` fit to leave the text pipeline: the one rule for every title,
/// summary, plain text, HTML text and attribute value (borrows when there is
/// nothing to change — the common case must not allocate).
///
/// - Removes the characters XML 1.0 forbids, U+0000–U+0008, U+000E–U+001F,
///   U+FFFE and U+FFFF: one of them makes a strict parser reject the whole
///   feed, and neither the `rss` nor the `atom_syndication` writer removes them.
/// - Turns form feed and vertical tab (U+000C, U+000B), forbidden too, into a
///   space: they separate words, and must go on doing so wherever they stood.
/// - Removes ANSI terminal escape sequences (`ESC [ … final`, ECMA-48 CSI)
///   whole, which text pasted from a terminal brings: removing the ESC alone
///   would show readers a `[0m`.
/// - Removes the bidirectional embedding, override and isolate controls
///   U+202A–U+202E and U+2066–U+2069: one left open reverses the text after it
///   in a reader's list of items, and the W3C feed validator reports them.
///   The marks U+200E, U+200F and U+061C stay: Arabic and Hebrew text needs
///   them, and they reach no further than their neighbours.
/// - Removes U+FEFF, a byte order mark left at the start of pasted text (the
///   HTML parser drops a leading one, so text and HTML bodies would disagree)
///   or, inside text, a zero-width no-break space that U+2060 replaced.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    let Some(first) = first_removed(s) else {
        return Cow::Borrowed(s);
    };
    let (clean, rest) = s.split_at(first);
    let mut out = String::with_capacity(s.len());
    out.push_str(clean);
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                skip_csi_rest(&mut chars);
            }
            '\u{B}' | '\u{C}' => out.push(' '),
            c if is_removed(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Skips what follows `ESC [` in a CSI sequence: parameter and intermediate
/// bytes, then one final byte. A sequence cut short ends before the first
/// character that cannot belong to it, which is kept.
fn skip_csi_rest(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
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

/// Where the first character [`xml_safe`] changes starts, if any.
fn first_removed(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    loop {
        let at = from
            + bytes
                .get(from..)?
                .iter()
                .position(|&b| MAY_START_REMOVED[usize::from(b)])?;
        // Only ASCII bytes and lead bytes pass the table, so `at` starts a character.
        let c = s.get(at..).and_then(|rest| rest.chars().next())?;
        if is_removed(c) {
            return Some(at);
        }
        from = at + c.len_utf8();
    }
}

/// The bytes that may start a character [`xml_safe`] changes: the ASCII
/// controls it removes (ESC among them), and the lead bytes of U+202A–U+202E
/// and U+2066–U+2069 (E2) and of U+FEFF, U+FFFE and U+FFFF (EF). One load per byte,
/// whatever the script; only characters with those lead bytes are decoded.
static MAY_START_REMOVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = !matches!(b, 0x09 | 0x0A | 0x0D);
        b += 1;
    }
    table[0xE2] = true;
    table[0xEF] = true;
    table
};

/// Whether [`xml_safe`] removes `c` (or, for form feed and vertical tab,
/// replaces it with a space): the characters no cleaned string contains.
pub(super) fn is_removed(c: char) -> bool {
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
        assert_eq!(xml_safe("a\u{1b}[12;"), "a");
        assert_eq!(xml_safe("a\u{1b}[1\nb"), "a\nb");
        assert_eq!(xml_safe("a\u{1b}\u{1b}[0mb"), "ab");
    }

    #[test]
    fn form_feed_and_vertical_tab_become_spaces() {
        assert_eq!(xml_safe("satu\u{C}dua\u{B}tiga"), "satu dua tiga");
        assert_eq!(fold_whitespace("satu\u{C}dua\u{B}tiga"), "satu dua tiga");
    }

    #[test]
    fn bidi_controls_go_and_marks_stay() {
        let controls = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ];
        for c in controls {
            let s = format!("abc{c}def");
            assert_eq!(xml_safe(&s), "abcdef", "{c:?}");
            assert_eq!(fold_whitespace(&s), "abcdef", "{c:?}");
        }
        assert_eq!(xml_safe("\u{FEFF}Judul\u{FEFF}"), "Judul");
        let marked = "\u{200F}مرحبا\u{200E} abc \u{61C}١٢ \u{2029}\u{2065}\u{206A}";
        assert!(matches!(xml_safe(marked), Cow::Borrowed(_)));
    }

    #[test]
    fn every_removed_character_starts_with_a_byte_of_the_table() {
        let mut utf8 = [0; 4];
        for c in ('\0'..=char::MAX).filter(|&c| is_removed(c)) {
            let lead = c.encode_utf8(&mut utf8).as_bytes()[0];
            assert!(MAY_START_REMOVED[usize::from(lead)], "{c:?}");
        }
        for b in 0..0x80u8 {
            assert_eq!(
                MAY_START_REMOVED[usize::from(b)],
                is_removed(char::from(b)),
                "{b:#x}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn the_scan_finds_what_the_rule_removes(s in crate::text::strategies::nasty_text(24)) {
            proptest::prop_assert_eq!(first_removed(&s), s.find(is_removed));
            let safe = xml_safe(&s);
            proptest::prop_assert!(!safe.contains(is_removed), "{:?}", safe);
            proptest::prop_assert!(matches!(xml_safe(&safe), Cow::Borrowed(_)));
        }
    }
}
