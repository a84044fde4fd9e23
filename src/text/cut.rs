//! Titles and summaries: the first sentence, and cuts at word boundaries that never split a grapheme.

use unicode_segmentation::{GraphemeCursor, UnicodeSegmentation};

use super::fold::{fold_whitespace, plain_paragraphs};

/// Marks a cut title or summary; one grapheme, counted within the length limit.
pub(super) const ELLIPSIS: &str = "…";

/// The first sentence of `text`, cut to at most `max` grapheme clusters at a word boundary (an ellipsis "…" appended when cut, counted within max).
///
/// Machine translations often arrive without a title; the opening sentence of a news
/// story is the closest thing to a headline it has.
pub fn derive_title(text: &str, max: usize) -> String {
    let Some(paragraph) = plain_paragraphs(text).next() else {
        return String::new();
    };
    let sentence = first_sentence(&paragraph);
    let has_content = sentence
        .chars()
        .any(|c| !c.is_whitespace() && !is_sentence_end(c) && !is_closer(c));
    cut(if has_content { sentence } else { &paragraph }, max)
}

/// `text` with whitespace folded, cut to at most `max` grapheme clusters at a word boundary, "…" appended when cut (counted within max).
///
/// Bots post summaries where length is limited in characters as people see them
/// (graphemes), so a cut must never leave half an emoji or half a word.
pub fn summarize(text: &str, max: usize) -> String {
    summarize_head(text, max).unwrap_or_else(|| cut(&fold_whitespace(text), max))
}

/// The summary of a long `text` from a folded head of it, so that a 3 KB
/// body is not folded whole for 280 graphemes of summary. The head ends
/// before a whitespace character, so it folds to the start of the folded
/// whole, which goes on with a space; when it holds more than `max + 1`
/// graphemes, the cut and the word boundaries before it are those of the
/// whole. `None` when no such head is found (short text, escapes, marks).
fn summarize_head(text: &str, max: usize) -> Option<String> {
    if max == 0 || text.as_bytes().contains(&0x1b) {
        return None;
    }
    let mut from = max.saturating_mul(4).saturating_add(64);
    if from >= text.len() {
        return None;
    }
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let at = from + text.get(from..)?.find(char::is_whitespace)?;
    cut_with_lookahead(&fold_whitespace(text.get(..at)?), max, 2)
}

/// Sentence terminators that need whitespace (or the end) after them.
fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '؟' | '…' | '۔') || is_cjk_sentence_end(c)
}

/// CJK terminators end a sentence at once: those scripts put no space after them.
fn is_cjk_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡')
}

/// Closing quotes and brackets that belong to the sentence they follow.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | '›' | ')' | ']' | '）' | '」' | '』' | '】' | '》' | '〉'
    )
}

/// The first sentence of an already folded paragraph, terminator and closing quotes included.
fn first_sentence(paragraph: &str) -> &str {
    let next_char = |at: usize| paragraph.get(at..).and_then(|rest| rest.chars().next());
    let mut from = 0;
    while let Some((i, c)) = paragraph
        .get(from..)
        .and_then(|rest| rest.char_indices().find(|&(_, c)| is_sentence_end(c)))
    {
        let i = from + i;
        // Marks and joiners after the terminator or a closer belong to its
        // grapheme: a title never ends inside one.
        let mut end = grapheme_end(paragraph, i + c.len_utf8());
        while let Some(closer) = next_char(end).filter(|&c| is_closer(c)) {
            end = grapheme_end(paragraph, end + closer.len_utf8());
        }
        // "3.5" and "15h35.m." are not ends: a Latin full stop needs a space after it.
        let at_break = next_char(end).is_none_or(char::is_whitespace);
        if is_cjk_sentence_end(c) || at_break {
            return paragraph.get(..end).unwrap_or(paragraph);
        }
        from = end;
    }
    paragraph
}

/// The first grapheme boundary of `s` at or after `at` (a character boundary).
fn grapheme_end(s: &str, at: usize) -> usize {
    let mut cursor = GraphemeCursor::new(at, s.len(), true);
    match cursor.is_boundary(s, 0) {
        Ok(true) => at,
        _ => cursor.next_boundary(s, 0).ok().flatten().unwrap_or(s.len()),
    }
}

/// Characters a cut text must not end on before its ellipsis: spaces, separators and openers.
fn is_trailing_junk(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';'
                | ':'
                | '.'
                | '-'
                | '‐'
                | '–'
                | '—'
                | '·'
                | '/'
                | '\\'
                | '|'
                | '&'
                | '、'
                | '，'
                | '；'
                | '：'
                | '。'
                | '،'
                | '؛'
                | '('
                | '['
                | '{'
                | '«'
                | '‹'
                | '“'
                | '„'
                | '（'
                | '「'
                | '『'
                | '【'
                | '《'
                | '〈'
        )
}

