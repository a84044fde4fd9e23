//! Test input for the property tests of text/'s private parts: arbitrary Unicode,
//! biased toward the characters each fast path treats specially.
//!
//! tests/properties.rs has the fuller generators (HTML, whole feeds) for the
//! public functions; these stay small, for checks of a fast path against its plain
//! reference.

use proptest::prelude::*;

/// One nasty piece of text: a control, mark, bidi control, noncharacter,
/// whitespace, emoji sequence, escape sequence, long word or word of some script.
pub(super) fn nasty_piece() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => prop::sample::select(vec![
            "a", "Berita", "président", "l’Ukraine", "3.5", "15h35.m.", "x.y", "مرحبا",
            "مُحَمَّدٌ", "שָׁלוֹם", "中国国家主席", "ニュース", "한국어", "ภาษาไทย", "क्ष",
            "e\u{301}", "\u{600}١٢", "👨\u{200D}👩\u{200D}👧\u{200D}👦", "👩\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈", "🇮🇩🇫🇷", "🇯", "👍🏽", "1\u{FE0F}\u{20E3}",
        ])
        .prop_map(str::to_owned),
        3 => prop::sample::select(vec![
            " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\u{B}", "\u{C}", "\u{85}", "\u{A0}",
            "\u{1680}", "\u{2003}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{3000}", ". ", "。",
            "؟ ", "… ", "! ", "», ", "—",
        ])
        .prop_map(str::to_owned),
        3 => prop::char::ranges(
            vec![
                '\u{0}'..='\u{1F}',
                '\u{7F}'..='\u{9F}',
                '\u{300}'..='\u{36F}',
                '\u{64B}'..='\u{65F}',
                '\u{200B}'..='\u{200F}',
                '\u{202A}'..='\u{202E}',
                '\u{2060}'..='\u{206F}',
                '\u{61C}'..='\u{61C}',
                '\u{FDD0}'..='\u{FDEF}',
                '\u{FE00}'..='\u{FE0F}',
                '\u{FFF9}'..='\u{FFFF}',
                '\u{1F1E6}'..='\u{1F1FF}',
                '\u{1F3FB}'..='\u{1F3FF}',
                '\u{E0020}'..='\u{E007F}',
            ]
            .into(),
        )
        .prop_map(String::from),
        1 => ("[0-9;?]{0,4}", prop::char::range('\u{20}', '\u{7E}'))
            .prop_map(|(params, last)| format!("\u{1b}[{params}{last}")),
        1 => (1..300usize, prop::sample::select(vec!['x', '中', 'ي', '😀']))
            .prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
    .boxed()
}

/// Text made of up to `max` nasty pieces.
pub(super) fn nasty_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_piece(), 0..max).prop_map(|pieces| pieces.concat())
}
