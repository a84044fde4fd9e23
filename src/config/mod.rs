//! `feeds.toml`: the site, its store, the server, the cache and the languages.
//!
//! Parsing is strict: unknown keys and bad values stop Kabar at start, and the
//! error names the file, the line and the key. Values are checked while they are
//! read (newtypes with `try_from`), so TOML's own spans point at the culprit; the
//! few cross-field rules are checked afterwards against spanned values.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

mod fedi;
mod hub;
mod values;

pub use fedi::ActivityPubConfig;
pub use hub::{HubConfig, Network, Signature};

pub use values::{
    BaseUrl, DatabaseUrl, Direction, LangCode, MAX_ID_LEN, PageUrl, Slug, TagAuthority, TagDate,
    is_valid_id,
};

/// A configuration error, already worded for a person: `file:line: key: problem`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: Site,
    pub store: StoreConfig,
    pub server: ServerConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub feeds: FeedsConfig,
    #[serde(default)]
    pub boilerplate: BoilerplateConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub hub: HubConfig,
    #[serde(default)]
    pub activitypub: ActivityPubConfig,
    #[serde(default)]
    pub sections: Vec<Section>,
    pub languages: Vec<Language>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    /// The news site whose pages the items link to.
    pub url: Url,
    pub original_language: Spanned<LangCode>,
    /// Dates in feeds are written in this zone, so every replica writes the same bytes.
    pub time_zone: Tz,
    /// Authority of the items' tag: URIs (RFC 4151), usually the site's domain.
    pub tag_authority: TagAuthority,
    /// Date part of the tag: URIs: a year or date when the authority was held.
    pub tag_date: TagDate,
    #[serde(default)]
    pub rights: Option<String>,
    #[serde(default)]
    pub icon: Option<Url>,
    #[serde(default)]
    pub logo: Option<Url>,
    /// WebSub hubs advertised in every feed.
    #[serde(default)]
    pub hubs: Vec<Url>,
}

/// Where articles live: exactly one of `path` (SQLite, one server) and `url`
/// (PostgreSQL, shared by several replicas). `KABAR_DATABASE_URL` overrides both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file; relative to the configuration file's folder.
    #[serde(default)]
    pub path: Option<Spanned<PathBuf>>,
    /// PostgreSQL database, `postgres://user@host:port/dbname`.
    #[serde(default)]
    pub url: Option<Spanned<DatabaseUrl>>,
    /// Folder of article JSON files imported when the store is first created.
    #[serde(default)]
    pub seed: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base of every URL Kabar writes about itself (self links, OPML, the index).
    pub public_url: BaseUrl,
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: NonZeroU64,
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: NonZeroUsize,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: NonZeroUsize,
    /// Keep large rendered bodies in an in-memory file and send them with
    /// `sendfile` (Linux; elsewhere, or if the file cannot be made, bodies
    /// stay in the heap and are written from there).
    #[serde(default = "default_sendfile")]
    pub sendfile: bool,
}

type NonZeroU64 = std::num::NonZeroU64;

fn default_header_read_timeout() -> NonZeroU64 {
    NonZeroU64::new(10).unwrap_or(NonZeroU64::MIN)
}

fn default_max_header_bytes() -> NonZeroUsize {
    NonZeroUsize::new(16 * 1024).unwrap_or(NonZeroUsize::MIN)
}

fn default_sendfile() -> bool {
    true
}

fn default_max_body_bytes() -> NonZeroUsize {
    NonZeroUsize::new(1024 * 1024).unwrap_or(NonZeroUsize::MIN)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Upper bound on the bytes of rendered bodies held (all encodings).
    pub max_bytes: u64,
    /// How long a render is kept; writes invalidate sooner.
    pub ttl_secs: u64,
    pub max_age_secs: u64,
    pub stale_while_revalidate_secs: u64,
    pub stale_if_error_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 64 * 1024 * 1024,
            ttl_secs: 3600,
            max_age_secs: 300,
            stale_while_revalidate_secs: 60,
            stale_if_error_secs: 86_400,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Items per feed (the newest N).
    pub items: NonZeroUsize,
    /// Longest summary, in grapheme clusters.
    pub summary_length: NonZeroUsize,
    /// Longest title, in grapheme clusters: derived titles and stored ones alike are cut to it.
    pub title_length: NonZeroUsize,
    /// RSS `<ttl>`: how long a reader may wait between polls.
    pub ttl_minutes: u32,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            items: NonZeroUsize::new(50).unwrap_or(NonZeroUsize::MIN),
            summary_length: NonZeroUsize::new(280).unwrap_or(NonZeroUsize::MIN),
            title_length: NonZeroUsize::new(110).unwrap_or(NonZeroUsize::MIN),
            ttl_minutes: 5,
        }
    }
}

