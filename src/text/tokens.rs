//! The scanner that re-reads ammonia's serialized output as a flat list of tags and decoded text.

use std::borrow::Cow;

use super::html::RENAMED_TAGS;
use super::xml::xml_safe;

/// One piece of sanitized HTML, as ammonia serializes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
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
pub(super) fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut pos = 0;
    while let Some(offset) = html.get(pos..).and_then(|rest| rest.find('<')) {
        let lt = pos + offset;
        match parse_tag(html, lt) {
            Some((token, next)) => {
                push_text(&mut tokens, html.get(text_start..lt).unwrap_or(""));
                tokens.push(normalize(token));
                pos = next;
                text_start = next;
            }
            None => pos = lt + 1,
        }
    }
    push_text(&mut tokens, html.get(text_start..).unwrap_or(""));
    tokens
}

/// Renames structural tags to the article set.
fn normalize(token: Token) -> Token {
    let rename = |name: String| match RENAMED_TAGS.iter().find(|(from, _)| *from == name) {
        Some((_, to)) => (*to).to_owned(),
        None => name,
    };
    match token {
        Token::Start { name, attributes } => Token::Start {
            name: rename(name),
            attributes,
        },
        Token::End { name } => Token::End { name: rename(name) },
        text @ Token::Text(_) => text,
    }
}

/// Appends `raw` as a text token, decoded and made XML-legal, unless it is empty.
fn push_text(tokens: &mut Vec<Token>, raw: &str) {
    if !raw.is_empty() {
        tokens.push(Token::Text(xml_safe(&decode_entities(raw)).into_owned()));
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
            value = xml_safe(&decode_entities(raw)).into_owned();
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

/// Elements that start a new paragraph in plain text and are judged alone as boilerplate.
pub(super) fn is_block(name: &str) -> bool {
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
pub(super) fn is_void(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn start(name: &str, attributes: &[(&str, &str)]) -> Token {
        Token::Start {
            name: name.to_owned(),
            attributes: attributes
                .iter()
                .map(|(a, v)| ((*a).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn end(name: &str) -> Token {
        Token::End {
            name: name.to_owned(),
        }
    }

    fn text(s: &str) -> Token {
        Token::Text(s.to_owned())
    }

    #[test]
    fn sanitizer_output_splits_into_tags_and_decoded_text() {
        let html = concat!(
            "<p title=\"x&#2;&quot;\">a &amp; b&#xB;c<br>",
            "<a href=\"https://e.example/?a=1&amp;b=2\" rel=\"noopener noreferrer\">d</a></p>",
        );
        assert_eq!(
            tokenize(html),
            vec![
                start("p", &[("title", "x\"")]),
                text("a & b c"),
                start("br", &[]),
                start(
                    "a",
                    &[
                        ("href", "https://e.example/?a=1&b=2"),
                        ("rel", "noopener noreferrer"),
                    ],
                ),
                text("d"),
                end("a"),
                end("p"),
            ]
        );
    }

    #[test]
    fn what_is_not_a_tag_stays_text() {
        assert_eq!(tokenize("1 < 2 <3 <"), vec![text("1 < 2 <3 <")]);
        assert_eq!(tokenize(""), vec![]);
    }

    #[test]
    fn structural_tags_are_renamed() {
        assert_eq!(
            tokenize("<h1>T</h1><section>x</section><img alt=\"a\">"),
            vec![
                start("h2", &[]),
                text("T"),
                end("h2"),
                start("div", &[]),
                text("x"),
                end("div"),
                start("img", &[("alt", "a")]),
            ]
        );
    }

    #[test]
    fn references_decode_or_stay_as_written() {
        assert_eq!(
            decode_entities("&lt;&gt;&quot;&apos;&nbsp;&#233;&#x4E2D;"),
            "<>\"'\u{A0}é中"
        );
        let kept = "&eacute; &amp &#xD800; &#99999999999; & x";
        assert_eq!(decode_entities(kept), kept);
        assert!(matches!(decode_entities("plain"), Cow::Borrowed("plain")));
    }
}
