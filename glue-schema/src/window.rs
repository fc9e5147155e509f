//! The lake window: the `created_date`s Athena's partition projection can show.
//!
//! The table's `projection.created_date.range` (`table.json`, default `2020-01-01,NOW+1DAYS`)
//! is the only list of dates Athena ever looks at: a file under any other date is stored but
//! invisible to every query. The transform therefore rejects events whose UTC date falls
//! outside it (`../shared/spec/contract.md`, "the lake window"), and a stage that widens the
//! range (the CDK's `lakeDateRange`) moves both bounds with one setting.
//!
//! The grammar is the part of Athena's range syntax that makes sense for a `yyyy-MM-dd`
//! projection (<https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html>,
//! "Date type"): `START,END` where `START` is a date `yyyy-MM-dd` and `END` is a date,
//! `NOW`, or `NOW+<n>DAYS` / `NOW-<n>DAYS`. Other units (hours, years …) and a relative
//! start are refused: a start that moves would hide data that was accepted.
//! `glue-schema/lake-window-cases.json` holds the cases this parser and the CDK's check agree on.

use std::fmt;
use std::sync::OnceLock;

/// Seconds per day.
const DAY: i64 = 86_400;

/// Why a range text is not a lake window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lake date range `{range}` is not valid: {reason}")]
pub struct WindowError {
    /// The text as given.
    pub range: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Where the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowEnd {
    /// The processing day plus this many days (`NOW+1DAYS` is 1; may be negative).
    Now {
        /// Days after the processing day.
        days_ahead: i64,
    },
    /// A fixed last day (days since 1970-01-01).
    Day(i64),
}

/// The lake window of a stage: the first day and where the last one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeWindow {
    first_day: i64,
    end: WindowEnd,
    text: String,
}

/// The inclusive range of UTC days (days since 1970-01-01) a window allows at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// First day allowed.
    pub first: i64,
    /// Last day allowed.
    pub last: i64,
}

impl DayRange {
    /// Whether the UTC date of `created_at` (Unix seconds) is inside.
    #[inline]
    pub fn contains(&self, created_at: u64) -> bool {
        let day = utc_day(created_at);
        self.first <= day && day <= self.last
    }
}

/// The UTC day (days since 1970-01-01) of `created_at` (Unix seconds).
#[inline]
pub fn utc_day(created_at: u64) -> i64 {
    (created_at / DAY as u64) as i64
}

impl LakeWindow {
    /// Parses a projection range such as `2020-01-01,NOW+1DAYS`.
    pub fn parse(range: &str) -> Result<LakeWindow, WindowError> {
        let err = |reason: &str| WindowError {
            range: range.to_string(),
            reason: reason.to_string(),
        };
        let (start, end) = range
            .split_once(',')
            .ok_or_else(|| err("expected START,END, e.g. 2020-01-01,NOW+1DAYS"))?;
        let first_day = parse_date(start.trim())
            .ok_or_else(|| err("START must be a date yyyy-MM-dd (a relative start would hide accepted data)"))?;
        let end_text = end.trim();
        let end = if let Some(rest) = end_text.strip_prefix("NOW") {
            let days_ahead = if rest.is_empty() {
                0
            } else {
                let (sign, n) = match rest.as_bytes()[0] {
                    b'+' => (1, &rest[1..]),
                    b'-' => (-1, &rest[1..]),
                    _ => return Err(err("END must be a date, NOW, or NOW+<n>DAYS")),
                };
                let n = n
                    .strip_suffix("DAYS")
                    .filter(|d| !d.is_empty() && d.len() <= 4 && d.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| err("END must be a date, NOW, or NOW+<n>DAYS (n at most 9999, unit DAYS)"))?;
                sign * n.parse::<i64>().map_err(|_| err("bad number of days"))?
            };
            WindowEnd::Now { days_ahead }
        } else {
            WindowEnd::Day(
                parse_date(end_text).ok_or_else(|| err("END must be a date yyyy-MM-dd, NOW, or NOW+<n>DAYS"))?,
            )
        };
        if let WindowEnd::Day(last) = end {
            if last < first_day {
                return Err(err("END is before START"));
            }
        }
        Ok(LakeWindow {
            first_day,
            end,
            text: range.to_string(),
        })
    }

