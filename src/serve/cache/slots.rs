//! A dense index for every resource the configuration defines, so that
//! generations and hot slots are plain arrays: feeds by (language, section,
//! format), then the OPML list and the index page, then one slot per language
//! that all its archive months and their pages share, then each language's
//! news sitemap and the sitemap index, then one slot per language that all its
//! preview pages share.

use crate::config::Config;
use crate::urls::{Format, Resource};

#[derive(Debug, Clone, Copy)]
pub(super) struct Slots {
    langs: usize,
    sections: usize,
}

impl Slots {
    pub fn new(config: &Config) -> Self {
        Slots {
            langs: config.languages.len(),
            sections: config.sections.len(),
        }
    }

    /// How many slots there are.
    pub fn len(self) -> usize {
        self.feeds() + 2 + 3 * self.langs + 1
    }

    /// The slot of `resource`; `None` when its indexes name nothing in the
    /// configuration, so a bad index never lands on another resource's slot.
    pub fn of(self, resource: Resource) -> Option<usize> {
        let feeds = self.feeds();
        match resource {
            Resource::Feed {
                lang,
                section,
                format,
            } => {
                if lang >= self.langs || section.is_some_and(|s| s >= self.sections) {
                    return None;
                }
                let section = section.map_or(0, |s| s + 1);
                Some(lang * self.per_lang() + section * Format::ALL.len() + format_index(format))
            }
            Resource::Opml => Some(feeds),
            Resource::Index => Some(feeds + 1),
            Resource::Archive { lang, .. } | Resource::ArchivePreview { lang, .. } => {
                self.archives(lang)
            }
            Resource::NewsSitemap { lang } => {
                (lang < self.langs).then_some(feeds + 2 + self.langs + lang)
            }
            Resource::SitemapIndex => Some(feeds + 2 + 2 * self.langs),
            Resource::Preview { lang, section, .. } => {
                if section.is_some_and(|s| s >= self.sections) {
                    return None;
                }
                self.previews(lang)
            }
            // Tag feeds have no slot: see `tags`.
            Resource::Tag { .. } | Resource::TagPreview { .. } => None,
        }
    }

    /// The one slot all preview pages of language `lang` share: any write
    /// touching the language retires them all (they are cached only while
    /// people look at them, without hot slots).
    pub fn previews(self, lang: usize) -> Option<usize> {
        (lang < self.langs).then_some(self.feeds() + 2 + 2 * self.langs + 1 + lang)
    }

    /// The one slot all archive months of language `lang`, and their pages,
    /// share: any write touching the language retires them all (months are
    /// unbounded, and archives are rarely read).
    pub fn archives(self, lang: usize) -> Option<usize> {
        (lang < self.langs).then_some(self.feeds() + 2 + lang)
    }

    /// Feed slots of one language: its own feed and each section's, in every format.
    fn per_lang(self) -> usize {
        (self.sections + 1) * Format::ALL.len()
    }

    fn feeds(self) -> usize {
        self.langs * self.per_lang()
    }
}

fn format_index(format: Format) -> usize {
    match format {
        Format::Rss => 0,
        Format::Atom => 1,
        Format::Json => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls::Month;

    #[test]
    fn every_resource_has_a_slot_of_its_own() {
        let config =
            Config::parse(include_str!("../../../feeds.toml"), "feeds.toml").expect("config");
        let slots = Slots::new(&config);
        let mut seen = vec![false; slots.len()];
        let mut mark = |resource: Resource| {
            let slot = slots.of(resource).expect("a configured resource");
            assert!(!seen[slot], "{resource:?} shares slot {slot}");
            seen[slot] = true;
        };
        mark(Resource::Opml);
        mark(Resource::Index);
        mark(Resource::SitemapIndex);
        for lang in 0..config.languages.len() {
            mark(Resource::NewsSitemap { lang });
            let month = Month::parse("2026-01").expect("month");
            mark(Resource::Archive { lang, month });
            assert_eq!(
                slots.of(Resource::ArchivePreview { lang, month }),
                slots.archives(lang),
                "an archive's page goes with its archive"
            );
            mark(Resource::Preview {
                lang,
                section: None,
                format: Format::Rss,
            });
            for section in std::iter::once(None).chain((0..config.sections.len()).map(Some)) {
                for format in Format::ALL {
                    mark(Resource::Feed {
                        lang,
                        section,
                        format,
                    });
                }
            }
        }
        assert!(seen.iter().all(|s| *s), "every slot is some resource's");
    }

    #[test]
    fn indexes_beyond_the_configuration_have_no_slot() {
        let config =
            Config::parse(include_str!("../../../feeds.toml"), "feeds.toml").expect("config");
        let slots = Slots::new(&config);
        let langs = config.languages.len();
        let sections = config.sections.len();
        for resource in [
            Resource::Feed {
                lang: langs,
                section: None,
                format: Format::Rss,
            },
            Resource::Feed {
                lang: 0,
                section: Some(sections),
                format: Format::Json,
            },
            Resource::Archive {
                lang: langs,
                month: Month::parse("2026-01").expect("month"),
            },
            Resource::NewsSitemap { lang: langs },
        ] {
            assert_eq!(slots.of(resource), None, "{resource:?}");
        }
    }
}