/// The newsroom's write API. Tokens never live in this file: they come from
/// `KABAR_API_TOKEN` or from the file named here, one per line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// File of bearer tokens; relative to the configuration file's folder.
    pub token_file: Option<PathBuf>,
}

/// Paragraphs dropped from every body, in every language.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoilerplateConfig {
    /// Whole paragraphs equal to one of these (share-button labels).
    pub strip_labels: Vec<String>,
    /// Paragraphs starting with one of these (pasted disclaimers).
    pub strip_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub slug: Spanned<Slug>,
    /// The section's name in each language; a missing language falls back to the slug.
    pub names: Spanned<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    pub code: Spanned<LangCode>,
    /// The language's name in its own script, for the index page and OPML.
    pub name: String,
    #[serde(default)]
    pub direction: Direction,
    pub title: String,
    pub description: String,
    /// The site's home page in this language; the site's URL when missing.
    #[serde(default)]
    pub home_url: Option<Url>,
    /// Page of an article in this language: `{id}` and `{section}` are replaced.
    pub page_url: PageUrl,
    #[serde(default)]
    pub strip_labels: Vec<String>,
    #[serde(default)]
    pub strip_prefixes: Vec<String>,
    /// Shown at the end of a machine translation's content.
    #[serde(default)]
    pub machine_notice: Option<String>,
    /// Shown at the end of a human translation's content.
    #[serde(default)]
    pub human_notice: Option<String>,
    /// Text of the link to the original, after the notice.
    #[serde(default)]
    pub original_link: Option<String>,
    /// The language's fediverse account name (`@{account}@{host}`); the
    /// language code when missing.
    #[serde(default)]
    pub account: Option<Spanned<String>>,
}

