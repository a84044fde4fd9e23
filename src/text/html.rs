//! HTML bodies: the sanitizer's configuration, and the top-level items of its output that boilerplate is judged by.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::CleanBody;
use super::boilerplate::Boilerplate;
use super::fold::fold_whitespace;
use super::items::{
    Item, ItemKind, contains_image, drops_item, text_paragraphs, top_level_items, unwrap_wrappers,
    write_tokens,
};
use super::links::{URL_SCHEMES, resolve_links};
use super::tokens::{Token, tokenize};
use super::xml::xml_safe;

/// Tags a news article needs; anything else is unwrapped (its text kept).
///
/// `div` is kept (beyond the article set) because editors build paragraphs out of
/// `<div>`s: unwrapping them would glue the last word of one paragraph to the first
/// word of the next.
const ALLOWED_TAGS: &[&str] = &[
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

/// Structural elements ammonia keeps so that their boundaries survive, renamed on
/// output to what the article set has: unwrapped, `<h1>Title</h1>Text` would read "TitleText".
/// `h1` belongs to the page, not to an article's body, so it becomes `h2`.
pub(super) const RENAMED_TAGS: &[(&str, &str)] = &[
    ("h1", "h2"),
    ("section", "div"),
    ("article", "div"),
    ("header", "div"),
    ("footer", "div"),
    ("aside", "div"),
    ("main", "div"),
    ("nav", "div"),
    ("address", "div"),
    ("center", "div"),
    ("details", "div"),
    ("summary", "div"),
    ("dl", "div"),
    ("dt", "div"),
    ("dd", "div"),
];

/// Attributes worth keeping: links, images and machine-readable dates, nothing that styles or scripts.
pub(super) const ALLOWED_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "title", "hreflang"]),
    ("img", &["src", "alt", "width", "height"]),
    ("time", &["datetime"]),
    ("abbr", &["title"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan"]),
];

/// Elements removed with everything inside them: code, and page furniture (share
/// buttons, icons, forms) whose text would otherwise leak into the article; and
/// `noscript`, whose markup the sanitizer reads as text, so readers would see
/// its tags written out.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "iframe", "noembed", "noframes", "noscript", "object", "svg",
    "button", "select", "textarea", "title",
];

/// Every link leaves the feed with no opener and no referrer.
const LINK_REL: &str = "noopener noreferrer";

/// Built once: the configuration is fixed and a `Builder` allocates a dozen sets.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tag_attributes: HashMap<&str, HashSet<&str>> = ALLOWED_ATTRIBUTES
        .iter()
        .map(|(tag, attributes)| (*tag, attributes.iter().copied().collect()))
        .collect();
    let mut builder = ammonia::Builder::default();
    builder
        .tags(
            ALLOWED_TAGS
                .iter()
                .chain(RENAMED_TAGS.iter().map(|(from, _)| from))
                .copied()
                .collect(),
        )
        .tag_attributes(tag_attributes)
        .generic_attributes(HashSet::new())
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
});

/// Plain text of a short HTML-or-text snippet (e.g. a stored summary or title that may contain markup): tags removed, entities decoded, whitespace folded, xml_safe.
///
/// Titles and summaries are shown as text by every reader; markup in them would be
/// displayed literally by some and interpreted by others.
pub fn plain_text(snippet: &str) -> String {
    if !snippet.contains(['<', '&']) {
        return fold_whitespace(snippet);
    }
    let sanitized = sanitize(snippet);
    let tokens = tokenize(&sanitized);
    text_paragraphs(&tokens).join(" ")
}

/// `html` made XML-legal, then through the sanitizer.
fn sanitize(html: &str) -> String {
    SANITIZER.clean(&xml_safe(html)).to_string()
}

