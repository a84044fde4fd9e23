//! Boilerplate rules (share-button labels, pasted disclaimers), compiled once and matched against folded paragraphs.

use super::fold::fold_whitespace;

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
    pub(super) fn drops(&self, folded: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_support::DISCLAIMER;
    use crate::text::{Markup, clean_body};

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
    fn labels_match_folded_and_case_insensitively() {
        let boilerplate = Boilerplate::new(["Partager :", "Share:"], [DISCLAIMER]);
        let body = "  PARTAGER\u{A0}:  \n\nshare:\n\nPartager : la suite\n\nthe english,  chinese, japanese, arabic, and french versions are AUTOMATICALLY generated by the AI. So.";
        let clean = clean_body(body, Markup::Text, &boilerplate, None);
        assert_eq!(clean.text, "Partager : la suite");
        assert_eq!(clean.html, "<p>Partager : la suite</p>");
    }

    #[test]
    fn empty_rules_drop_nothing() {
        let empty = ["", "  "];
        let boilerplate = Boilerplate::new(empty, empty);
        let clean = clean_body("Satu.\n\nDua.", Markup::Text, &boilerplate, None);
        assert_eq!(clean.text, "Satu.\n\nDua.");
        let clean = clean_body("<p>Satu.</p>", Markup::Html, &Boilerplate::default(), None);
        assert_eq!(clean.html, "<p>Satu.</p>");
    }
}
