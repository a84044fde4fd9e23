//! Feed text: turns messy stored article text into clean, XML-safe HTML and plain text, and cuts titles and summaries.
//!
//! Stored bodies come from a CMS and a machine-translation pipeline: stray share-button
//! labels, a pasted disclaimer, control characters, arbitrary HTML. Everything a feed
//! shows passes through here, so that every renderer gets text that is sanitized,
//! free of boilerplate and legal in XML 1.0, whatever the store holds.
//!
//! One file per job, each with its own tests:
//!
//! - `xml.rs`: the one character rule every string leaving here passes
//!   ([`xml_safe`]: XML 1.0 legality, terminal escapes, bidi controls, BOM), and
//!   escaping for HTML and XML;
//! - `fold.rs`: whitespace folding, and plain text split into paragraphs;
//! - `boilerplate.rs`: the rules that drop share-button labels and disclaimers,
//!   compiled once per feed;
//! - `html.rs`: the sanitizer, and a body's pass through it;
//! - `items.rs`: the top-level items of its output, and its plain text;
//! - `tokens.rs`: the scanner that re-reads the sanitizer's output;
//! - `links.rs`: URL attributes resolved against the item's page;
//! - `cut.rs`: titles and summaries, cut at word and grapheme boundaries.
//!
//! This file ties them into one pass over a body ([`clean_body`]). The module uses
//! nothing else from the crate, so that it can be read and tested alone: callers
//! say how a body is written with a [`Markup`].

mod boilerplate;
mod cut;
mod fold;
mod html;
mod items;
mod links;
#[cfg(test)]
mod strategies;
mod tokens;
mod xml;

pub use boilerplate::Boilerplate;
pub use cut::{derive_title, summarize};
pub use fold::fold_whitespace;
pub use html::plain_text;
pub use xml::{escape_html, xml_safe};

use fold::plain_paragraphs;
use html::clean_html_body;
use xml::push_escaped_html;

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

/// Cleans a stored body into sanitized HTML and plain text; `base` is the page
/// the body is published on, against which its relative URLs resolve (without
/// one, they are dropped).
///
/// Both come from one pass so that the summary can never show a paragraph the
/// content dropped (or the other way round).
pub fn clean_body(
    body: &str,
    markup: Markup,
    boilerplate: &Boilerplate,
    base: Option<&url::Url>,
) -> CleanBody {
    match markup {
        Markup::Text => clean_text_body(body, boilerplate),
        Markup::Html => clean_html_body(body, boilerplate, base),
    }
}

/// A plain-text body: paragraphs split at blank lines, boilerplate dropped, each
/// escaped into a `<p>` of its own.
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

/// What the tests of every part share: the sample article and checks of cuts.
#[cfg(test)]
mod test_support {
    use unicode_segmentation::UnicodeSegmentation;

    use super::cut::ELLIPSIS;
    use super::xml::is_removed;

    /// shared/sample-article.fr.txt as the site published it.
    pub(super) const SAMPLE_FR: &str = r#"Partager:

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

    pub(super) const DISCLAIMER: &str = "The English, Chinese, Japanese, Arabic, and French versions are automatically generated by the AI";

    pub(super) fn graphemes(s: &str) -> usize {
        s.graphemes(true).count()
    }

    pub(super) fn has_forbidden(s: &str) -> bool {
        s.chars().any(is_removed)
    }

    /// Asserts `cut` is `whole` itself, or whole graphemes from its start followed by "…", within `max`.
    pub(super) fn assert_cut_of(cut: &str, whole: &str, max: usize) {
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
}

#[cfg(test)]
mod tests {
    use super::test_support::{DISCLAIMER, SAMPLE_FR, graphemes, has_forbidden};
    use super::*;

