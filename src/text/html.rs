//! HTML bodies: the sanitizer's configuration, and the top-level items of its output that boilerplate is judged by.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use super::CleanBody;
use super::boilerplate::Boilerplate;
use super::fold::fold_whitespace;
use super::links::{URL_SCHEMES, resolve_links};
use super::tokens::{Token, is_block, is_void, tokenize};
use super::xml::{push_escaped_html, xml_safe};

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
/// buttons, icons, forms) whose text would otherwise leak into the article.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "iframe", "noembed", "noframes", "object", "svg", "button",
    "select", "textarea", "title",
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
    let tokens = unwrap_wrappers(resolve_links(tokenize(&sanitized), base));
    let mut kept: Vec<Item> = top_level_items(&tokens)
        .into_iter()
        .filter(|item| {
            item.kind == ItemKind::Break
                || !drops_item(&tokens[item.range.clone()], item.kind, boilerplate)
        })
        .collect();
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    /// A block element with everything inside it.
    Block,
    /// A top-level `<br>`.
    Break,
    /// Consecutive top-level text and inline elements.
    Run,
}

/// A top-level node (or run of nodes) of the body: the unit boilerplate is judged by.
#[derive(Debug, Clone)]
struct Item {
    kind: ItemKind,
    range: Range<usize>,
}

/// The body's top-level blocks, breaks and text runs, in order.
fn top_level_items(tokens: &[Token]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (kind, end) = match &tokens[i] {
            Token::Start { name, .. } if name == "br" => (ItemKind::Break, i + 1),
            Token::Start { name, .. } if is_void(name) => (
                if is_block(name) {
                    ItemKind::Block
                } else {
                    ItemKind::Run
                },
                i + 1,
            ),
            Token::Start { name, .. } => {
                let kind = if is_block(name) {
                    ItemKind::Block
                } else {
                    ItemKind::Run
                };
                (kind, subtree_end(tokens, i))
            }
            Token::Text(_) => (ItemKind::Run, i + 1),
            // A stray end tag at the top level closes nothing: leave it out.
            Token::End { .. } => {
                i += 1;
                continue;
            }
        };
        match items.last_mut() {
            Some(last)
                if kind == ItemKind::Run && last.kind == ItemKind::Run && last.range.end == i =>
            {
                last.range.end = end;
            }
            _ => items.push(Item {
                kind,
                range: i..end,
            }),
        }
        i = end;
    }
    items
}

/// One past the end tag matching the start tag at `start` (or the end of the tokens).
fn subtree_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::Start { name, .. } if !is_void(name) => depth += 1,
            Token::End { name } if !is_void(name) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// True when a top-level block or text run is boilerplate, or an empty block (`<p>&nbsp;</p>`) that only adds space.
fn drops_item(tokens: &[Token], kind: ItemKind, boilerplate: &Boilerplate) -> bool {
    let text = text_paragraphs(tokens).join(" ");
    if text.is_empty() {
        let is_void = matches!(tokens.first(), Some(Token::Start { name, .. }) if is_void(name));
        return kind == ItemKind::Block && !is_void && !contains_image(tokens);
    }
    boilerplate.drops(&text)
}

/// Whether an image is among `tokens`: an item with one is never empty.
fn contains_image(tokens: &[Token]) -> bool {
    tokens
        .iter()
        .any(|token| matches!(token, Token::Start { name, .. } if name == "img"))
}

/// `tokens` without the tags of `div`s that hold only blocks.
///
/// CMS bodies often come wrapped (`<div class="article-body">…</div>`); the
/// paragraphs inside must be top-level for the boilerplate rules to see them. Such a
/// wrapper adds nothing once its attributes are gone: its children are blocks, so no
/// boundary is lost. A `div` with loose text in it stays, or that text would run into
/// what follows.
fn unwrap_wrappers(tokens: Vec<Token>) -> Vec<Token> {
    /// An open element: where it starts, and whether every child so far is a block.
    struct Open {
        start: usize,
        is_div: bool,
        only_blocks: bool,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut unwrapped = vec![false; tokens.len()];
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Text(text) => {
                if let Some(parent) = stack.last_mut()
                    && !text.chars().all(char::is_whitespace)
                {
                    parent.only_blocks = false;
                }
            }
            Token::Start { name, .. } => {
                if let Some(parent) = stack.last_mut()
                    && !is_block(name)
                {
                    parent.only_blocks = false;
                }
                if !is_void(name) {
                    stack.push(Open {
                        start: i,
                        is_div: name == "div",
                        only_blocks: true,
                    });
                }
            }
            Token::End { name } => {
                if is_void(name) {
                    continue;
                }
                if let Some(open) = stack.pop()
                    && open.is_div
                    && open.only_blocks
                    && name == "div"
                {
                    if let Some(start) = unwrapped.get_mut(open.start) {
                        *start = true;
                    }
                    if let Some(end) = unwrapped.get_mut(i) {
                        *end = true;
                    }
                }
            }
        }
    }
    tokens
        .into_iter()
        .zip(unwrapped)
        .filter_map(|(token, unwrapped)| (!unwrapped).then_some(token))
        .collect()
}

/// Paragraphs of plain text in `tokens`: blocks and `<br>` break paragraphs, table cells are spaced apart.
fn text_paragraphs(tokens: &[Token]) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        let folded = fold_whitespace(current);
        if !folded.is_empty() {
            paragraphs.push(folded);
        }
        current.clear();
    };
    for token in tokens {
        match token {
            Token::Text(text) => current.push_str(text),
            Token::Start { name, .. } | Token::End { name } if is_block(name) || name == "br" => {
                flush(&mut current);
            }
            Token::Start { name, .. } | Token::End { name } if name == "td" || name == "th" => {
                current.push(' ');
            }
            _ => {}
        }
    }
    flush(&mut current);
    paragraphs
}

/// Serializes tokens back to HTML, escaping every text and attribute value afresh
/// (so `>` is always escaped and `]]>` can never appear).
fn write_tokens(tokens: &[Token], out: &mut String) {
    for token in tokens {
        match token {
            Token::Start { name, attributes } => {
                out.push('<');
                out.push_str(name);
                for (attribute, value) in attributes {
                    out.push(' ');
                    out.push_str(attribute);
                    out.push_str("=\"");
                    push_escaped_html(out, value);
                    out.push('"');
                }
                out.push('>');
            }
            Token::End { name } => {
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            Token::Text(text) => push_escaped_html(out, text),
        }
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
}
