//! Generators of hostile input: text leaning toward what breaks feeds, URLs of
//! every kind, and HTML fragments built from a small grammar of allowed and
//! disallowed elements.

use proptest::prelude::*;

/// One piece of nasty text.
pub(crate) fn nasty_piece() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        4 => prop::sample::select(vec![
            "a", "Berita", "président", "l’Ukraine", "3.5", "15h35.m.", "U.S.A.", "AT&T",
            "مرحبا", "مُحَمَّدٌ", "الرئيس", "שָׁלוֹם", "עברית", "中国国家主席", "习近平",
            "ニュース", "日本の首相", "한국어", "\u{1100}\u{1161}", "ภาษาไทย", "क्ष", "e\u{301}",
            "\u{301}", "\u{64E}", "\u{600}١٢", "👨\u{200D}👩\u{200D}👧\u{200D}👦",
            "👩\u{200D}💻", "🏳\u{FE0F}\u{200D}🌈", "🇮🇩", "🇫🇷🇯", "👍🏽", "1\u{FE0F}\u{20E3}",
            "\u{200D}", "Partager:", "Share:",
        ])
        .prop_map(str::to_owned),
        4 => prop::sample::select(vec![
            " ", "  ", "\t", "\n", "\n\n", "\n \n", "\r\n", "\r", "\u{B}", "\u{C}", "\u{85}",
            "\u{A0}", "\u{1680}", "\u{2003}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{3000}",
            ". ", "。", "؟ ", "… ", "! ", "», ", "—", "«", "(", "&", "<", ">", "\"", "'",
            "]]>", "&amp;", "&lt;b&gt;", "&#27;", "&#x1B;[1m", "&#x202E;", "&#0;", "&#1;",
            "&#xFFFF;", "&nbsp;", "&eacute;", "&bogus;", "&#99999999;",
        ])
        .prop_map(str::to_owned),
        3 => prop::char::ranges(
            vec![
                '\u{0}'..='\u{1F}',
                '\u{7F}'..='\u{9F}',
                '\u{300}'..='\u{36F}',
                '\u{591}'..='\u{5C7}',
                '\u{64B}'..='\u{65F}',
                '\u{61C}'..='\u{61C}',
                '\u{200B}'..='\u{200F}',
                '\u{202A}'..='\u{202E}',
                '\u{2060}'..='\u{206F}',
                '\u{FDD0}'..='\u{FDEF}',
                '\u{FE00}'..='\u{FE0F}',
                '\u{FEFF}'..='\u{FEFF}',
                '\u{FFF9}'..='\u{FFFF}',
                '\u{1F1E6}'..='\u{1F1FF}',
                '\u{1F3FB}'..='\u{1F3FF}',
                '\u{1FFFE}'..='\u{1FFFF}',
                '\u{E0020}'..='\u{E007F}',
            ]
            .into(),
        )
        .prop_map(String::from),
        1 => (
            prop::collection::vec(prop::sample::select(vec!['0', '1', '3', '9', ';', '?', ' ']), 0..5),
            prop::char::range('\u{20}', '\u{7E}'),
        )
            .prop_map(|(params, last)| {
                format!("\u{1b}[{}{last}", params.into_iter().collect::<String>())
            }),
        1 => (1..400usize, prop::sample::select(vec!["x", "中", "ي", "😀", "e\u{301}", "🇮🇩"]))
            .prop_map(|(n, s)| s.repeat(n)),
    ]
    .boxed()
}

/// Text of up to `max` nasty pieces.
pub(crate) fn nasty_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(nasty_piece(), 0..max).prop_map(|pieces| pieces.concat())
}

/// A URL attribute value: relative, absolute, scripted, malformed.
pub(crate) fn url_value() -> impl Strategy<Value = String> {
    let url = prop::sample::select(vec![
        "x.jpg",
        "/p",
        "../a/b?c=1&amp;d=2",
        "#catatan",
        "",
        " ",
        "?q=1",
        "//cdn.example/f.png",
        "https://kabar.example/a.jpg",
        "HTTPS://Kabar.Example/A B",
        "http://e.example/é?x=ü#ß",
        "http://xn--bcher-kva.example/",
        "http://bücher.example/",
        "mailto:redaksi@kabar.example",
        "javascript:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/png;base64,AAAA",
        "vbscript:x",
        "ftp://f.example/",
        "http://[::1",
        "http://",
        "https://a.example:99999/",
        "C:\\foto.jpg",
        "\\\\server\\share",
        "http://a.example/\u{202E}gpj.exe",
        "/\u{1b}[1mx",
    ]);
    (url, prop::option::of(nasty_text(3)))
        .prop_map(|(url, tail)| format!("{url}{}", tail.unwrap_or_default()))
}

/// An attribute, sometimes one the sanitizer keeps, written with any quoting.
pub(crate) fn attribute() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "href", "src", "alt", "title", "width", "datetime", "hreflang", "colspan", "onclick",
        "style", "class", "rel", "target", "srcset", "cite", "SRC", "HREF",
    ]);
    let value = prop_oneof![url_value(), nasty_text(4)];
    let quote = prop::sample::select(vec!["\"", "'", ""]);
    (name, value, quote).prop_map(|(name, value, quote)| {
        let value = if quote.is_empty() {
            value.replace(|c: char| c.is_whitespace() || c == '>', "")
        } else {
            value.replace(quote, "")
        };
        format!(" {name}={quote}{value}{quote}")
    })
}

/// An arbitrary HTML fragment: nested allowed and disallowed elements with
/// attributes, text, entities, comments, stray and unclosed tags.
pub(crate) fn html_fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => nasty_text(6),
        1 => prop::sample::select(vec![
            "<!-- komentar -->", "<!--", "-->", "<br>", "<br/>", "<hr>", "</p>", "</div>", "<p",
            "<", "<a", "<img src=x.jpg>", "<img src=\"javascript:x()\">", "<img>",
            "<!DOCTYPE html>", "<![CDATA[x]]>", "<?xml version=\"1.0\"?>", "&", "<p>Share:</p>",
            "<script>alert(1)</script>", "<style>p{}</style>",
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let tag = prop::sample::select(vec![
            "p",
            "div",
            "span",
            "a",
            "b",
            "i",
            "strong",
            "em",
            "img",
            "br",
            "h1",
            "h2",
            "h6",
            "section",
            "article",
            "ul",
            "ol",
            "li",
            "table",
            "tr",
            "td",
            "th",
            "blockquote",
            "pre",
            "code",
            "figure",
            "figcaption",
            "time",
            "abbr",
            "q",
            "sub",
            "dl",
            "dt",
            "dd",
            "script",
            "style",
            "iframe",
            "svg",
            "math",
            "button",
            "form",
            "input",
            "textarea",
            "select",
            "option",
            "title",
            "template",
            "noscript",
            "font",
            "center",
            "P",
            "DIV",
        ]);
        (
            tag,
            prop::collection::vec(attribute(), 0..3),
            prop::collection::vec(inner, 0..4),
            prop::sample::select(vec![true, true, true, false]),
        )
            .prop_map(|(tag, attributes, children, closed)| {
                let mut html = format!("<{tag}{}>", attributes.concat());
                html.push_str(&children.concat());
                if closed {
                    html.push_str(&format!("</{tag}>"));
                }
                html
            })
    })
}

/// A grapheme count to cut to: mostly small, so that cuts happen.
pub(crate) fn max_len() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0..24usize, 1 => prop::sample::select(vec![110usize, 280])]
}
