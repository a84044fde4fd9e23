//! Whitespace folding, and plain text split into folded paragraphs.

use super::xml::{is_removed, xml_safe};

/// Folds runs of whitespace (any Unicode whitespace incl. NBSP and ideographic space U+3000) to one ASCII space and trims; also applies xml_safe.
///
/// Form feed and vertical tab count as whitespace here, as [`xml_safe`] turns
/// them into spaces; the other characters it removes vanish without a trace.
pub fn fold_whitespace(s: &str) -> String {
    // An escape sequence runs over several characters: the rule removes it
    // first, and what is left has no ESC.
    if s.as_bytes().contains(&0x1b) {
        return fold_without_escapes(&xml_safe(s));
    }
    fold_without_escapes(s)
}

/// [`fold_whitespace`] of text without ESC, in one pass.
fn fold_without_escapes(s: &str) -> String {
    // Every feed item folds its whole body several times, so this copies runs
    // of ordinary characters whole and decodes only the bytes that may start a
    // special character: ASCII controls and space, and the lead bytes of the
    // non-ASCII whitespace (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000),
    // of the bidi controls (U+202A–U+202E, U+2066–U+2069) and of U+FEFF,
    // U+FFFE and U+FFFF.
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut space_pending = false;
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !MAY_START_SPECIAL[usize::from(bytes[i])] {
            i += 1;
            continue;
        }
        // One ASCII space between two ordinary characters is already folded:
        // it stays in the run, so text is copied by the sentence, not the word.
        if bytes[i] == b' '
            && i > run
            && bytes
                .get(i + 1)
                .is_some_and(|&next| !MAY_START_SPECIAL[usize::from(next)])
        {
            i += 1;
            continue;
        }
        let c = s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or(' ');
        let whitespace = c.is_whitespace();
        if !whitespace && !is_removed(c) {
            i += c.len_utf8();
            continue;
        }
        if run < i {
            if space_pending && !out.is_empty() {
                out.push(' ');
            }
            space_pending = false;
            out.push_str(s.get(run..i).unwrap_or(""));
        }
        space_pending |= whitespace;
        i += c.len_utf8();
        run = i;
    }
    if run < bytes.len() {
        if space_pending && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s.get(run..).unwrap_or(""));
    }
    out
}

/// The bytes [`fold_whitespace`] decodes: ASCII controls and space, and the
/// lead bytes of U+0085 and U+00A0 (C2), U+1680 (E1), U+2000–U+205F and the
/// bidi controls U+202A–U+202E and U+2066–U+2069 (E2), U+3000 (E3) and
/// U+FEFF, U+FFFE and U+FFFF (EF): every whitespace character and every one
/// [`xml_safe`] changes (a test checks both). One load per byte, whatever the
/// script.
static MAY_START_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b <= 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0xC2] = true;
    table[0xE1] = true;
    table[0xE2] = true;
    table[0xE3] = true;
    table[0xEF] = true;
    table
};

/// [`fold_whitespace`] the plain way, character by character: what the fast
/// loop must agree with.
#[cfg(test)]
fn fold_reference(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space_pending = false;
    for c in xml_safe(s).chars() {
        if c.is_whitespace() {
            space_pending = true;
        } else {
            if space_pending && !out.is_empty() {
                out.push(' ');
            }
            space_pending = false;
            out.push(c);
        }
    }
    out
}

/// Paragraphs of plain text: separated by blank lines (whitespace-only lines count),
/// lines inside one joined, whitespace folded, empty ones skipped. `\r\n` and `\r`
/// end lines too.
pub(super) fn plain_paragraphs(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = lines_any(text);
    std::iter::from_fn(move || {
        loop {
            let mut paragraph = String::new();
            let mut any_line = false;
            for line in lines.by_ref() {
                if line.chars().all(char::is_whitespace) {
                    if any_line {
                        break;
                    }
                    continue;
                }
                any_line = true;
                paragraph.push_str(line);
                // A line end, not a space: an escape sequence cut short at the
                // end of a line must end there, as it does in the whole text.
                paragraph.push('\n');
            }
            if !any_line {
                return None;
            }
            let folded = fold_whitespace(&paragraph);
            // A "paragraph" of control characters only folds to nothing.
            if !folded.is_empty() {
                return Some(folded);
            }
        }
    })
}

/// Lines ended by `\n`, `\r\n` or a lone `\r`.
fn lines_any(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        // Bytes, not characters: both ends of line are ASCII.
        match memchr::memchr2(b'\r', b'\n', s.as_bytes()) {
            None => {
                rest = None;
                Some(s)
            }
            Some(end) => {
                let (line, tail) = s.split_at(end);
                let tail = tail
                    .strip_prefix("\r\n")
                    .or_else(|| tail.get(1..))
                    .unwrap_or("");
                rest = Some(tail);
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Boilerplate, Markup, clean_body};

    #[test]
    fn fast_folding_matches_the_character_loop() {
        let pieces = [
            "a", "x y", "é", "中", "ي", "😀", " ", "  ", "\t", "\n", "\r\n", "\u{85}", "\u{A0}",
            "\u{1680}", "\u{2003}", "\u{200B}", "\u{2028}", "\u{202F}", "\u{205F}", "\u{3000}",
            "\u{3001}", "\u{0}", "\u{1}", "\u{B}", "\u{C}", "\u{1F}", "\u{7F}", "\u{FFFD}",
            "\u{FFFE}", "\u{FFFF}", "\u{E000}", "\u{202A}", "\u{202E}", "\u{2066}", "\u{2069}",
            "\u{200E}", "\u{200F}", "\u{61C}", "\u{FEFF}", "\x1b", "\x1b[", "\x1b[1;3", "m",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}");
                    assert_eq!(fold_whitespace(&s), fold_reference(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn the_table_knows_every_character_the_loop_must_see() {
        let mut utf8 = [0; 4];
        for c in ('\0'..=char::MAX).filter(|&c| c.is_whitespace() || is_removed(c)) {
            let lead = c.encode_utf8(&mut utf8).as_bytes()[0];
            assert!(MAY_START_SPECIAL[usize::from(lead)], "{c:?}");
        }
    }

    #[test]
    fn whitespace_folds_to_single_spaces() {
        assert_eq!(fold_whitespace(""), "");
        assert_eq!(fold_whitespace(" \t\n\u{A0}\u{3000} "), "");
        assert_eq!(
            fold_whitespace(
                "\u{3000}东京\u{3000}\u{3000}大阪 a\u{A0}\u{A0}b\r\n\tc\u{2009}d\u{202F}e "
            ),
            "东京 大阪 a b c d e"
        );
        // Zero-width space is not whitespace: it may mark a word break in Thai.
        assert_eq!(fold_whitespace("a\u{200B}b"), "a\u{200B}b");
    }

    #[test]
    fn text_paragraphs_split_on_blank_lines_only() {
        let body =
            "\r\n  \n Satu baris\r\ndua baris\rtiga \n \t \u{3000}\n\n\nParagraf\u{A0}kedua  \n";
        let clean = clean_body(body, Markup::Text, &Boilerplate::default(), None);
        assert_eq!(clean.text, "Satu baris dua baris tiga\n\nParagraf kedua");
        assert_eq!(
            clean.html,
            "<p>Satu baris dua baris tiga</p>\n<p>Paragraf kedua</p>"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn fast_folding_matches_the_reference(s in crate::text::strategies::nasty_text(24)) {
            let folded = fold_whitespace(&s);
            proptest::prop_assert_eq!(&folded, &fold_reference(&s));
            proptest::prop_assert_eq!(fold_whitespace(&folded), folded);
        }
    }
}