impl Config {
    /// Reads and checks the configuration file; relative store paths are resolved
    /// against the file's folder so Kabar can be started from anywhere.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        let mut config = Config::parse(&source, &path.display().to_string())?;
        let dir = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(dir);
        Ok(config)
    }

    /// Parses configuration text; `file` names it in errors.
    pub fn parse(source: &str, file: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(source).map_err(|e| {
            let located = Located { source, file };
            located.error(e.span(), e.message())
        })?;
        config.check(&Located { source, file })?;
        Ok(config)
    }

    fn resolve_paths(&mut self, dir: &Path) {
        if let Some(path) = &mut self.store.path
            && path.get_ref().is_relative()
        {
            *path.get_mut() = dir.join(path.get_ref());
        }
        if let Some(seed) = &self.store.seed
            && seed.is_relative()
        {
            self.store.seed = Some(dir.join(seed));
        }
        if let Some(file) = &self.api.token_file
            && file.is_relative()
        {
            self.api.token_file = Some(dir.join(file));
        }
    }

    /// Cross-field rules TOML cannot express.
    fn check(&self, at: &Located) -> Result<(), ConfigError> {
        match (&self.store.path, &self.store.url) {
            (Some(_), Some(url)) => {
                return Err(at.error(
                    Some(url.span()),
                    "store.url: give either path (SQLite) or url (PostgreSQL), not both",
                ));
            }
            (None, None) => {
                return Err(at.error(
                    None,
                    "store: needs path (a SQLite file) or url (a PostgreSQL database)",
                ));
            }
            _ => {}
        }
        if let Err((span, problem)) = self.hub.check() {
            return Err(at.error(span, &problem));
        }
        if self.languages.is_empty() {
            return Err(at.error(
                None,
                "languages: at least one [[languages]] table is required",
            ));
        }
        for (i, lang) in self.languages.iter().enumerate() {
            if self.languages[..i]
                .iter()
                .any(|l| l.code.get_ref() == lang.code.get_ref())
            {
                return Err(at.error(
                    Some(lang.code.span()),
                    &format!("languages.code: {} is declared twice", lang.code.get_ref()),
                ));
            }
        }
        for lang in self.languages.iter().filter(|_| self.activitypub.enabled) {
            if !is_account_name(lang.account_name()) {
                let span = lang.account.as_ref().map_or(lang.code.span(), |a| a.span());
                return Err(at.error(
                    Some(span),
                    &format!(
                        "languages.account: {:?} is no fediverse account name (1 to 30 of \
                         a-z, 0-9 and '_'); set account for this language",
                        lang.account_name()
                    ),
                ));
            }
        }
        for (i, lang) in self.languages.iter().enumerate() {
            if self.activitypub.enabled
                && self.languages[..i]
                    .iter()
                    .any(|l| l.account_name() == lang.account_name())
            {
                return Err(at.error(
                    lang.account.as_ref().map(|a| a.span()),
                    &format!("languages.account: {} is used twice", lang.account_name()),
                ));
            }
        }
        let original = &self.site.original_language;
        if self.language(original.get_ref().as_str()).is_none() {
            return Err(at.error(
                Some(original.span()),
                &format!(
                    "site.original_language: {original} has no [[languages]] table",
                    original = original.get_ref()
                ),
            ));
        }
        for lang in self
            .languages
            .iter()
            .filter(|l| l.code.get_ref() != original.get_ref())
        {
            // A translated item must tell its reader so, in the reader's language.
            let missing = [
                ("machine_notice", &lang.machine_notice),
                ("human_notice", &lang.human_notice),
                ("original_link", &lang.original_link),
            ]
            .into_iter()
            .find(|(_, value)| value.as_deref().is_none_or(|v| v.trim().is_empty()));
            if let Some((key, _)) = missing {
                return Err(at.error(
                    Some(lang.code.span()),
                    &format!(
                        "languages.{key}: the {} table needs a {key}, shown on its translated items",
                        lang.code.get_ref()
                    ),
                ));
            }
        }
        for (i, section) in self.sections.iter().enumerate() {
            if self.sections[..i]
                .iter()
                .any(|s| s.slug.get_ref() == section.slug.get_ref())
            {
                return Err(at.error(
                    Some(section.slug.span()),
                    &format!(
                        "sections.slug: {} is declared twice",
                        section.slug.get_ref().as_str()
                    ),
                ));
            }
            for code in section.names.get_ref().keys() {
                if self.language(code).is_none() {
                    return Err(at.error(
                        Some(section.names.span()),
                        &format!(
                            "sections.names: {code:?} is not a configured language ({})",
                            self.language_codes().join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn language(&self, code: &str) -> Option<&Language> {
        self.languages
            .iter()
            .find(|l| l.code.get_ref().as_str() == code)
    }

    pub fn section(&self, slug: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.slug.get_ref().as_str() == slug)
    }

    pub fn language_codes(&self) -> Vec<&str> {
        self.languages.iter().map(Language::code).collect()
    }

    pub fn section_slugs(&self) -> Vec<&str> {
        self.sections.iter().map(Section::slug).collect()
    }

    pub fn original_language(&self) -> &str {
        self.site.original_language.get_ref().as_str()
    }
}

impl Language {
    pub fn code(&self) -> &str {
        self.code.get_ref().as_str()
    }

    /// The language's fediverse account name: `account`, else its code.
    pub fn account_name(&self) -> &str {
        self.account
            .as_ref()
            .map_or_else(|| self.code(), |a| a.get_ref().as_str())
    }
}

/// Whether `name` is a fediverse account name every server takes: Mastodon
/// allows a-z, 0-9 and `_` (30 at most) in the local part of a handle.
fn is_account_name(name: &str) -> bool {
    (1..=30).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Section {
    pub fn slug(&self) -> &str {
        self.slug.get_ref().as_str()
    }

    /// The section's name in `lang`, or its slug when none is configured.
    pub fn name(&self, lang: &str) -> &str {
        self.names
            .get_ref()
            .get(lang)
            .map_or(self.slug(), String::as_str)
    }
}

/// The configuration text, for turning byte spans into `file:line:column`.
struct Located<'a> {
    source: &'a str,
    file: &'a str,
}

impl Located<'_> {
    fn error(&self, span: Option<Range<usize>>, message: &str) -> ConfigError {
        let Some(span) = span else {
            return ConfigError(format!("{}: {message}", self.file));
        };
        let start = span.start.min(self.source.len());
        let before = &self.source[..self.source.floor_char_boundary(start)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let text = self.source.lines().nth(line - 1).unwrap_or("").trim_end();
        ConfigError(format!(
            "{}:{line}:{column}: {}\n    {line} | {text}",
            self.file,
            message.trim_end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLED: &str = include_str!("../../feeds.toml");

    fn parse(source: &str) -> Result<Config, String> {
        Config::parse(source, "feeds.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn the_bundled_configuration_is_valid() {
        let config = parse(BUNDLED).expect("bundled feeds.toml");
        assert_eq!(
            config.language_codes(),
            ["id", "en", "zh", "ja", "ar", "fr"]
        );
        assert_eq!(config.original_language(), "id");
        assert_eq!(config.section("world").map(|s| s.name("fr")), Some("Monde"));
        assert_eq!(
            config.language("ar").map(|l| l.direction),
            Some(Direction::Rtl)
        );
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let source = BUNDLED.replace("ttl_minutes = 5", "ttl_minutes = 5\ncolour = \"blue\"");
        let err = parse(&source).unwrap_err();
        let line = source
            .lines()
            .position(|l| l.starts_with("colour"))
            .unwrap()
            + 1;
        assert!(err.starts_with(&format!("feeds.toml:{line}:")), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn bad_values_name_the_line() {
        let source = BUNDLED.replace(
            "time_zone = \"Asia/Jakarta\"",
            "time_zone = \"Asia/Atlantis\"",
        );
        let err = parse(&source).unwrap_err();
        let line = source
            .lines()
            .position(|l| l.starts_with("time_zone"))
            .unwrap()
            + 1;
        assert!(err.starts_with(&format!("feeds.toml:{line}:")), "{err}");
        assert!(err.contains("time_zone"), "{err}");

        let source = BUNDLED.replace("items = 50", "items = 0");
        let err = parse(&source).unwrap_err();
        assert!(err.contains("items = 0"), "{err}");

        let source = BUNDLED.replace("code = \"fr\"", "code = \"FR\"");
        let err = parse(&source).unwrap_err();
        assert!(err.contains("not a language code"), "{err}");
    }

    #[test]
    fn cross_field_errors_point_at_the_value() {
        let source = BUNDLED.replace("code = \"fr\"", "code = \"en\"");
        let err = parse(&source).unwrap_err();
        assert!(err.contains("en is declared twice"), "{err}");
        assert!(err.contains("code = \"en\""), "{err}");

        let source = BUNDLED.replace("fr = \"Sport\"", "xx = \"Sport\"");
        let err = parse(&source).unwrap_err();
        assert!(err.contains("\"xx\" is not a configured language"), "{err}");

        let source = BUNDLED.replace("original_language = \"id\"", "original_language = \"ms\"");
        let err = parse(&source).unwrap_err();
        assert!(err.contains("ms has no [[languages]] table"), "{err}");
    }

    #[test]
    fn the_store_is_a_sqlite_file_or_a_postgres_url() {
        let path_line = "path = \"data/kabar.sqlite\"";
        let url = "url = \"postgres://kabar@db.internal:5432/kabar\"";
        let config = parse(&BUNDLED.replace(path_line, url)).expect("a URL alone");
        let got = config.store.url.as_ref().map(|u| u.get_ref().redacted());
        assert_eq!(
            got.as_deref(),
            Some("postgres://kabar@db.internal:5432/kabar")
        );
        assert!(config.store.path.is_none());

        let both = BUNDLED.replace(path_line, &format!("{path_line}\n{url}"));
        let err = parse(&both).unwrap_err();
        assert!(
            err.contains("either path (SQLite) or url (PostgreSQL)"),
            "{err}"
        );
        assert!(err.contains("db.internal"), "{err}");

        let err = parse(&BUNDLED.replace(path_line, "")).unwrap_err();
        assert!(err.contains("store: needs path"), "{err}");

        let secret = "url = \"postgres://kabar:hunter2@db.internal/kabar\"";
        let err = parse(&BUNDLED.replace(path_line, secret)).unwrap_err();
        assert!(err.contains("carries a password"), "{err}");
        assert!(err.contains("KABAR_DATABASE_URL"), "{err}");

        let err = parse(&BUNDLED.replace(path_line, "url = \"mysql://db/kabar\"")).unwrap_err();
        assert!(err.contains("postgres://"), "{err}");
    }

    #[test]
    fn database_urls_never_show_their_password() {
        let url = DatabaseUrl::parse("postgresql://kabar:hunter2@db:6432/news?sslmode=disable")
            .expect("a URL from the environment may carry a password");
        assert_eq!(url.to_string(), "postgresql://kabar@db:6432/news");
        assert_eq!(format!("{url:?}"), "postgresql://kabar@db:6432/news");
        assert!(url.secret().contains("hunter2"));
    }

    #[test]
    fn page_urls_expand() {
        let config = parse(BUNDLED).unwrap();
        let fr = config.language("fr").unwrap();
        assert_eq!(
            fr.page_url.expand("a-1", Some("world")),
            "https://kabar.example/fr/world/a-1"
        );
    }
}
