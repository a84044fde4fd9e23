//! Feed text: turns messy stored article text into clean, XML-safe HTML and plain text, and cuts titles and summaries.
//!
//! Stored bodies come from a CMS and a machine-translation pipeline: stray share-button
//! labels, a pasted disclaimer, control characters, arbitrary HTML. Everything a feed
//! shows passes through here, so that every renderer gets text that is sanitized,
//! free of boilerplate and legal in XML 1.0, whatever the store holds.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use unicode_segmentation::UnicodeSegmentation;

/// Marks a cut title or summary; one grapheme, counted within the length limit.
const ELLIPSIS: &str = "…";

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
const RENAMED_TAGS: &[(&str, &str)] = &[
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
const ALLOWED_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "title", "hreflang"]),
    ("img", &["src", "alt", "width", "height"]),
    ("time", &["datetime"]),
    ("abbr", &["title"]),
    ("td", &["colspan", "rowspan"]),
    ("th", &["colspan", "rowspan"]),
];

/// Schemes a reader may follow; `javascript:`, `data:` and the like lose their attribute.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

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

/// How a stored body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// An HTML fragment, sanitized before it reaches a feed.
    Html,
    /// Plain text, paragraphs separated by blank lines.
    Text,
}

/// A body ready for every renderer: HTML for full content, text for summaries and titles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanBody {
    /// Sanitized HTML fragment of the body, boilerplate removed, XML-legal.
    pub html: String,
    /// Plain text of the same: paragraphs separated by "\n\n", whitespace inside a paragraph folded to single spaces, entities decoded, XML-legal.
    pub text: String,
}

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
fn without_terminal_escapes(s: &str) -> impl Iterator<Item = char> + '_ {
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

/// Folds runs of whitespace (any Unicode whitespace incl. NBSP and ideographic space U+3000) to one ASCII space and trims; also applies xml_safe.
///
/// Form feed and vertical tab count as whitespace here (they separate words) even
/// though XML forbids them; the other forbidden characters vanish without a trace.
pub fn fold_whitespace(s: &str) -> String {
    if s.as_bytes().contains(&0x1b) {
        return fold_whitespace_escapes(s);
    }
    // Every feed item folds its whole body several times, so this copies runs
    // of ordinary characters whole and decodes only the bytes that may start a
    // special character: ASCII controls and space, and the lead bytes of the
    // non-ASCII whitespace (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000)
    // and of U+FFFE/U+FFFF.
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
        if !whitespace && !is_xml_forbidden(c) {
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
/// lead bytes of U+0085 and U+00A0 (C2), U+1680 (E1), U+2000–U+205F (E2),
/// U+3000 (E3) and U+FFFE/U+FFFF (EF). One load per byte, whatever the script.
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

/// [`fold_whitespace`] for text with an ESC in it, character by character.
fn fold_whitespace_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space_pending = false;
    for c in without_terminal_escapes(s) {
        if c.is_whitespace() {
            space_pending = true;
        } else if !is_xml_forbidden(c) {
            if space_pending && !out.is_empty() {
                out.push(' ');
            }
            space_pending = false;
            out.push(c);
        }
    }
    out
}

/// Cleans a stored body into sanitized HTML and plain text.
///
/// Both come from one pass so that the summary can never show a paragraph the
/// content dropped (or the other way round).
pub fn clean_body(body: &str, markup: Markup, boilerplate: &Boilerplate) -> CleanBody {
    match markup {
        Markup::Text => clean_text_body(body, boilerplate),
        Markup::Html => clean_html_body(body, boilerplate),
    }
}

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
fn push_escaped_html(out: &mut String, s: &str) {
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

fn is_xml_forbidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'
    )
}

/// Like [`xml_safe`], but form feed and vertical tab become spaces, so that words
/// they separated stay apart in HTML as they do in folded text.
fn xml_legal(s: &str) -> Cow<'_, str> {
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

/// Boilerplate rules, compiled into the form paragraphs are compared in:
/// whole paragraphs to drop.
///
/// A feed build compiles its rules once (the site's and its language's) and
/// judges every paragraph of every item with them.
#[derive(Debug, Clone, Default)]
pub struct Boilerplate {
    /// A paragraph equal to one of these (case-insensitive, whitespace folded, surrounding whitespace ignored) is dropped — stray share-button labels like "Partager:".
    labels: Vec<String>,
    /// A paragraph starting with one of these (case-insensitive, whitespace folded) is dropped — the site's pasted machine-translation disclaimer.
    prefixes: Vec<String>,
    /// The longest rule, in characters: only that much of a paragraph can
    /// decide, so only that much (to the next space) is lowercased.
    longest: usize,
}