    #[test]
    fn sample_french_article_loses_its_boilerplate() {
        let boilerplate = Boilerplate::new(["Partager:"], [DISCLAIMER]);
        let body = clean_body(SAMPLE_FR, Markup::Text, &boilerplate, None);

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
        let from_html = clean_body(&html_body, Markup::Html, &boilerplate, None);
        assert_eq!(from_html.text, body.text);
        assert_eq!(from_html.html, body.html);

        let summary = summarize(&body.text, 280);
        assert!(graphemes(&summary) <= 280);
        assert!(summary.starts_with(first_sentence));
        assert!(summary.ends_with('…'));
        assert!(!summary.contains('\n'));
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
            let clean = clean_body(body, Markup::Text, &boilerplate, None);
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
                let clean = clean_body(body, markup, &boilerplate, None);
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
            let clean = clean_body(body, Markup::Html, &boilerplate, None);
            assert_eq!(clean, CleanBody::default(), "{body:?}");
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
                let clean = clean_body(input, markup, &boilerplate, None);
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
    fn control_characters_are_removed_everywhere() {
        let forbidden = "\u{0}\u{1}\u{8}\u{B}\u{C}\u{E}\u{1F}\u{FFFE}\u{FFFF}";
        assert_eq!(
            xml_safe(&format!("a{forbidden}b\t\n\r\u{7F}\u{FFFD}")),
            // Vertical tab and form feed separate words: each becomes a space.
            "a  b\t\n\r\u{7F}\u{FFFD}"
        );
        assert_eq!(fold_whitespace("a\u{C}b\u{0}c \u{1} d"), "a bc d");

        let dirty = format!("Satu{forbidden} dua.\n\n{forbidden}\n\nTiga\u{B}empat &#1; &#xFFFF;");
        let clean = clean_body(&dirty, Markup::Text, &Boilerplate::default(), None);
        assert_eq!(clean.text, "Satu dua.\n\nTiga empat &#1; &#xFFFF;");
        assert_eq!(
            clean.html,
            "<p>Satu dua.</p>\n<p>Tiga empat &amp;#1; &amp;#xFFFF;</p>"
        );
        // As HTML, blank lines are only whitespace, and the references are decoded (then dropped).
        let clean = clean_body(&dirty, Markup::Html, &Boilerplate::default(), None);
        assert_eq!(clean.text, "Satu dua. Tiga empat");
        assert!(!has_forbidden(&clean.html), "{:?}", clean.html);
        let html = format!("<p title=\"x{forbidden}y&#2;\">a&#1;b&#x0B;c&#xFFFE;d{forbidden}</p>");
        let clean = clean_body(&html, Markup::Html, &Boilerplate::default(), None);
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
    fn one_rule_for_text_and_html() {
        let none = Boilerplate::default();
        // Raw, and as character references that the sanitizer decodes.
        for esc in ["\u{1b}", "&#27;", "&#x1B;"] {
            let html = format!(
                "<p><abbr title=\"x{esc}[1my\u{202E}z\">Teks</abbr> {esc}[1mtebal{esc}[0m\u{C}dan\u{2067}\u{B}miring</p>"
            );
            let clean = clean_body(&html, Markup::Html, &none, None);
            assert_eq!(
                clean.html, "<p><abbr title=\"xyz\">Teks</abbr> tebal dan miring</p>",
                "{html:?}"
            );
            assert_eq!(clean.text, "Teks tebal dan miring");
            assert_eq!(plain_text(&html), "Teks tebal dan miring");
        }
        let text = "Teks \u{1b}[1mtebal\u{1b}[0m\u{C}dan\u{2067}\u{B}miring";
        let clean = clean_body(text, Markup::Text, &none, None);
        assert_eq!(clean.html, "<p>Teks tebal dan miring</p>");
        assert_eq!(clean.text, "Teks tebal dan miring");
        for cut in [
            derive_title(text, 100),
            summarize(text, 100),
            fold_whitespace(text),
        ] {
            assert_eq!(cut, "Teks tebal dan miring");
        }
        // The marks Arabic and Hebrew need stay, in text and in HTML alike.
        let marked = "\u{200F}سعر ١٠٠\u{200E}$ \u{61C}٢ עברית\u{200E}";
        assert_eq!(fold_whitespace(marked), marked);
        assert_eq!(clean_body(marked, Markup::Html, &none, None).html, marked);
    }
}
