//! A feed as a page a person reads: what a browser gets when someone opens a
//! feed's URL, and the feed's `feed.html`. It says what a feed is, offers the
//! feed's URL to copy, and lists the newest items as the feed has them, in the
//! feed's language and direction.
//!
//! The page loads nothing from elsewhere but the items' images; its one style
//! sheet and its few lines of script are allowed by their hashes in a strict
//! `Content-Security-Policy` ([`Preview::policy`]), and it reads the same with
//! script off (the copy button alone needs it, and stays hidden without it).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::LazyLock;

use base64::Engine;
use chrono::Locale;

use super::format_label;
use crate::config::Config;
use crate::feed::{self, Feed, Item, archive};
use crate::text::{escape_html as esc, xml_safe};
use crate::urls::{self, Format, Month};

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1d232a;--muted:#5b6570;--bg:#f6f4ef;--card:#fff;--line:#e3ded3;--accent:#b3261e}
@media (prefers-color-scheme:dark){:root{--fg:#e9e6df;--muted:#a7a29a;--bg:#16181b;--card:#1f2226;--line:#33373c;--accent:#ff8a80}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans Arabic','Noto Sans CJK SC',sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:46rem;margin:auto;padding:0 1.25rem}
header{padding-top:2.25rem}
.kind{display:inline-block;font:600 .75rem/1 ui-monospace,monospace;color:var(--accent);border:1px solid currentColor;border-radius:999px;padding:.3rem .55rem;margin:0}
h1{margin:.6rem 0 .25rem;font-size:1.9rem;line-height:1.25}
.desc{color:var(--muted);margin:0 0 1.25rem}
.about{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:1rem 1.25rem;margin-bottom:2rem}
.about h2{font-size:1.05rem;margin:0 0 .35rem}
.about p{margin:.35rem 0}
.copy{display:flex;gap:.5rem;margin:.75rem 0}
.copy input{flex:1;min-width:0;font:.9rem ui-monospace,monospace;padding:.5rem .6rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
.copy button{font:600 .9rem system-ui,sans-serif;padding:.5rem .9rem;border:0;border-radius:8px;background:var(--accent);color:var(--card);cursor:pointer}
.links a{color:var(--accent)}
main>h2{font-size:1.2rem;border-bottom:1px solid var(--line);padding-bottom:.4rem}
article{padding:1rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
article h3{margin:0 0 .2rem;font-size:1.15rem;line-height:1.35}
article h3 a{color:inherit}
article img{max-width:100%;height:auto;border-radius:8px}
figure{margin:0 0 .5rem}
.meta{color:var(--muted);font-size:.85rem;margin:0 0 .35rem}
.summary{margin:.35rem 0}
.notice{font-size:.85rem;color:var(--muted);margin:.35rem 0 0}
.notice a{color:var(--accent)}
footer{padding-top:1.5rem;padding-bottom:2.5rem;color:var(--muted);font-size:.9rem}
footer a{color:inherit}
";

/// Shows the copy button (hidden for readers without script) and copies the
/// feed's URL with it; where the clipboard is refused, it selects the URL so
/// that the reader's own copy takes it.
const SCRIPT: &str = "
for(const b of document.querySelectorAll('button[data-copy]')){const f=document.getElementById(b.dataset.copy);b.hidden=false;b.addEventListener('click',()=>{f.select();const done=()=>{b.textContent=b.dataset.done};if(navigator.clipboard){navigator.clipboard.writeText(f.value).then(done,()=>{})}})}
";

/// `'sha256-…'` sources for the policy: the style sheet's and the script's.
static HASHES: LazyLock<(String, String)> =
    LazyLock::new(|| (source_hash(STYLE), source_hash(SCRIPT)));

fn source_hash(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// A rendered preview page and the `Content-Security-Policy` it is served with.
pub struct Preview {
    pub html: Vec<u8>,
    /// Allows the page's own style and script by hash, and images from the
    /// origins its items' images come from; nothing else.
    pub policy: String,
}

/// A monthly archive's place among its language's months, for its page's
/// links to the months either side.
pub struct ArchiveMonths {
    pub month: Month,
    /// The closest earlier month with items.
    pub older: Option<Month>,
    /// The closest later closed month with items; `None` for the newest archive.
    pub newer: Option<Month>,
}

/// The preview of `feed`, offering its URL in `format` to copy.
pub fn render(config: &Config, feed: &Feed, format: Format) -> Preview {
    page(config, feed, format, None)
}

/// The page of a monthly archive (always Atom): the month's items, with links
/// to the months either side and to the feed the archive belongs to.
pub fn render_archive(config: &Config, feed: &Feed, months: &ArchiveMonths) -> Preview {
    page(config, feed, Format::Atom, Some(months))
}

/// What a feed's page and an archive's page show differently.
struct Shown {
    /// The page's title and `h1`, escaped.
    title: String,
    /// The formats the page links as alternates.
    formats: &'static [Format],
    explain: &'static str,
    /// The links under the URL to copy (before "All feeds").
    links: String,
    /// Over the items, escaped.
    heading: String,
}

impl Shown {
    fn feed(feed: &Feed, words: &Words, format: Format) -> Shown {
        Shown {
            title: esc(&feed.title),
            formats: &Format::ALL,
            explain: words.explain,
            links: format_links(feed, words, format),
            heading: words.latest.to_owned(),
        }
    }

    /// An archive is an Atom document only: its other formats would be the
    /// subscription feed's.
    fn archive(config: &Config, feed: &Feed, words: &Words, months: &ArchiveMonths) -> Shown {
        Shown {
            title: esc(&archive_title(feed, words, months.month)),
            formats: &[Format::Atom],
            explain: words.archive_explain,
            links: archive_links(config, feed, words, months),
            heading: esc(&month_name(words, months.month)),
        }
    }
}

fn page(config: &Config, feed: &Feed, format: Format, archive: Option<&ArchiveMonths>) -> Preview {
    let words = Words::of(&feed.lang);
    let shown = match archive {
        Some(months) => Shown::archive(config, feed, &words, months),
        None => Shown::feed(feed, &words, format),
    };
    let mut out = String::with_capacity(8192 + feed.items.len() * 1024);
    write_head(&mut out, config, feed, format, &shown);
    write_header(&mut out, config, feed, format, &words, &shown);
    if feed.items.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", words.empty);
    }
    let language = config.language(&feed.lang);
    for item in &feed.items {
        let notice = language.and_then(|l| feed::notice(l, item.translation));
        write_item(&mut out, config, item, &words, notice);
    }
    let _ = write!(
        out,
        "</main>\n<footer><a href=\"{}\">{}</a></footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(&feed.home_url),
        esc(&xml_safe(&config.site.name)),
    );
    Preview {
        html: out.into_bytes(),
        policy: policy(config, feed),
    }
}

/// From the doctype to the end of `head`: language and direction, title,
/// canonical URL, icon, the feed's formats, the style sheet.
fn write_head(out: &mut String, config: &Config, feed: &Feed, format: Format, shown: &Shown) {
    let title = &shown.title;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex, follow\">\n\
         <title>{title} · {label}</title>\n<link rel=\"canonical\" href=\"{canonical}\">\n",
        lang = esc(&feed.lang),
        dir = feed.direction.as_str(),
        label = format_label(format),
        canonical = esc(feed.preview_url.as_deref().unwrap_or_default()),
    );
    if let Some(icon) = &config.site.icon {
        let _ = writeln!(out, "<link rel=\"icon\" href=\"{}\">", esc(icon.as_str()));
    }
    for &f in shown.formats {
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"{}\" title=\"{title} ({})\" href=\"{}\">",
            f.media_type(),
            format_label(f),
            esc(feed.urls.get(f)),
        );
    }
    let _ = write!(out, "<style>{STYLE}</style>\n</head>\n");
}

/// The page's header (title, what a feed is, the URL to copy, links) and
/// the heading over the items.
fn write_header(
    out: &mut String,
    config: &Config,
    feed: &Feed,
    format: Format,
    words: &Words,
    shown: &Shown,
) {
    let _ = write!(
        out,
        "<body>\n<header>\n\
         <p class=\"kind\" dir=\"ltr\">{label}</p>\n<h1>{title}</h1>\n<p class=\"desc\">{desc}</p>\n\
         <section class=\"about\">\n<h2>{what}</h2>\n<p>{explain}</p>\n\
         <div class=\"copy\"><input id=\"feed-url\" type=\"url\" dir=\"ltr\" readonly value=\"{feed_url}\" aria-label=\"{label}\">\
         <button type=\"button\" hidden data-copy=\"feed-url\" data-done=\"{copied}\">{copy}</button></div>\n\
         <p class=\"links\">{links} · <a href=\"{index}\">{all_feeds}</a></p>\n</section>\n</header>\n\
         <main>\n<h2>{heading}</h2>\n",
        label = format_label(format),
        title = shown.title,
        desc = esc(&feed.description),
        what = words.what,
        explain = shown.explain,
        feed_url = esc(feed.urls.get(format)),
        copied = words.copied,
        copy = words.copy,
        links = shown.links,
        index = esc(&urls::index_url(config)),
        all_feeds = words.all_feeds,
        heading = shown.heading,
    );
}

/// "Also as" and the feed's other formats.
fn format_links(feed: &Feed, words: &Words, format: Format) -> String {
    let others: Vec<String> = Format::ALL
        .into_iter()
        .filter(|f| *f != format)
        .map(|f| {
            format!(
                "<a href=\"{}\" type=\"{}\" dir=\"ltr\">{}</a>",
                esc(feed.urls.get(f)),
                f.media_type(),
                format_label(f)
            )
        })
        .collect();
    format!("{} {}", words.also, others.join(" · "))
}

/// The pages of the months either side of an archive, and of the feed it
/// belongs to.
fn archive_links(config: &Config, feed: &Feed, words: &Words, months: &ArchiveMonths) -> String {
    let month_link = |label: &str, month: Month| {
        format!(
            "<a href=\"{}\">{label}{}</a>",
            esc(&urls::archive_preview_url(config, &feed.lang, month)),
            esc(&month_name(words, month)),
        )
    };
    let mut links = Vec::with_capacity(3);
    links.extend(months.older.map(|m| month_link(words.older, m)));
    links.extend(months.newer.map(|m| month_link(words.newer, m)));
    links.push(format!(
        "<a href=\"{}\">{}</a>",
        esc(&urls::preview_url(config, &feed.lang, None)),
        words.current,
    ));
    links.join(" · ")
}

/// An archive's title with its month written the language's way, as a
/// person reads it, rather than the document's `YYYY-MM`.
fn archive_title(feed: &Feed, words: &Words, month: Month) -> String {
    let suffix = format!(" — {}{month}", archive::month_mark(feed.direction));
    match feed.title.strip_suffix(&suffix) {
        Some(title) => format!("{title} — {}", month_name(words, month)),
        None => feed.title.clone(),
    }
}

/// `month` as the language writes a month of a year.
fn month_name(words: &Words, month: Month) -> String {
    month
        .first_day()
        .format_localized(words.month, words.locale)
        .to_string()
}

fn write_item(out: &mut String, config: &Config, item: &Item, words: &Words, notice: Option<&str>) {
    out.push_str("<article>\n");
    if let Some(image) = &item.image {
        let _ = write!(
            out,
            "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"",
            esc(image.url.as_str()),
            esc(image.alt.as_deref().unwrap_or("")),
        );
        if let (Some(w), Some(h)) = (image.width, image.height) {
            let _ = write!(out, " width=\"{w}\" height=\"{h}\"");
        }
        out.push_str("></figure>\n");
    }
    let _ = write!(
        out,
        "<h3><a href=\"{}\">{}</a></h3>\n<p class=\"meta\"><time datetime=\"{}\">{}</time>",
        esc(&item.link),
        esc(&item.title),
        item.published.to_rfc3339(),
        esc(&item
            .published
            .format_localized(words.date, words.locale)
            .to_string()),
    );
    if let Some(section) = &item.section {
        let _ = write!(out, " · {}", esc(&section.name));
    }
    let _ = write!(
        out,
        "</p>\n<p class=\"summary\">{}</p>\n",
        esc(&item.summary)
    );
    if let Some(original) = &item.original {
        let language = config.language(&item.lang);
        let link_text = language
            .and_then(|l| l.original_link.as_deref())
            .unwrap_or(&original.url);
        let _ = writeln!(
            out,
            "<p class=\"notice\"><em>{}</em> <a href=\"{}\" hreflang=\"{}\">{}</a></p>",
            esc(notice.unwrap_or_default()),
            esc(&original.url),
            esc(&original.lang),
            esc(link_text),
        );
    }
    out.push_str("</article>\n");
}

/// The policy for `feed`'s page: its style and script by hash, images from
/// the origins of its items' images and the site's icon only, and no other
/// fetch, form, frame or base.
fn policy(config: &Config, feed: &Feed) -> String {
    let origins: BTreeSet<String> = feed
        .items
        .iter()
        .filter_map(|item| item.image.as_ref().map(|image| &image.url))
        .chain(&config.site.icon)
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .collect();
    let images = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.into_iter().collect::<Vec<_>>().join(" ")
    };
    let (style, script) = &*HASHES;
    format!(
        "default-src 'none'; style-src {style}; script-src {script}; img-src {images}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The page's words in the feed's language, and how it writes dates.
struct Words {
    what: &'static str,
    explain: &'static str,
    copy: &'static str,
    copied: &'static str,
    also: &'static str,
    /// What a monthly archive is, in place of `explain` on its page.
    archive_explain: &'static str,
    /// Before the name of the month an archive's page links back to.
    older: &'static str,
    /// Before the name of the month an archive's page links on to.
    newer: &'static str,
    /// The link from an archive's page to its feed's.
    current: &'static str,
    all_feeds: &'static str,
    latest: &'static str,
    empty: &'static str,
    /// A `strftime` pattern, with month names from `locale`.
    date: &'static str,
    /// A `strftime` pattern for a month of a year.
    month: &'static str,
    locale: Locale,
}

impl Words {
    /// The words for language `code` (its primary subtag); English for a
    /// language Kabar has no words for.
    fn of(code: &str) -> Words {
        let primary = code.split('-').next().unwrap_or(code);
        match primary {
            "id" => Words {
                what: "Apa ini?",
                explain: "Ini adalah feed berita: alamat web yang diperiksa oleh aplikasi pembaca feed untuk menemukan artikel baru. Salin alamat ini ke pembaca feed Anda untuk mengikuti artikel terbaru tanpa perlu membuka situs.",
                copy: "Salin",
                copied: "Tersalin",
                also: "Juga tersedia sebagai",
                archive_explain: "Ini adalah arsip bulanan: semua artikel satu bulan dalam satu dokumen Atom yang tidak berubah lagi. Pembaca feed yang membaca arsip memakainya untuk melengkapi artikel lama. Untuk mengikuti artikel baru, langgani feed terkini.",
                older: "Sebelumnya: ",
                newer: "Berikutnya: ",
                current: "Feed terkini",
                all_feeds: "Semua feed",
                latest: "Artikel terbaru",
                empty: "Belum ada artikel.",
                date: "%-d %B %Y, %H.%M",
                month: "%B %Y",
                locale: Locale::id_ID,
            },
            "fr" => Words {
                what: "Qu’est-ce que c’est\u{a0}?",
                explain: "Ceci est un flux d’actualités\u{a0}: une adresse web que votre lecteur de flux consulte pour y trouver les nouveaux articles. Copiez-la dans votre lecteur de flux pour suivre les derniers articles sans passer par le site.",
                copy: "Copier",
                copied: "Copié",
                also: "Aussi en",
                archive_explain: "Ceci est une archive mensuelle\u{a0}: tous les articles d’un mois dans un seul document Atom, qui ne change plus. Les lecteurs de flux qui lisent les archives s’en servent pour retrouver les articles plus anciens. Pour suivre les nouveaux articles, abonnez-vous au flux actuel.",
                older: "Plus ancien\u{a0}: ",
                newer: "Plus récent\u{a0}: ",
                current: "Flux actuel",
                all_feeds: "Tous les flux",
                latest: "Derniers articles",
                empty: "Aucun article pour l’instant.",
                date: "%-d %B %Y à %H:%M",
                month: "%B %Y",
                locale: Locale::fr_FR,
            },
            "zh" => Words {
                what: "这是什么？",
                explain: "这是一个新闻订阅源：订阅源阅读器会定期检查这个网址并取回新文章。把它复制到你的阅读器里，无需访问网站即可关注最新文章。",
                copy: "复制",
                copied: "已复制",
                also: "其他格式：",
                archive_explain: "这是月度存档：某个月的全部文章，收录在一个不再变动的 Atom 文档中。支持存档的阅读器用它补全较早的文章。若要关注新文章，请订阅当前订阅源。",
                older: "较早：",
                newer: "较新：",
                current: "当前订阅源",
                all_feeds: "全部订阅源",
                latest: "最新文章",
                empty: "暂无文章。",
                date: "%Y年%-m月%-d日 %H:%M",
                month: "%Y年%-m月",
                locale: Locale::zh_CN,
            },
            "ja" => Words {
                what: "これは何ですか？",
                explain: "これはニュースフィードです。フィードリーダーがこのURLを確認して新しい記事を取得します。お使いのフィードリーダーにコピーして登録すると、サイトを開かなくても最新の記事を読めます。",
                copy: "コピー",
                copied: "コピーしました",
                also: "他の形式：",
                archive_explain: "これは月別アーカイブです。ある月のすべての記事を、もう変わらない一つの Atom 文書にまとめたものです。アーカイブに対応したフィードリーダーは、これを使って過去の記事を補います。新しい記事を読むには、現在のフィードを登録してください。",
                older: "前の月：",
                newer: "次の月：",
                current: "現在のフィード",
                all_feeds: "すべてのフィード",
                latest: "最新の記事",
                empty: "まだ記事がありません。",
                date: "%Y年%-m月%-d日 %H:%M",
                month: "%Y年%-m月",
                locale: Locale::ja_JP,
            },
            "ar" => Words {
                what: "ما هذا؟",
                explain: "هذه خلاصة أخبار: عنوان ويب يتحقق منه قارئ الخلاصات بحثًا عن مقالات جديدة. انسخه إلى قارئ الخلاصات لديك لمتابعة أحدث المقالات دون زيارة الموقع.",
                copy: "نسخ",
                copied: "تم النسخ",
                also: "متاحة أيضًا بصيغة",
                archive_explain: "هذا أرشيف شهري: كل مقالات شهر واحد في مستند Atom واحد لا يتغير بعد الآن. تستخدمه برامج قراءة الخلاصات التي تقرأ الأرشيف لاستكمال المقالات الأقدم. لمتابعة المقالات الجديدة، اشترك في الخلاصة الحالية.",
                older: "الأقدم: ",
                newer: "الأحدث: ",
                current: "الخلاصة الحالية",
                all_feeds: "كل الخلاصات",
                latest: "أحدث المقالات",
                empty: "لا توجد مقالات بعد.",
                date: "%-d %B %Y، %H:%M",
                month: "%B %Y",
                locale: Locale::ar_EG,
            },
            _ => Words {
                what: "What is this?",
                explain: "This is a news feed: a web address that feed reader apps check for new articles. Copy it into your feed reader to follow the latest articles without visiting the site.",
                copy: "Copy",
                copied: "Copied",
                also: "Also as",
                archive_explain: "This is a monthly archive: every article of one month in a single Atom document that no longer changes. Feed readers that read archives use it to fill in older articles. To follow new articles, subscribe to the current feed.",
                older: "Older: ",
                newer: "Newer: ",
                current: "Current feed",
                all_feeds: "All feeds",
                latest: "Latest articles",
                empty: "No articles yet.",
                date: "%B %-d, %Y, %H:%M",
                month: "%B %Y",
                locale: Locale::en_US,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        // The hashes are of the exact text between the tags, as browsers hash it.
        let (style, script) = &*HASHES;
        assert_eq!(style, &source_hash(STYLE));
        assert!(style.starts_with("'sha256-") && style.ends_with("='"));
        assert_ne!(style, script);
    }

    #[test]
    fn dates_follow_the_language() {
        let zone: chrono_tz::Tz = "Asia/Jakarta".parse().expect("zone");
        let time = chrono::TimeZone::with_ymd_and_hms(&zone, 2026, 12, 4, 9, 5, 0).unwrap();
        let date = |code: &str| {
            let words = Words::of(code);
            time.format_localized(words.date, words.locale).to_string()
        };
        assert_eq!(date("id"), "4 Desember 2026, 09.05");
        assert_eq!(date("fr"), "4 décembre 2026 à 09:05");
        assert_eq!(date("zh"), "2026年12月4日 09:05");
        assert_eq!(date("ja"), "2026年12月4日 09:05");
        assert_eq!(date("en"), "December 4, 2026, 09:05");
        assert_eq!(date("de"), "December 4, 2026, 09:05");
        assert!(date("ar").starts_with("4 ديسمبر 2026"), "{}", date("ar"));
    }

    #[test]
    fn months_follow_the_language() {
        let month = Month::parse("2026-10").expect("month");
        let name = |code: &str| month_name(&Words::of(code), month);
        assert_eq!(name("id"), "Oktober 2026");
        assert_eq!(name("fr"), "octobre 2026");
        assert_eq!(name("en"), "October 2026");
        assert_eq!(name("zh"), "2026年10月");
        assert_eq!(name("ja"), "2026年10月");
        assert_eq!(name("ar"), "أكتوبر 2026");
    }
}