impl Boilerplate {
    /// Compiles the rules: `labels` are whole paragraphs to drop, `prefixes`
    /// starts of paragraphs to drop; rules that fold to nothing are left out.
    pub fn new(
        labels: impl IntoIterator<Item = impl AsRef<str>>,
        prefixes: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Self {
        // An empty rule would match every paragraph and silently empty every feed.
        fn keys(rules: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
            rules
                .into_iter()
                .map(|rule| comparison_key(rule.as_ref()))
                .filter(|key| !key.is_empty())
                .collect()
        }
        let labels = keys(labels);
        let prefixes = keys(prefixes);
        let longest = labels
            .iter()
            .chain(&prefixes)
            .map(|key| key.chars().count())
            .max()
            .unwrap_or(0);
        Boilerplate {
            labels,
            prefixes,
            longest,
        }
    }

    /// Whether a paragraph, already folded ([`fold_whitespace`]), is boilerplate.
    fn drops(&self, folded: &str) -> bool {
        if self.labels.is_empty() && self.prefixes.is_empty() {
            return false;
        }
        debug_assert_eq!(folded, fold_whitespace(folded));
        // Most paragraphs are told apart by their first character alone.
        let Some(first) = folded.chars().next() else {
            return false;
        };
        let may_match = |key: &String| {
            key.chars()
                .zip(first.to_lowercase())
                .all(|(k, lower)| k == lower)
        };
        if !self.labels.iter().chain(&self.prefixes).any(may_match) {
            return false;
        }
        // Lowercasing maps each character to one or more, and only the
        // final-sigma rule looks at neighbours, so the key of a head cut past
        // `longest` characters, where that context breaks, is the start of the
        // whole key and long enough for every prefix; a longer paragraph
        // cannot equal a label. Paragraphs are long: this lowercases a line
        // of each, not all of it.
        let head = key_head(folded, self.longest);
        let key = head.to_lowercase();
        (head.len() == folded.len() && self.labels.contains(&key))
            || self
                .prefixes
                .iter()
                .any(|prefix| key.starts_with(prefix.as_str()))
    }
}

/// `s` up to the first character after its first `chars` ones that is neither
/// cased nor case-ignorable (a space, a digit, a CJK, kana, Hangul or Arabic
/// letter), where lowercasing's context ends; all of `s` when there is none.
fn key_head(s: &str, chars: usize) -> &str {
    let from = s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i);
    let breaks_context = |c: char| {
        matches!(c,
            ' ' | '0'..='9'
                | '\u{3041}'..='\u{3096}'
                | '\u{30A1}'..='\u{30FA}'
                | '\u{3400}'..='\u{4DBF}'
                | '\u{4E00}'..='\u{9FFF}'
                | '\u{AC00}'..='\u{D7A3}'
                | '\u{0620}'..='\u{063F}'
                | '\u{0641}'..='\u{064A}'
        )
    };
    match s.get(from..).and_then(|rest| rest.find(breaks_context)) {
        Some(at) => s.get(..from + at).unwrap_or(s),
        None => s,
    }
}

fn comparison_key(s: &str) -> String {
    fold_whitespace(s).to_lowercase()
}

fn clean_text_body(body: &str, boilerplate: &Boilerplate) -> CleanBody {
    let paragraphs: Vec<String> = plain_paragraphs(body)
        .filter(|p| !boilerplate.drops(p))
        .collect();
    let text_len: usize = paragraphs.iter().map(String::len).sum();
    let mut html = String::with_capacity(text_len + text_len / 8 + paragraphs.len() * 8);
    for (i, paragraph) in paragraphs.iter().enumerate() {
        if i > 0 {
            html.push('\n');
        }
        html.push_str("<p>");
        push_escaped_html(&mut html, paragraph);
        html.push_str("</p>");
    }
    CleanBody {
        html,
        text: paragraphs.join("\n\n"),
    }
}

/// Paragraphs of plain text: separated by blank lines (whitespace-only lines count),
/// lines inside one joined, whitespace folded, empty ones skipped. `\r\n` and `\r`
/// end lines too.
fn plain_paragraphs(text: &str) -> impl Iterator<Item = String> + '_ {
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
                paragraph.push(' ');
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

