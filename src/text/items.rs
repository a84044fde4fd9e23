//! The structure of sanitized HTML: its top-level items (the units boilerplate
//! is judged by), wrappers unwrapped, paragraphs of plain text, and tokens
//! written back as HTML.

use std::ops::Range;

use super::boilerplate::Boilerplate;
use super::fold::fold_whitespace;
use super::tokens::{Token, is_block, is_void};
use super::xml::push_escaped_html;

/// What a top-level item of a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemKind {
    /// A block element with everything inside it.
    Block,
    /// A top-level `<br>`.
    Break,
    /// Consecutive top-level text and inline elements.
    Run,
}

/// A top-level node (or run of nodes) of the body: the unit boilerplate is judged by.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) kind: ItemKind,
    pub(super) range: Range<usize>,
}

/// The body's top-level blocks, breaks and text runs, in order.
pub(super) fn top_level_items(tokens: &[Token]) -> Vec<Item> {
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
pub(super) fn drops_item(tokens: &[Token], kind: ItemKind, boilerplate: &Boilerplate) -> bool {
    let text = text_paragraphs(tokens).join(" ");
    if text.is_empty() {
        let is_void = matches!(tokens.first(), Some(Token::Start { name, .. }) if is_void(name));
        return kind == ItemKind::Block && !is_void && !contains_image(tokens);
    }
    boilerplate.drops(&text)
}

/// Whether an image is among `tokens`: an item with one is never empty.
pub(super) fn contains_image(tokens: &[Token]) -> bool {
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
pub(super) fn unwrap_wrappers(tokens: Vec<Token>) -> Vec<Token> {
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
pub(super) fn text_paragraphs(tokens: &[Token]) -> Vec<String> {
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
/// (so `>` is always escaped and `]]>` can never appear). Text that starts a
/// `<pre>` with a line feed gets one more, which the next parser drops, or
/// that line feed would be lost (HTML's serialization algorithm does the same;
/// ammonia's serializer does not).
pub(super) fn write_tokens(tokens: &[Token], out: &mut String) {
    let mut in_pre_start = false;
    for token in tokens {
        if in_pre_start && matches!(token, Token::Text(text) if text.starts_with('\n')) {
            out.push('\n');
        }
        in_pre_start = matches!(token, Token::Start { name, .. } if name == "pre");
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