    /// The window of the embedded `table.json` (`projection.created_date.range`), parsed once.
    /// `Table::validate` parses it too, so this never fails in a tested build.
    pub fn embedded() -> &'static LakeWindow {
        static WINDOW: OnceLock<LakeWindow> = OnceLock::new();
        WINDOW.get_or_init(|| {
            let range = &crate::Table::embedded().projection.created_date.range;
            match LakeWindow::parse(range) {
                Ok(w) => w,
                Err(e) => panic!("glue-schema/table.json: {e}"),
            }
        })
    }

    /// The range text, as Athena's `projection.created_date.range` takes it.
    pub fn range(&self) -> &str {
        &self.text
    }

    /// The first day (days since 1970-01-01).
    pub fn first_day(&self) -> i64 {
        self.first_day
    }

    /// Where the window ends.
    pub fn end(&self) -> WindowEnd {
        self.end
    }

    /// The days allowed when processing at `now` (Unix seconds).
    pub fn days_at(&self, now: i64) -> DayRange {
        let last = match self.end {
            WindowEnd::Now { days_ahead } => now.div_euclid(DAY) + days_ahead,
            WindowEnd::Day(d) => d,
        };
        DayRange {
            first: self.first_day,
            last,
        }
    }
}

impl fmt::Display for LakeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Days since 1970-01-01 of a `yyyy-MM-dd` date (proleptic Gregorian, years 0000–9999).
pub fn parse_date(s: &str) -> Option<i64> {
    if !crate::is_date(s) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2020-01-01"), Some(18_262));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("9999-12-31"), Some(2_932_896));
        for bad in [
            "2023-02-29",
            "2020-13-01",
            "2020-00-10",
            "2020-1-01",
            "20200101xx",
            "+020-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_embedded_window_is_the_tables_range() {
        let w = LakeWindow::embedded();
        assert_eq!(w.range(), crate::Table::embedded().projection.created_date.range);
        assert_eq!(w.end(), WindowEnd::Now { days_ahead: 1 });
        assert_eq!(w.first_day(), parse_date("2020-01-01").unwrap());
    }

    #[test]
    fn bounds_follow_the_processing_day() {
        let w = LakeWindow::parse("2020-01-01,NOW+1DAYS").unwrap();
        let now = parse_date("2026-12-02").unwrap() * DAY + 23 * 3600 + 59 * 60 + 59;
        let days = w.days_at(now);
        assert_eq!(days.last, parse_date("2026-12-03").unwrap());
        // The last second of tomorrow is inside, the first of the day after is not.
        let day_after = (parse_date("2026-12-04").unwrap() * DAY) as u64;
        assert!(days.contains(day_after - 1));
        assert!(!days.contains(day_after));
        // The first second of the first day is inside, the one before is not.
        let first = (parse_date("2020-01-01").unwrap() * DAY) as u64;
        assert!(days.contains(first));
        assert!(!days.contains(first - 1));
        // One second later the processing day is the next one, and so is the bound.
        assert_eq!(w.days_at(now + 1).last, parse_date("2026-12-04").unwrap());
    }

    /// The cases the CDK's `lakeDateRange` check also runs (`infra-cdk/test/config.test.ts`).
    #[test]
    fn shared_cases_parse_as_listed() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../lake-window-cases.json")).expect("cases are JSON");
        for case in cases["valid"].as_array().unwrap() {
            let range = case["range"].as_str().unwrap();
            let w = LakeWindow::parse(range).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(w.first_day(), case["firstDay"].as_i64().unwrap(), "{range}");
        }
        for case in cases["invalid"].as_array().unwrap() {
            let range = case.as_str().unwrap();
            assert!(LakeWindow::parse(range).is_err(), "{range} should be refused");
        }
    }
}