fn sanitize(html: &str) -> String {
    SANITIZER.clean(&xml_legal(html)).to_string()
}

fn clean_html_body(body: &str, boilerplate: &Boilerplate) -> CleanBody {
    let sanitized = sanitize(body);
    let tokens = unwrap_wrappers(tokenize(&sanitized));
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

/// True when a top-level block or text run is boilerplate, or an empty block (`<p>&nbsp;</p>`) that only adds space.
fn drops_item(tokens: &[Token], kind: ItemKind, boilerplate: &Boilerplate) -> bool {
    let text = text_paragraphs(tokens).join(" ");
    if text.is_empty() {
        let is_void = matches!(tokens.first(), Some(Token::Start { name, .. }) if is_void(name));
        return kind == ItemKind::Block && !is_void && !contains_image(tokens);
    }
    boilerplate.drops(&text)
}

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

/// One piece of sanitized HTML, as ammonia serializes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Start {
        name: String,
        /// Decoded values; re-escaped on output.
        attributes: Vec<(String, String)>,
    },
    End {
        name: String,
    },
    /// Decoded text.
    Text(String),
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

/// Elements that start a new paragraph in plain text and are judged alone as boilerplate.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "blockquote"
            | "ul"
            | "ol"
            | "li"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "figure"
            | "figcaption"
            | "pre"
            | "table"
            | "thead"
            | "tbody"
            | "tr"
            | "hr"
    )
}

/// Elements with no end tag.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Splits ammonia's serialized output into tokens.
///
/// Boilerplate is judged per top-level node and plain text needs block boundaries,
/// but ammonia keeps its DOM private (`Document::to_dom_node` needs
/// `--cfg ammonia_unstable`), so its output is re-read here rather than parsed
/// again by a second HTML parser.
///
/// Ammonia's serializer writes a small regular subset of HTML: lowercase tag names,
/// double-quoted attribute values, `&amp; &lt; &gt; &quot; &nbsp;` escapes, no comments,
/// and no raw-text elements (none is allowed). Anything this scanner does not
/// recognize is kept as text, so at worst it shows up escaped, never executed.
fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;
    while let Some(offset) = html.get(pos..).and_then(|rest| rest.find('<')) {
        let lt = pos + offset;
        match parse_tag(html, lt) {
            Some((token, next)) => {
                push_text(&mut tokens, html.get(text_start..lt).unwrap_or(""));
                tokens.extend(normalize(token));
                pos = next;
                text_start = next;
            }
            None => pos = lt + 1,
        }
    }
    push_text(&mut tokens, html.get(text_start..).unwrap_or(""));
    tokens
}

/// Renames structural tags to the article set and drops images left without a
/// source (ammonia removes a `data:` or `javascript:` one, not the `<img>`).
fn normalize(token: Token) -> Option<Token> {
    let rename = |name: String| match RENAMED_TAGS.iter().find(|(from, _)| *from == name) {
        Some((_, to)) => (*to).to_owned(),
        None => name,
    };
    match token {
        Token::Start { name, attributes } => {
            if name == "img"
                && !attributes
                    .iter()
                    .any(|(attribute, value)| attribute == "src" && !value.is_empty())
            {
                return None;
            }
            Some(Token::Start {
                name: rename(name),
                attributes,
            })
        }
        Token::End { name } => Some(Token::End { name: rename(name) }),
        text @ Token::Text(_) => Some(text),
    }
}

fn push_text(tokens: &mut Vec<Token>, raw: &str) {
    if !raw.is_empty() {
        tokens.push(Token::Text(xml_legal(&decode_entities(raw)).into_owned()));
    }
}

