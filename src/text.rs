//! Temporary text module (replaced shortly).
use std::borrow::Cow;
use crate::article::BodyFormat;
pub struct Boilerplate<'a> { pub labels: &'a [String], pub prefixes: &'a [String] }
pub struct CleanBody { pub html: String, pub text: String }
pub fn xml_safe(s: &str) -> Cow<'_, str> { Cow::Borrowed(s) }
pub fn fold_whitespace(s: &str) -> String { s.split_whitespace().collect::<Vec<_>>().join(" ") }
pub fn clean_body(body: &str, _format: BodyFormat, _b: &Boilerplate) -> CleanBody { CleanBody { html: escape_html(body), text: body.to_owned() } }
pub fn plain_text(s: &str) -> String { fold_whitespace(s) }
pub fn derive_title(text: &str, max: usize) -> String { text.chars().take(max).collect() }
pub fn summarize(text: &str, max: usize) -> String { text.chars().take(max).collect() }
pub fn escape_html(s: &str) -> String { s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;") }