/// An HTML body: sanitized, its URLs resolved against `base` (the page it is
/// published on), cut into top-level items, boilerplate dropped along with the
/// padding it leaves at either end.
pub(super) fn clean_html_body(
    body: &str,
    boilerplate: &Boilerplate,
    base: Option<&url::Url>,
) -> CleanBody {
    let sanitized = sanitize(body);
    let mut tokens = unwrap_wrappers(resolve_links(tokenize(&sanitized), base));
    let items = top_level_items(&tokens);
    // A block dropped from between two runs of text kept them apart; without
    // it they would run together ("x<p>Share:</p>y" is not "xy"), so a `<br>`
    // takes its place, which reads again as the same break.
    let br = tokens.len();
    tokens.push(Token::Start {
        name: "br".to_owned(),
        attributes: Vec::new(),
    });
    let mut kept: Vec<Item> = Vec::with_capacity(items.len());
    let mut dropped = false;
    for item in items {
        if item.kind != ItemKind::Break
            && drops_item(&tokens[item.range.clone()], item.kind, boilerplate)
        {
            dropped = true;
            continue;
        }
        if dropped
            && item.kind == ItemKind::Run
            && kept.last().is_some_and(|last| last.kind == ItemKind::Run)
        {
            kept.push(Item {
                kind: ItemKind::Break,
                range: br..br + 1,
            });
        }
        dropped = false;
        kept.push(item);
    }
    // Whatever boilerplate leaves behind at either end (the `<br>` after "Share:",
    // blank runs) would only push the article down or pad it.
    let is_padding = |item: &Item| {
        let tokens = &tokens[item.range.clone()];
        match item.kind {
            ItemKind::Break => true,
            ItemKind::Run => text_paragraphs(tokens).is_empty() && !contains_image(tokens),
            ItemKind::Block => false,
        }
    };
    let leading = kept.iter().take_while(|item| is_padding(item)).count();
    kept.drain(..leading);
    while kept.last().is_some_and(is_padding) {
        kept.pop();
    }

    let mut html = String::with_capacity(sanitized.len());
    let mut paragraphs = Vec::new();
    for item in &kept {
        let tokens = &tokens[item.range.clone()];
        write_tokens(tokens, &mut html);
        paragraphs.extend(text_paragraphs(tokens));
    }
    CleanBody {
        html,
        text: paragraphs.join("\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_support::DISCLAIMER;
    use crate::text::{Markup, clean_body};

    #[test]
    fn html_boilerplate_paragraphs_are_dropped() {
        let boilerplate = Boilerplate::new(["Share:", "Bagikan:"], [DISCLAIMER]);
        let body = "<p>Share:</p>\n<p>Berita <b>utama</b>.</p>\n<p>The English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI. So there may</p>";
        let clean = clean_body(body, Markup::Html, &boilerplate, None);
        assert_eq!(clean.html, "<p>Berita <b>utama</b>.</p>");
        assert_eq!(clean.text, "Berita utama.");

        // Top-level text runs count too, and the breaks they leave behind go with them.
        let body = "<strong>Bagikan:</strong><br><br>Isi berita.<br>Baris kedua.";
        let clean = clean_body(body, Markup::Html, &boilerplate, None);
        assert_eq!(clean.html, "Isi berita.<br>Baris kedua.");
        assert_eq!(clean.text, "Isi berita.\n\nBaris kedua.");

        // Wrappers holding only blocks are unwrapped, so their paragraphs are judged alone.
        let body =
            "<div class=\"article\">\n<section>\n<p>Share:</p>\n<p>Isi.</p>\n</section>\n</div>";
        let clean = clean_body(body, Markup::Html, &boilerplate, None);
        assert_eq!(clean.html, "<p>Isi.</p>");
        let body = "<div><p>Share:</p><p>Isi.</p>lepas</div><div><div>Dua</div></div>";
        let clean = clean_body(body, Markup::Html, &boilerplate, None);
        assert_eq!(
            clean.html,
            "<div><p>Share:</p><p>Isi.</p>lepas</div><div>Dua</div>"
        );

        // Inside a block, a paragraph is not top-level: the block is judged as a whole.
        let body = "<blockquote><p>Share:</p><p>Kutipan.</p></blockquote>";
        let clean = clean_body(body, Markup::Html, &boilerplate, None);
        assert_eq!(clean.text, "Share:\n\nKutipan.");
    }

    #[test]
    fn html_is_sanitized() {
        let body = concat!(
            "<p onclick=\"steal()\" style=\"color:red\" class=\"x\">Halo <script>alert(1)</script>dunia</p>",
            "<style>p { display: none }</style>",
            "<p><a href=\"javascript:alert(1)\" onmouseover=\"x()\">tautan</a> ",
            "<a href=\"https://kabar.example/a?b=1&c=2\" target=\"_blank\" title=\"t\">aman</a> ",
            "<a href=\"mailto:redaksi@kabar.example\">surat</a> ",
            "<a href=\"data:text/html,hi\">data</a></p>",
            "<img src=\"https://kabar.example/a.jpg\" alt=\"Foto\" onerror=\"x()\" loading=\"lazy\">",
            "<img src=\"javascript:x()\">",
            "<iframe src=\"https://evil.example/\">fallback</iframe>",
            "<button>Share on X</button>",
            "<noscript><img src=\"https://kabar.example/lazy.jpg\"></noscript>",
            "<time datetime=\"2021-12-30\">30 Desember</time>",
        );
        let clean = clean_body(body, Markup::Html, &Boilerplate::default(), None);
        assert_eq!(
            clean.html,
            concat!(
                "<p>Halo dunia</p>",
                "<p><a rel=\"noopener noreferrer\">tautan</a> ",
                "<a href=\"https://kabar.example/a?b=1&amp;c=2\" title=\"t\" rel=\"noopener noreferrer\">aman</a> ",
                "<a href=\"mailto:redaksi@kabar.example\" rel=\"noopener noreferrer\">surat</a> ",
                "<a rel=\"noopener noreferrer\">data</a></p>",
                "<img src=\"https://kabar.example/a.jpg\" alt=\"Foto\">",
                "<time datetime=\"2021-12-30\">30 Desember</time>",
            )
        );
        assert_eq!(
            clean.text,
            "Halo dunia\n\ntautan aman surat data\n\n30 Desember"
        );
        for gone in [
            "alert",
            "script",
            "onclick",
            "javascript",
            "style",
            "steal",
            "evil",
            "Share on X",
            "_blank",
        ] {
            assert!(
                !clean.html.contains(gone),
                "{gone} survived: {}",
                clean.html
            );
        }
    }

    #[test]
    fn html_structure_becomes_paragraphs() {
        let body = concat!(
            "<h1>Judul</h1>Teks lepas<div>A</div><div>B</div>",
            "<ul><li>satu</li><li>dua</li></ul>",
            "<table><tr><th>Kota</th><th>Suhu</th></tr><tr><td>Jakarta</td><td>31</td></tr></table>",
            "<p>Baris<br>baru &amp; &lt;tag&gt; &eacute; &#233; &#x4E2D; &quot;kutip&quot;</p>",
            "<section><p>Dalam</p></section><hr>",
            "<p>Tidak <b>ditutup <i>miring</p>lalu",
        );
        let clean = clean_body(body, Markup::Html, &Boilerplate::default(), None);
        assert_eq!(
            clean.text,
            "Judul\n\nTeks lepas\n\nA\n\nB\n\nsatu\n\ndua\n\nKota Suhu\n\nJakarta 31\n\nBaris\n\nbaru & <tag> é é 中 \"kutip\"\n\nDalam\n\nTidak ditutup miring\n\nlalu"
        );
        assert_eq!(
            clean.html,
            concat!(
                "<h2>Judul</h2>Teks lepas<div>A</div><div>B</div>",
                "<ul><li>satu</li><li>dua</li></ul>",
                "<table><tbody><tr><th>Kota</th><th>Suhu</th></tr><tr><td>Jakarta</td><td>31</td></tr></tbody></table>",
                "<p>Baris<br>baru &amp; &lt;tag&gt; é é 中 &quot;kutip&quot;</p>",
                "<p>Dalam</p><hr>",
                "<p>Tidak <b>ditutup <i>miring</i></b></p><b><i>lalu</i></b>",
            )
        );
    }

    #[test]
    fn markup_characters_survive_as_text() {
        let text_body = "Kode ]]> & <b> itu teks, 1 < 2 > 0 \"ya\" 'tidak'";
        let clean = clean_body(text_body, Markup::Text, &Boilerplate::default(), None);
        assert_eq!(clean.text, text_body);
        assert_eq!(
            clean.html,
            "<p>Kode ]]&gt; &amp; &lt;b&gt; itu teks, 1 &lt; 2 &gt; 0 &quot;ya&quot; &#39;tidak&#39;</p>"
        );

        for html_body in ["<p>AT&T ]]> 1 < 2</p>", "<p>AT&amp;T ]]&gt; 1 &lt; 2</p>"] {
            let clean = clean_body(html_body, Markup::Html, &Boilerplate::default(), None);
            assert_eq!(clean.text, "AT&T ]]> 1 < 2");
            assert_eq!(clean.html, "<p>AT&amp;T ]]&gt; 1 &lt; 2</p>");
        }
        // An attribute value cannot smuggle "]]>" or a quote out either.
        let clean = clean_body(
            "<a href=\"https://e.example/]]>\" title='a\"b]]>'>x</a>",
            Markup::Html,
            &Boilerplate::default(),
            None,
        );
        assert!(!clean.html.contains("]]>"), "{}", clean.html);
        assert!(
            clean.html.contains("title=\"a&quot;b]]&gt;\""),
            "{}",
            clean.html
        );
    }

    #[test]
    fn plain_text_strips_markup_from_snippets() {
        assert_eq!(
            plain_text("  Biden\u{A0}dan  Putin\n bicara "),
            "Biden dan Putin bicara"
        );
        assert_eq!(
            plain_text("Biden &amp; Putin <b>bicara</b><br>lagi"),
            "Biden & Putin bicara lagi"
        );
        assert_eq!(plain_text("x < y & z"), "x < y & z");
        assert_eq!(
            plain_text("<script>alert(1)</script><p>Judul</p><p>Sub</p>"),
            "Judul Sub"
        );
        assert_eq!(
            plain_text("&lt;b&gt; bukan tag &#x1F600;"),
            "<b> bukan tag 😀"
        );
        assert_eq!(plain_text(""), "");
        assert_eq!(plain_text("<p> </p>"), "");
    }

    #[test]
    fn cleaning_its_own_output_changes_nothing() {
        let boilerplate = Boilerplate::new(["Share:"], std::iter::empty::<&str>());
        let cases = [
            // A dropped block between two runs leaves a break, not glued words.
            ("x<p>Share:</p>y", "x<br>y"),
            ("<table><table>x</table>y</table>", "x<br>y"),
            // A line feed that starts a `<pre>` survives the next parser.
            ("<pre><img>\n0</pre>", "<pre>\n\n0</pre>"),
            ("<pre>\n\nx</pre>", "<pre>\n\nx</pre>"),
            ("<pre>\n  keep</pre>", "<pre>  keep</pre>"),
        ];
        for (body, html) in cases {
            let clean = clean_body(body, Markup::Html, &boilerplate, None);
            assert_eq!(clean.html, html, "{body:?}");
            let again = clean_body(&clean.html, Markup::Html, &boilerplate, None);
            assert_eq!(again, clean, "{body:?}");
        }
    }
}