/// Parses the tag starting at `lt` (a `<`), returning it and the offset just past its `>`.
fn parse_tag(html: &str, lt: usize) -> Option<(Token, usize)> {
    let bytes = html.as_bytes();
    let mut i = lt + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        i += 1;
    }
    if i == name_start || !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name = html.get(name_start..i)?.to_ascii_lowercase();
    if closing {
        let gt = i + html.get(i..)?.find('>')?;
        return Some((Token::End { name }, gt + 1));
    }
    let mut attributes = Vec::new();
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => return Some((Token::Start { name, attributes }, i + 1)),
            b'/' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let attr_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| !b.is_ascii_whitespace() && !matches!(b, b'=' | b'>' | b'/'))
        {
            i += 1;
        }
        let attr_name = html.get(attr_start..i)?.to_ascii_lowercase();
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            let raw = match bytes.get(i)? {
                quote @ (b'"' | b'\'') => {
                    let value_start = i + 1;
                    let value_end =
                        value_start + html.get(value_start..)?.find(char::from(*quote))?;
                    i = value_end + 1;
                    html.get(value_start..value_end)?
                }
                _ => {
                    let value_start = i;
                    while bytes
                        .get(i)
                        .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>')
                    {
                        i += 1;
                    }
                    html.get(value_start..i)?
                }
            };
            value = xml_legal(&decode_entities(raw)).into_owned();
        }
        attributes.push((attr_name, value));
    }
}