/// `text` itself when it has at most `max` graphemes; otherwise its longest prefix
/// ending at a word boundary that leaves room for the ellipsis, then the ellipsis.
fn cut(text: &str, max: usize) -> String {
    cut_with_lookahead(text, max, 0).unwrap_or_default()
}

/// [`cut`], or `None` when `text` has fewer than `max + lookahead` graphemes.
fn cut_with_lookahead(text: &str, max: usize, lookahead: usize) -> Option<String> {
    if max == 0 {
        return Some(String::new());
    }
    let budget = max - 1;
    let needed = max.saturating_add(lookahead);
    // Ends of the first `budget` graphemes; grapheme boundaries are the only safe cuts.
    let mut grapheme_ends = Vec::with_capacity(budget.min(512));
    let mut count = 0usize;
    for end in grapheme_ends_of(text) {
        count += 1;
        if count > needed {
            break;
        }
        if count <= budget {
            grapheme_ends.push(end);
        }
    }
    if lookahead > 0 && count < needed {
        return None;
    }
    if count <= max {
        return Some(text.to_owned());
    }
    let limit = grapheme_ends.last().copied().unwrap_or(0);

    // UAX #29 word boundaries: between Latin words, between CJK characters, never
    // inside an emoji sequence. A word boundary that is not also a grapheme boundary
    // (possible around prepended marks) is not taken.
    let word_cut = last_word_cut(text, limit, &grapheme_ends);
    let mut kept = word_cut.map_or("", |end| trim_trailing_junk(text.get(..end).unwrap_or("")));
    if kept.is_empty() {
        // One "word" longer than the room (a URL, an unbroken run): cut between graphemes.
        kept = trim_trailing_junk(text.get(..limit).unwrap_or(""));
    }
    let mut out = String::with_capacity(kept.len() + ELLIPSIS.len());
    out.push_str(kept);
    out.push_str(ELLIPSIS);
    Some(out)
}

/// Where each grapheme cluster of `text` ends, in order: the ends of
/// `text.grapheme_indices(true)`, found faster in ordinary text.
///
/// UAX #29 always breaks between two characters whose Grapheme_Cluster_Break
/// property is Other (rule GB999: no other rule names them on both sides), so
/// a character of [`is_plain_grapheme`] followed by another, or by the end, is
/// a cluster of its own. Anything else (marks, joiners, emoji, Hangul jamo,
/// controls) goes to the segmenter, one cluster at a time from the boundary
/// reached: no rule looks back across a boundary.
fn grapheme_ends_of(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = text.get(at..)?;
        let mut chars = rest.chars();
        let first = chars.next()?;
        let len = if is_plain_grapheme(first) && chars.next().is_none_or(is_plain_grapheme) {
            first.len_utf8()
        } else {
            rest.graphemes(true).next().map_or(rest.len(), str::len)
        };
        at += len;
        Some(at)
    })
}

/// Characters whose Grapheme_Cluster_Break is Other, in the scripts Kabar's
/// feeds are written in: printable ASCII, Latin letters, general punctuation,
/// Arabic letters, CJK punctuation, kana, ideographs and fullwidth forms. Checked
/// against the segmenter, character by character, in the tests.
fn is_plain_grapheme(c: char) -> bool {
    matches!(c,
        ' '..='~'
            | '\u{A0}'..='\u{AC}'
            | '\u{AE}'..='\u{2FF}'
            | '\u{621}'..='\u{64A}'
            | '\u{2010}'..='\u{2027}'
            | '\u{2030}'..='\u{205E}'
            | '\u{3000}'..='\u{3029}'
            | '\u{3041}'..='\u{3096}'
            | '\u{30A0}'..='\u{30FF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{FF01}'..='\u{FF60}'
    )
}

/// The last word boundary in `text` at or before `limit` that is also one of
/// `grapheme_ends`.
///
/// Segmenting words costs more than anything else in a summary, and only the
/// end matters: the scan starts at the last space or CJK ideograph at or
/// before `limit`, before which UAX #29 always breaks (neither joins anything
/// to what precedes it) and past which no rule looks back beyond it, so the
/// boundaries after it are those of the whole text. When none of them is a
/// grapheme boundary, the whole text is scanned.
fn last_word_cut(text: &str, limit: usize, grapheme_ends: &[usize]) -> Option<usize> {
    let is_cut = |start: usize| start > 0 && grapheme_ends.binary_search(&start).is_ok();
    let scan = |from: usize| {
        text.get(from..)?
            .split_word_bound_indices()
            .map(|(start, _)| from + start)
            .take_while(|&start| start <= limit)
            .filter(|&start| is_cut(start))
            .last()
    };
    let sure_start = text
        .get(..limit)
        .and_then(|head| head.rfind(|c| c == ' ' || ('\u{4E00}'..='\u{9FFF}').contains(&c)))
        .filter(|&at| at > 0);
    sure_start.and_then(scan).or_else(|| scan(0))
}

