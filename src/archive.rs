//! Monthly archives (RFC 5005, "Feed Paging and Archiving"): an aggregator that
//! subscribes late walks `prev-archive` links back from the subscription feed
//! through one closed month at a time. Months are counted in the site's time
//! zone, so an article belongs to the month its readers saw it published in.

use std::fmt;
use std::ops::Range;

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;

/// Items in one archive document at most; a month of one language's news fits.
pub const MAX_ITEMS: usize = 5000;

/// A calendar month, `YYYY-MM` in routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// Parses `YYYY-MM` (years 1970 to 9999).
    pub fn parse(s: &str) -> Option<Month> {
        let (year, month) = s.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let month: u32 = month.parse().ok()?;
        ((1970..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(Month { year, month })
    }

    /// The month `unix_ms` falls in, in `zone`.
    pub fn of(unix_ms: i64, zone: Tz) -> Month {
        let time = chrono::DateTime::from_timestamp_millis(unix_ms)
            .unwrap_or_default()
            .with_timezone(&zone);
        Month {
            year: time.year(),
            month: time.month(),
        }
    }

    /// Unix milliseconds from the first instant of this month to the first of
    /// the next, in `zone`.
    pub fn range_ms(self, zone: Tz) -> Range<i64> {
        self.start_ms(zone)..self.next().start_ms(zone)
    }

    fn start_ms(self, zone: Tz) -> i64 {
        zone.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .earliest()
            .map_or(i64::MAX, |t| t.timestamp_millis())
    }

    fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The route of a language's archive for `month`, without the leading `/`.
pub fn path(lang: &str, month: Month) -> String {
    format!("{lang}/archive/{month}/atom.xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(
            Month::parse("2026-10").map(|m| m.to_string()),
            Some("2026-10".to_owned())
        );
        for bad in [
            "2026-13",
            "2026-00",
            "26-10",
            "2026-1",
            "2026/10",
            "1969-12",
            "2026-10-01",
            "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn months_follow_the_site_time_zone() {
        let jakarta: Tz = "Asia/Jakarta".parse().unwrap();
        // 2026-10-31T20:00:00Z is already November 1st in Jakarta (UTC+7).
        let ms = chrono::Utc
            .with_ymd_and_hms(2026, 10, 31, 20, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(Month::of(ms, jakarta).to_string(), "2026-11");
        let october = Month::parse("2026-10").unwrap().range_ms(jakarta);
        assert!(!october.contains(&ms));
        assert_eq!(
            october.end,
            Month::parse("2026-11").unwrap().range_ms(jakarta).start
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
    }
}