/// Decodes the character references ammonia writes, plus numeric ones; anything
/// else starting with `&` stays as it is.
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        let (before, from_amp) = rest.split_at(amp);
        out.push_str(before);
        match decode_reference(from_amp) {
            Some((c, len)) => {
                out.push(c);
                rest = from_amp.get(len..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = from_amp.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character a reference at the start of `s` stands for, and the reference's length.
fn decode_reference(s: &str) -> Option<(char, usize)> {
    // The longest reference decoded here, "&#x10FFFF;", is 10 bytes.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let name = s.get(1..semi)?;
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        _ => {
            let digits = name.strip_prefix('#')?;
            let code = match digits.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => digits.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, semi + 1))
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
    let mut chars = paragraph.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_sentence_end(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, closer)) = chars.peek() {
            if !is_closer(closer) {
                break;
            }
            end = j + closer.len_utf8();
            chars.next();
        }
        // "3.5" and "15h35.m." are not ends: a Latin full stop needs a space after it.
        let at_break = chars.peek().is_none_or(|&(_, next)| next.is_whitespace());
        if is_cjk_sentence_end(c) || at_break {
            return paragraph.get(..end).unwrap_or(paragraph);
        }
    }
    paragraph
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

    /// shared/sample-article.fr.txt as the site published it.
    const SAMPLE_FR: &str = r#"Partager:

Le président américain Joe Biden et le président russe Vladimir Poutine se sont entretenus pendant environ 50 minutes au téléphone, dans un contexte de tensions croissantes à la frontière ukrainienne jeudi.

L’appel téléphonique demandé par Poutine a commencé à 15h35.m. La Maison Blanche et le Kremlin devraient bientôt fournir des résumés de leurs appels.

Le président Biden et le président Poutine devraient discuter d’une série de sujets, non seulement de la situation tendue en Europe, mais aussi de la lenteur des négociations avec l’Iran sur son programme nucléaire.

Par ailleurs, le porte-parole du Kremlin, Dimitri Peskov, a déclaré aux journalistes avant les conversations des deux dirigeants, laissant entendre que le matériel et les résultats obtenus ne seraient pas divulgués au public.

« Cette fois, il s’agissait de conversations téléphoniques, d’appels téléphoniques réguliers. Ainsi, il n’y aura pas de partie publique », a déclaré Peskov, citant TASS.

Cependant, Peskov a déclaré que la conversation demandée par le président Poutine était très claire dès le début.

« L’objectif est de continuer à discuter des questions qui ont été à l’ordre du jour de leur appel vidéo récemment. En outre, ils discuteront également d’un certain nombre de questions urgentes liées aux pourparlers qui se tiendront les 10 et 12 janvier », a déclaré Peskov.

Ce sera la deuxième conversation entre les deux présidents ce mois-ci. Plus tôt, le président Poutine et le président Biden ont tenu un appel vidéo de deux heures le 7 décembre, se concentrant sur la situation autour de l’Ukraine. Ils ont également discuté des relations bilatérales, des questions de cybersécurité et de l’accord sur le nucléaire iranien.

Moscou a alarmé l’Occident en déployant des dizaines de milliers de soldats près de sa frontière avec l’Ukraine au cours des deux derniers mois, à la suite de la prise de la péninsule ukrainienne de Crimée en 2014 et de son soutien aux séparatistes combattant dans l’est de l’Ukraine.

La Russie nie tout projet d’attaque contre l’Ukraine et affirme qu’elle a le droit de déplacer ses troupes sur son propre territoire à volonté.

Au lieu de cela, Moscou est alarmé par ce qu’il dit être l’Occident qui réarme l’Ukraine, disant qu’il veut que les garanties juridiquement contraignantes de l’OTAN ne s’étendent pas plus à l’est, et que certaines armes offensives ne seront pas déployées en Ukraine ou dans d’autres pays voisins.

Les pourparlers des dirigeants précèdent une réunion de sécurité américano-russe le 10 janvier, suivie d’une session Russie-OTAN le 12 janvier, et d’une conférence plus large comprenant Moscou, Washington et d’autres pays européens prévue pour le 13 janvier.


The English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI. So there may still be inaccuracies in translating, please always see Indonesian as our main language. (system supported by DigitalSiber.id)"#;

    const DISCLAIMER: &str = "The English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI";

    fn graphemes(s: &str) -> usize {
        s.graphemes(true).count()
    }

    fn has_forbidden(s: &str) -> bool {
        s.chars().any(is_xml_forbidden)
    }

    /// Asserts `cut` is `whole` itself, or whole graphemes from its start followed by "…", within `max`.
    fn assert_cut_of(cut: &str, whole: &str, max: usize) {
        assert!(
            graphemes(cut) <= max,
            "{cut:?} is longer than {max} graphemes"
        );
        if max == 0 {
            assert_eq!(cut, "");
            return;
        }
        if cut == whole {
            return;
        }
        let kept = cut
            .strip_suffix(ELLIPSIS)
            .unwrap_or_else(|| panic!("{cut:?} (max {max}) was cut without an ellipsis"));
        let count = graphemes(kept);
        let whole_graphemes: String = whole.graphemes(true).take(count).collect();
        assert_eq!(
            kept, whole_graphemes,
            "{cut:?} (max {max}) splits a grapheme of {whole:?}"
        );
    }

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
    fn fast_folding_matches_the_character_loop() {
        let pieces = [
            "a", "x y", "é", "中", "ي", "😀", " ", "  ", "\t", "\n", "\r\n", "\u{85}", "\u{A0}",
            "\u{1680}", "\u{2003}", "\u{200B}", "\u{2028}", "\u{202F}", "\u{205F}", "\u{3000}",
            "\u{3001}", "\u{0}", "\u{1}", "\u{B}", "\u{C}", "\u{1F}", "\u{7F}", "\u{FFFD}",
            "\u{FFFE}", "\u{FFFF}", "\u{E000}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}");
                    assert_eq!(fold_whitespace(&s), fold_whitespace_escapes(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn boilerplate_is_judged_on_the_whole_key() {
        let rules = Boilerplate::new(["Share:", "ΣΑΣ"], ["The English versions are generated"]);
        let reference = |p: &str| {
            let key = comparison_key(p);
            rules.labels.contains(&key)
                || rules.prefixes.iter().any(|x| key.starts_with(x.as_str()))
        };
        let paragraphs = [
            "Share:",
            "SHARE:  ",
            "Share: now",
            "ΣΑΣ",
            "ΣΑΣ ΣΑΣ",
            "The English versions are generated",
            "THE ENGLISH VERSIONS ARE GENERATED by the AI and more words after that",
            "The English versions are generatedly long words without spaces",
            "The English  versions\tare\u{A0}generated, it says",
            "The English versions are",
            "Ordinary paragraph that is long enough to be cut before it is lowercased, really.",
            "THE ENGLISH VERSIONS ARE GENERATEDΣ中文",
            "The English versions are generated中文的段落没有空格所以要在汉字处截断",
            "THE ENGLISH VERSIONS ARE GENERATEDΣالعربية",
            "中文的段落没有空格所以要在汉字处截断中文的段落没有空格所以要在汉字处截断",
            "",
        ];
        for p in paragraphs {
            assert_eq!(rules.drops(&fold_whitespace(p)), reference(p), "{p:?}");
        }
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
    fn sample_french_article_loses_its_boilerplate() {
        let boilerplate = Boilerplate::new(["Partager:"], [DISCLAIMER]);
        let body = clean_body(SAMPLE_FR, Markup::Text, &boilerplate);

        assert!(
            body.text.starts_with("Le président américain Joe Biden"),
            "{}",
            body.text
        );
        assert!(
            body.html.starts_with("<p>Le président américain Joe Biden"),
            "{}",
            body.html
        );
        for out in [&body.text, &body.html] {
            assert!(!out.contains("Partager"));
            assert!(!out.contains("automatically generated"));
            assert!(!out.contains("DigitalSiber"));
        }
        assert!(body.text.ends_with("prévue pour le 13 janvier."));
        assert!(body.html.ends_with("prévue pour le 13 janvier.</p>"));
        assert_eq!(body.text.split("\n\n").count(), 12);
        assert_eq!(body.html.lines().count(), 12);
        assert!(body.text.contains(
            "\n\nL’appel téléphonique demandé par Poutine a commencé à 15h35.m. La Maison Blanche"
        ));
        assert!(body.html.contains("<p>« Cette fois, il s’agissait"));

        let first_sentence = "Le président américain Joe Biden et le président russe Vladimir Poutine se sont entretenus pendant environ 50 minutes au téléphone, dans un contexte de tensions croissantes à la frontière ukrainienne jeudi.";
        let title = derive_title(&body.text, 110);
        assert_eq!(
            title,
            "Le président américain Joe Biden et le président russe Vladimir Poutine se sont entretenus pendant environ 50…"
        );
        assert!(graphemes(&title) <= 110);
        let kept = title.strip_suffix('…').unwrap_or_default();
        assert!(first_sentence.starts_with(kept));
        // Cut between words: the sentence goes on with a space right after the cut.
        assert!(first_sentence[kept.len()..].starts_with(' '));

        // The same article as the CMS's HTML, in a wrapper, gives the same text.
        let html_body = format!(
            "<div class=\"entry\"><p>{}</p></div>",
            SAMPLE_FR
                .split("\n\n")
                .collect::<Vec<_>>()
                .join("</p>\n<p>")
        );
        let from_html = clean_body(&html_body, Markup::Html, &boilerplate);
        assert_eq!(from_html.text, body.text);
        assert_eq!(from_html.html, body.html);

        let summary = summarize(&body.text, 280);
        assert!(graphemes(&summary) <= 280);
        assert!(summary.starts_with(first_sentence));
        assert!(summary.ends_with('…'));
        assert!(!summary.contains('\n'));
    }

    #[test]
    fn labels_match_folded_and_case_insensitively() {
        let boilerplate = Boilerplate::new(["Partager :", "Share:"], [DISCLAIMER]);
        let body = "  PARTAGER\u{A0}:  \n\nshare:\n\nPartager : la suite\n\nthe english,  chinese, japanese, arabic, and french versions are AUTOMATICALLY generated by the AI. So.";
        let clean = clean_body(body, Markup::Text, &boilerplate);
        assert_eq!(clean.text, "Partager : la suite");
        assert_eq!(clean.html, "<p>Partager : la suite</p>");
    }

    #[test]
    fn empty_rules_drop_nothing() {
        let empty = ["", "  "];
        let boilerplate = Boilerplate::new(empty, empty);
        let clean = clean_body("Satu.\n\nDua.", Markup::Text, &boilerplate);
        assert_eq!(clean.text, "Satu.\n\nDua.");
        let clean = clean_body("<p>Satu.</p>", Markup::Html, &Boilerplate::default());
        assert_eq!(clean.html, "<p>Satu.</p>");
    }

    #[test]
    fn text_paragraphs_split_on_blank_lines_only() {
        let body =
            "\r\n  \n Satu baris\r\ndua baris\rtiga \n \t \u{3000}\n\n\nParagraf\u{A0}kedua  \n";
        let clean = clean_body(body, Markup::Text, &Boilerplate::default());
        assert_eq!(clean.text, "Satu baris dua baris tiga\n\nParagraf kedua");
        assert_eq!(
            clean.html,
            "<p>Satu baris dua baris tiga</p>\n<p>Paragraf kedua</p>"
        );
    }

    #[test]
    fn empty_and_boilerplate_only_bodies_are_empty() {
        let boilerplate = Boilerplate::new(["Partager:", "Share:"], [DISCLAIMER]);
        // In HTML, blank lines separate nothing: these are one text run each.
        let text_only = [
            "Partager:\n\n\n",
            "\n\nShare:\n\nThe English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI. (DigitalSiber.id)",
        ];
        for body in text_only {
            let clean = clean_body(body, Markup::Text, &boilerplate);
            assert_eq!(clean, CleanBody::default(), "{body:?}");
        }
        let bodies = [
            "",
            "   ",
            " \n\t\r\n\u{3000}\u{A0}\n\n",
            "\u{0}\u{1}\n\n\u{B}",
            "Partager:",
        ];
        for body in bodies {
            for markup in [Markup::Text, Markup::Html] {
                let clean = clean_body(body, markup, &boilerplate);
                assert_eq!(clean, CleanBody::default(), "{body:?} as {markup:?}");
            }
        }
        let html_only = [
            "<p>Share:</p>",
            "<p>Share:</p>\n<p>&nbsp;</p><br><p></p>",
            "<div><br></div>Share:<br><br>\n",
            "<script>alert(1)</script><style>p {}</style><!-- comment -->",
            "<img src=\"javascript:x()\">",
        ];
        for body in html_only {
            let clean = clean_body(body, Markup::Html, &boilerplate);
            assert_eq!(clean, CleanBody::default(), "{body:?}");
        }
    }

    #[test]
    fn html_boilerplate_paragraphs_are_dropped() {
        let boilerplate = Boilerplate::new(["Share:", "Bagikan:"], [DISCLAIMER]);
        let body = "<p>Share:</p>\n<p>Berita <b>utama</b>.</p>\n<p>The English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI. So there may</p>";
        let clean = clean_body(body, Markup::Html, &boilerplate);
        assert_eq!(clean.html, "<p>Berita <b>utama</b>.</p>");
        assert_eq!(clean.text, "Berita utama.");

        // Top-level text runs count too, and the breaks they leave behind go with them.
        let body = "<strong>Bagikan:</strong><br><br>Isi berita.<br>Baris kedua.";
        let clean = clean_body(body, Markup::Html, &boilerplate);
        assert_eq!(clean.html, "Isi berita.<br>Baris kedua.");
        assert_eq!(clean.text, "Isi berita.\n\nBaris kedua.");

        // Wrappers holding only blocks are unwrapped, so their paragraphs are judged alone.
        let body =
            "<div class=\"article\">\n<section>\n<p>Share:</p>\n<p>Isi.</p>\n</section>\n</div>";
        let clean = clean_body(body, Markup::Html, &boilerplate);
        assert_eq!(clean.html, "<p>Isi.</p>");
        let body = "<div><p>Share:</p><p>Isi.</p>lepas</div><div><div>Dua</div></div>";
        let clean = clean_body(body, Markup::Html, &boilerplate);
        assert_eq!(
            clean.html,
            "<div><p>Share:</p><p>Isi.</p>lepas</div><div>Dua</div>"
        );

        // Inside a block, a paragraph is not top-level: the block is judged as a whole.
        let body = "<blockquote><p>Share:</p><p>Kutipan.</p></blockquote>";
        let clean = clean_body(body, Markup::Html, &boilerplate);
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
        let clean = clean_body(body, Markup::Html, &Boilerplate::default());
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
        let clean = clean_body(body, Markup::Html, &Boilerplate::default());
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
        let clean = clean_body(text_body, Markup::Text, &Boilerplate::default());
        assert_eq!(clean.text, text_body);
        assert_eq!(
            clean.html,
            "<p>Kode ]]&gt; &amp; &lt;b&gt; itu teks, 1 &lt; 2 &gt; 0 &quot;ya&quot; &#39;tidak&#39;</p>"
        );

        for html_body in ["<p>AT&T ]]> 1 < 2</p>", "<p>AT&amp;T ]]&gt; 1 &lt; 2</p>"] {
            let clean = clean_body(html_body, Markup::Html, &Boilerplate::default());
            assert_eq!(clean.text, "AT&T ]]> 1 < 2");
            assert_eq!(clean.html, "<p>AT&amp;T ]]&gt; 1 &lt; 2</p>");
        }
        // An attribute value cannot smuggle "]]>" or a quote out either.
        let clean = clean_body(
            "<a href=\"https://e.example/]]>\" title='a\"b]]>'>x</a>",
            Markup::Html,
            &Boilerplate::default(),
        );
        assert!(!clean.html.contains("]]>"), "{}", clean.html);
        assert!(
            clean.html.contains("title=\"a&quot;b]]&gt;\""),
            "{}",
            clean.html
        );
    }

    #[test]
    fn control_characters_are_removed_everywhere() {
        let forbidden = "\u{0}\u{1}\u{8}\u{B}\u{C}\u{E}\u{1F}\u{FFFE}\u{FFFF}";
        assert_eq!(
            xml_safe(&format!("a{forbidden}b\t\n\r\u{7F}\u{FFFD}")),
            "ab\t\n\r\u{7F}\u{FFFD}"
        );
        assert_eq!(fold_whitespace("a\u{C}b\u{0}c \u{1} d"), "a bc d");

        let dirty = format!("Satu{forbidden} dua.\n\n{forbidden}\n\nTiga\u{B}empat &#1; &#xFFFF;");
        let clean = clean_body(&dirty, Markup::Text, &Boilerplate::default());
        assert_eq!(clean.text, "Satu dua.\n\nTiga empat &#1; &#xFFFF;");
        assert_eq!(
            clean.html,
            "<p>Satu dua.</p>\n<p>Tiga empat &amp;#1; &amp;#xFFFF;</p>"
        );
        // As HTML, blank lines are only whitespace, and the references are decoded (then dropped).
        let clean = clean_body(&dirty, Markup::Html, &Boilerplate::default());
        assert_eq!(clean.text, "Satu dua. Tiga empat");
        assert!(!has_forbidden(&clean.html), "{:?}", clean.html);
        let html = format!("<p title=\"x{forbidden}y&#2;\">a&#1;b&#x0B;c&#xFFFE;d{forbidden}</p>");
        let clean = clean_body(&html, Markup::Html, &Boilerplate::default());
        assert_eq!(clean.text, "ab cd");
        assert!(!has_forbidden(&clean.html), "{:?}", clean.html);
        assert_eq!(plain_text(&html), "ab cd");
        assert_eq!(plain_text(&dirty), "Satu dua. Tiga empat");
        for max in [0, 3, 5, 100] {
            assert!(!has_forbidden(&derive_title(&dirty, max)));
            assert!(!has_forbidden(&summarize(&dirty, max)));
        }
        assert_eq!(summarize(&dirty, 100), "Satu dua. Tiga empat &#1; &#xFFFF;");
    }

    #[test]
    fn xml_safe_borrows_clean_input() {
        for clean in ["", "Kabar — 新闻 خبر 👨‍👩‍👧‍👦", "tab\tand\nnewlines\r\n"]
        {
            assert!(matches!(xml_safe(clean), Cow::Borrowed(s) if s == clean));
        }
        assert!(matches!(xml_safe("a\u{0}"), Cow::Owned(s) if s == "a"));
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
    fn escape_html_escapes_the_five() {
        assert_eq!(
            escape_html("a & b < c > d \" e ' f — 中"),
            "a &amp; b &lt; c &gt; d &quot; e &#39; f — 中"
        );
        assert_eq!(escape_html(""), "");
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

    #[test]
    fn odd_input_never_panics() {
        let nested = "<b>".repeat(5_000) + "deep" + &"</div>".repeat(100);
        let long_word = "x".repeat(10_000);
        let odd = [
            "<",
            "<<<>>>",
            "<a",
            "<p",
            "<p title=\"unterminated",
            "</p>",
            "</",
            "<!-- open comment",
            "<!DOCTYPE html><html><head><title>T</title></head><body>B</body></html>",
            "&",
            "&#",
            "&#x;",
            "&#99999999999;",
            "&#xD800;",
            "&amp",
            "é<é>é&é;é",
            "\u{FEFF}BOM",
            "<svg><script>alert(1)</script><foreignObject><p>x</p></foreignObject></svg>",
            "<math><mi>x</mi></math>",
            "<table><td>cell<p>para</table>",
            "<select><option>o</option></select><textarea>t</textarea>",
            "<pre>\n  keep   spaces\n</pre>",
            nested.as_str(),
            long_word.as_str(),
        ];
        let boilerplate = Boilerplate::new(["Share:"], std::iter::empty::<&str>());
        for input in odd {
            for markup in [Markup::Text, Markup::Html] {
                let clean = clean_body(input, markup, &boilerplate);
                assert!(!has_forbidden(&clean.html) && !has_forbidden(&clean.text));
                if markup == Markup::Html {
                    assert!(
                        !clean.html.contains("<script") && !clean.html.contains("alert"),
                        "{input:?}"
                    );
                }
            }
            let _ = plain_text(input);
            for max in [0, 1, 2, 7, 100] {
                assert!(graphemes(&derive_title(input, max)) <= max);
                assert!(graphemes(&summarize(input, max)) <= max);
            }
        }
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