/// `s` without trailing graphemes made only of [`is_trailing_junk`] characters.
fn trim_trailing_junk(s: &str) -> &str {
    let mut end = s.len();
    while let Some((start, grapheme)) = s
        .get(..end)
        .and_then(|head| head.grapheme_indices(true).next_back())
    {
        if !grapheme.chars().all(is_trailing_junk) {
            break;
        }
        end = start;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_support::{SAMPLE_FR, assert_cut_of, graphemes};

    #[test]
    fn plain_graphemes_break_on_both_sides() {
        let plain = [
            '\u{20}', '~', '\u{A0}', '\u{2FF}', 'ا', 'ي', '—', '「', 'あ', 'ア', '中', '！',
        ];
        // Every character the shortcut takes, wherever it sits.
        for c in ('\0'..=char::MAX).filter(|&c| is_plain_grapheme(c)) {
            for p in plain {
                let s = format!("{p}{c}{p}{c}{c}");
                assert_eq!(graphemes(&s), 5, "{s:?} does not break around {c:?}");
            }
        }
        for c in [
            '\u{AD}', '\u{300}', '\u{64B}', '\u{670}', '\u{200D}', '\u{302A}', '\u{3099}',
        ] {
            assert!(!is_plain_grapheme(c), "{c:?}");
        }
    }

    #[test]
    fn grapheme_ends_match_the_segmenter() {
        let pieces = [
            "a",
            "é",
            "e\u{301}",
            "中",
            "ي",
            "يَ",
            "\u{600}ي",
            "😀",
            "👩\u{200D}💻",
            "🇮🇩",
            "🇫🇷🇯",
            "\r\n",
            "\r",
            "\n",
            " ",
            "\u{AD}",
            "한",
            "\u{1100}\u{1161}",
            "क्ष",
            "\u{200B}",
            "\u{FE0F}",
            "\u{1F}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}");
                    let expected: Vec<usize> = s
                        .grapheme_indices(true)
                        .map(|(start, g)| start + g.len())
                        .collect();
                    assert_eq!(grapheme_ends_of(&s).collect::<Vec<_>>(), expected, "{s:?}");
                }
            }
        }
        let sample: Vec<usize> = SAMPLE_FR
            .grapheme_indices(true)
            .map(|(start, g)| start + g.len())
            .collect();
        assert_eq!(grapheme_ends_of(SAMPLE_FR).collect::<Vec<_>>(), sample);
    }

    #[test]
    fn summaries_from_a_head_match_the_whole() {
        let texts = [
            SAMPLE_FR.to_owned(),
            "中国国家主席习近平周四与美国总统拜登通电话，双方讨论了乌克兰局势。\n\n".repeat(40),
            "مُحَمَّدٌ رَسُولُ اللَّهِ وَالَّذِينَ مَعَهُ \u{600}\u{600} ".repeat(60),
            "👨‍👩‍👧‍👦 🇮🇩🇯🇵 e\u{301}\u{301}\u{301}\u{301} ".repeat(80),
            "word\u{A0}\u{3000}\tword\u{0}\u{B} ".repeat(300),
        ];
        for text in &texts {
            for max in [1, 2, 3, 10, 50, 110, 280, 281, 1000] {
                assert_eq!(
                    summarize(text, max),
                    cut(&fold_whitespace(text), max),
                    "{max}: {text:?}"
                );
            }
        }
    }

    #[test]
    fn word_cuts_match_a_scan_of_the_whole_text() {
        let texts = [
            "Le président américain Joe Biden et le président russe Vladimir Poutine, l'un et l'autre.",
            "中国国家主席习近平周四与美国总统拜登通电话，双方讨论了乌克兰局势、伊朗核问题。",
            "日本の首相は月曜日に記者会見を開き、ウクライナ情勢について「深刻な懸念」を表明した。",
            "قال الرئيس الأمريكي جو بايدن إن المحادثات كانت مثمرة، وأضاف أن العمل سيستمر.",
            "👨‍👩‍👧‍👦 🇮🇩🇯🇵🇨🇳 👍🏽 e\u{301}e\u{301} a\u{600} b\u{600}c 3.14 x.y can't U.S.A. 中文 x",
        ];
        for text in texts {
            let ends: Vec<usize> = text
                .grapheme_indices(true)
                .map(|(i, g)| i + g.len())
                .collect();
            for &limit in &ends {
                let budget: Vec<usize> = ends.iter().copied().filter(|&e| e <= limit).collect();
                let whole = text
                    .split_word_bound_indices()
                    .map(|(start, _)| start)
                    .take_while(|&start| start <= limit)
                    .filter(|&start| start > 0 && budget.binary_search(&start).is_ok())
                    .last();
                assert_eq!(
                    last_word_cut(text, limit, &budget),
                    whole,
                    "{text:?} at {limit}"
                );
            }
        }
    }

    #[test]
    fn title_is_the_first_sentence() {
        let cases = [
            ("3.5 persen naik. Kedua kalimat.", "3.5 persen naik."),
            ("Harga naik 3.5 persen", "Harga naik 3.5 persen"),
            (
                "L’appel a commencé à 15h35.m. La Maison Blanche.",
                "L’appel a commencé à 15h35.m.",
            ),
            ("Benarkah? Ya.", "Benarkah?"),
            ("Awas!! Banjir.", "Awas!!"),
            ("Tunggu... lalu pergi.", "Tunggu..."),
            ("Il a dit… puis rien.", "Il a dit…"),
            ("\"Berhenti!\" katanya. Lalu", "\"Berhenti!\""),
            ("« C’est fini. » Puis", "« C’est fini."),
            ("هل انتهت المحادثات؟ لا.", "هل انتهت المحادثات؟"),
            ("双方讨论了局势。会谈将继续。", "双方讨论了局势。"),
            ("「会談は終わった。」と述べた。", "「会談は終わった。」"),
            ("本当ですか？はい。", "本当ですか？"),
            (
                "Paragraf pertama tanpa titik\n\nParagraf kedua. Lagi.",
                "Paragraf pertama tanpa titik",
            ),
            (
                "\n\n  Baris satu\nbaris dua. Tiga.",
                "Baris satu baris dua.",
            ),
            (". Hanya titik di depan", ". Hanya titik di depan"),
            ("…", "…"),
            // A mark after the terminator belongs to it.
            ("¼。\u{FE00}后来", "¼。\u{FE00}"),
            ("Awas!\u{301} Banjir.", "Awas!\u{301}"),
            ("\"Ya!\"\u{301} lalu", "\"Ya!\"\u{301}"),
            ("", ""),
            ("  \n\n ", ""),
        ];
        for (text, title) in cases {
            assert_eq!(derive_title(text, 110), title, "{text:?}");
        }
    }

    #[test]
    fn cuts_fall_between_latin_words() {
        assert_eq!(summarize("Hello, wonderful world", 10), "Hello…");
        assert_eq!(summarize("Hello, wonderful world", 17), "Hello, wonderful…");
        assert_eq!(
            summarize("Hello, wonderful world", 22),
            "Hello, wonderful world"
        );
        assert_eq!(summarize("  Hello \n\n world  ", 11), "Hello world");
        assert_eq!(summarize("Le porte-parole du Kremlin", 12), "Le porte…");
        assert_eq!(summarize("Ini: kata; kata", 6), "Ini…");
        // One word longer than the room: cut between graphemes.
        assert_eq!(
            summarize("Supercalifragilisticexpialidocious", 10),
            "Supercali…"
        );
        assert_eq!(
            summarize("« Supercalifragilisticexpialidocious »", 10),
            "« Superca…"
        );
        assert_eq!(summarize("anything longer", 1), "…");
        assert_eq!(summarize("anything longer", 0), "");
        assert_eq!(summarize("", 0), "");
        assert_eq!(summarize("x", 0), "");
        assert_eq!(summarize("fits", usize::MAX), "fits");
        assert_eq!(derive_title("fits", usize::MAX), "fits");
    }

    #[test]
    fn cuts_fall_between_cjk_characters() {
        let zh = "中国国家主席习近平周四与美国总统拜登通电话。双方讨论了乌克兰局势。";
        assert_eq!(summarize(zh, 10), "中国国家主席习近平…");
        assert_eq!(summarize(zh, 3), "中国…");
        assert_eq!(derive_title(zh, 10), "中国国家主席习近平…");
        assert_eq!(
            derive_title(zh, 110),
            "中国国家主席习近平周四与美国总统拜登通电话。"
        );
        // A trailing ideographic comma goes before the ellipsis.
        assert_eq!(summarize("双方同意，继续谈判。", 7), "双方同意，继…");
        assert_eq!(summarize("双方同意，继续谈判。", 6), "双方同意…");

        let ja = "日本の首相は月曜日に記者会見を開きました。";
        assert_eq!(summarize(ja, 8), "日本の首相は月…");
        assert_eq!(summarize(ja, 5), "日本の首…");
        // A katakana word stays whole when a boundary before it fits.
        assert_eq!(summarize("今日のニュースを読む", 6), "今日の…");
    }

    #[test]
    fn emoji_and_flags_are_never_split() {
        let text = "👨‍👩‍👧‍👦🇮🇩🇫🇷👍🏽 1️⃣ ok 🏳️‍🌈!";
        for max in 0..=graphemes(text) + 2 {
            let summary = summarize(text, max);
            assert_cut_of(&summary, text, max);
            let title = derive_title(text, max);
            assert_cut_of(&title, text, max);
        }
        assert_eq!(summarize(text, 2), "👨‍👩‍👧‍👦…");
        assert_eq!(summarize(text, 4), "👨‍👩‍👧‍👦🇮🇩🇫🇷…");
    }

    #[test]
    fn cuts_stay_within_max_and_are_prefixes() {
        let inputs = [
            "Le président américain Joe Biden et le président russe Vladimir Poutine se sont entretenus",
            "Presiden Joko Widodo meresmikan jalan tol baru di Jawa Tengah, Senin (3/1).",
            "https://kabar.example/dunia/2021/12/30/biden-putin-bicara-lewat-telepon?utm_source=feed",
            "中国国家主席习近平周四与美国总统拜登通电话，双方讨论了乌克兰局势、伊朗核问题。",
            "日本の首相は月曜日に記者会見を開き、ウクライナ情勢について「深刻な懸念」を表明した。",
            "قال الرئيس الأمريكي جو بايدن إن المحادثات كانت مثمرة، وأضاف أن العمل سيستمر.",
            "مُحَمَّدٌ رَسُولُ اللَّهِ وَالَّذِينَ مَعَهُ",
            "ภาษาไทยเป็นภาษาที่สวยงามมากและไม่มีช่องว่างระหว่างคำ",
            "👨‍👩‍👧‍👦👨‍👩‍👧‍👦 🇮🇩🇯🇵🇨🇳 👍🏽👍🏿 family",
            "e\u{301}e\u{301}e\u{301} cafe\u{301} na\u{308}ive",
            "한국어 텍스트도 잘라야 합니다",
            "a\u{600}b \u{600}c x",
            "—, ; : « ( — …",
            "x",
            "",
        ];
        for input in inputs {
            let folded = fold_whitespace(input);
            for max in 0..=graphemes(input) + 3 {
                let summary = summarize(input, max);
                assert_cut_of(&summary, &folded, max);
                let title = derive_title(input, max);
                assert_cut_of(&title, &folded, max);
                if max == 0 {
                    assert_eq!(summary, "");
                    assert_eq!(title, "");
                }
            }
            assert_eq!(summarize(input, usize::MAX), folded);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn shortcuts_match_the_segmenter(
            s in crate::text::strategies::nasty_text(40),
            max in 0..60usize,
        ) {
            let expected: Vec<usize> = s
                .grapheme_indices(true)
                .map(|(start, g)| start + g.len())
                .collect();
            proptest::prop_assert_eq!(grapheme_ends_of(&s).collect::<Vec<_>>(), expected);
            // The summary from a head of the text is the summary of all of it.
            proptest::prop_assert_eq!(summarize(&s, max), cut(&fold_whitespace(&s), max));
        }

        #[test]
        fn word_cuts_of_any_text_match_a_whole_scan(
            s in crate::text::strategies::nasty_text(16),
            at in 0..64usize,
        ) {
            let text = fold_whitespace(&s);
            let ends: Vec<usize> = text
                .grapheme_indices(true)
                .map(|(i, g)| i + g.len())
                .collect();
            let Some(&limit) = ends.get(at.min(ends.len().saturating_sub(1))) else {
                return Ok(());
            };
            let budget: Vec<usize> = ends.iter().copied().filter(|&e| e <= limit).collect();
            let whole = text
                .split_word_bound_indices()
                .map(|(start, _)| start)
                .take_while(|&start| start <= limit)
                .filter(|&start| start > 0 && budget.binary_search(&start).is_ok())
                .last();
            proptest::prop_assert_eq!(last_word_cut(&text, limit, &budget), whole);
        }
    }
}
