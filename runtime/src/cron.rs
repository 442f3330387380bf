//! `Schedule.cron` as Kestra reads it, for the checker and for `serve`: five fields (minute,
//! hour, day of month, month, day of week), six with `withSeconds: true` (seconds first), or a
//! nickname (`@daily`, ...). Numbers, names (`JAN`, `MON`), ranges, steps and lists; not
//! Quartz's `L`, `W`, `#` or `?`, which some cron libraries take and Kestra refuses.
//!
//! Day of month and day of week combine as in Unix cron: when both are restricted (neither
//! starts with `*`), a day matches either; otherwise both must match.
//!
//! Fire times are wall-clock times in a time zone, each fired once:
//! - a time that a DST change skips (02:30 on a spring-forward night) fires shifted forward by
//!   the gap (03:30), as `java.time` resolves it, so a daily tick is never lost;
//! - a time that a DST change repeats (01:30 on a fall-back night) fires at its first
//!   occurrence only, so a daily tick is never doubled. A schedule every few minutes does not
//!   repeat the wall-clock times of the repeated hour either.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

const NICKNAMES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How far ahead a next fire time is looked for: a cron that matches no day in this many years
/// (`0 0 30 2 *`) never fires.
const MAX_YEARS: i16 = 28;

/// One field: its name, bounds, and the names it takes (numbered from `first`).
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    first: u32,
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    first: 0,
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    first: 0,
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    first: 0,
};
const DAY_OF_MONTH: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    first: 0,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTHS,
    first: 1,
};
// 0 and 7 are both Sunday, as in Unix cron.
const DAY_OF_WEEK: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: DAYS,
    first: 0,
};

/// A parsed cron expression: the values each field takes, as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    /// Bit 0 is Sunday (7 is folded into it).
    weekdays: u64,
    /// The day-of-month or day-of-week field starts with `*`: both must match, not either.
    day_and_weekday: bool,
}

impl Cron {
    /// Parses `text` as Kestra does; why not, in words.
    pub fn parse(text: &str, with_seconds: bool) -> Result<Cron, String> {
        let text = text.trim();
        let expanded;
        let text = if text.starts_with('@') {
            let lower = text.to_ascii_lowercase();
            let (_, fields) = NICKNAMES
                .iter()
                .find(|(name, _)| *name == lower)
                .ok_or_else(|| format!("unknown nickname `{text}`"))?;
            expanded = if with_seconds {
                format!("0 {fields}")
            } else {
                (*fields).to_string()
            };
            expanded.as_str()
        } else {
            text
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let fields: &[Field] = if with_seconds {
            &[SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
        } else {
            &[MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
        };
        if parts.len() != fields.len() {
            let wanted = if with_seconds {
                "6 fields (`withSeconds: true`)"
            } else if parts.len() == 6 {
                "5 fields; 6 need `withSeconds: true`"
            } else {
                "5 fields"
            };
            return Err(format!("{} fields, expected {wanted}", parts.len()));
        }
        let mut sets = Vec::with_capacity(6);
        if !with_seconds {
            sets.push(1); // second 0
        }
        for (part, field) in parts.iter().zip(fields) {
            sets.push(
                parse_field(part, field).map_err(|e| format!("{} `{part}`: {e}", field.name))?,
            );
        }
        let (dom, dow) = (parts[parts.len() - 3], parts[parts.len() - 1]);
        let weekdays = sets[5];
        Ok(Cron {
            seconds: sets[0],
            minutes: sets[1],
            hours: sets[2],
            days: sets[3],
            months: sets[4],
            weekdays: (weekdays | (weekdays >> 7)) & 0x7f,
            day_and_weekday: dom.starts_with('*') || dow.starts_with('*'),
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().to_sunday_zero_offset());
        if self.day_and_weekday {
            day && weekday
        } else {
            day || weekday
        }
    }

    /// Whether a wall-clock time matches (to the second).
    pub fn matches(&self, at: DateTime) -> bool {
        has(self.months, at.month())
            && self.day_matches(at.date())
            && has(self.hours, at.hour())
            && has(self.minutes, at.minute())
            && has(self.seconds, at.second())
    }

    /// The first wall-clock time after `after` (not equal to it) that matches.
    pub fn next_civil(&self, after: DateTime) -> Option<DateTime> {
        let last_year = after.year().saturating_add(MAX_YEARS);
        let mut t = after
            .with()
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(jiff::SignedDuration::from_secs(1))
            .ok()?;
        // Each step moves to the next value of the first field that does not match, so the
        // loop runs a few times per day skipped at most.
        loop {
            if t.year() > last_year {
                return None;
            }
            if !has(self.months, t.month()) {
                let first = t
                    .date()
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                t = first.at(0, 0, 0, 0);
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.at(0, 0, 0, 0);
                continue;
            }
            match next_bit(self.hours, t.hour(), 23) {
                Some(hour) if hour == t.hour() => {}
                Some(hour) => {
                    t = t.date().at(hour, 0, 0, 0);
                    continue;
                }
                None => {
                    t = t.date().tomorrow().ok()?.at(0, 0, 0, 0);
                    continue;
                }
            }
            match next_bit(self.minutes, t.minute(), 59) {
                Some(minute) if minute == t.minute() => {}
                Some(minute) => {
                    t = t.date().at(t.hour(), minute, 0, 0);
                    continue;
                }
                None => {
                    t = t
                        .date()
                        .at(t.hour(), 0, 0, 0)
                        .checked_add(jiff::SignedDuration::from_hours(1))
                        .ok()?;
                    continue;
                }
            }
            match next_bit(self.seconds, t.second(), 59) {
                Some(second) if second == t.second() => return Some(t),
                Some(second) => {
                    t = t.date().at(t.hour(), t.minute(), second, 0);
                }
                None => {
                    t = t
                        .date()
                        .at(t.hour(), t.minute(), 0, 0)
                        .checked_add(jiff::SignedDuration::from_mins(1))
                        .ok()?;
                }
            }
        }
    }

    /// The first fire time after the instant `after`, in `tz` (see the module's notes on DST).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Zoned> {
        let mut cursor = after.to_zoned(tz.clone()).datetime();
        // A wall-clock time can map before `after` only around a fall-back change; the next
        // one is then past it.
        for _ in 0..4 {
            let civil = self.next_civil(cursor)?;
            let zoned = tz.to_ambiguous_zoned(civil).compatible().ok()?;
            if zoned.timestamp() > after {
                return Some(zoned);
            }
            cursor = civil;
        }
        None
    }
}

fn has(set: u64, value: impl Into<i64>) -> bool {
    let value = value.into();
    (0..64).contains(&value) && set & (1 << value) != 0
}

/// The smallest value in `set` at or after `from`, up to `max`.
fn next_bit(set: u64, from: impl Into<i64>, max: i8) -> Option<i8> {
    let from = from.into();
    (from..=i64::from(max))
        .find(|v| has(set, *v))
        .and_then(|v| i8::try_from(v).ok())
}

fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let step = match step {
            Some(step) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("the step `{step}` is not a number"))?;
                if step == 0 || step > field.max {
                    return Err(format!("the step {step} is out of 1..={}", field.max));
                }
                step
            }
            None => 1,
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else {
            match range.split_once('-') {
                Some((low, high)) => (value(low, field)?, value(high, field)?),
                // `5/15`: from 5 to the end, every 15.
                None if step > 1 => (value(range, field)?, field.max),
                None => {
                    let v = value(range, field)?;
                    (v, v)
                }
            }
        };
        if low > high {
            return Err(format!("the range {low}-{high} runs backwards"));
        }
        let mut v = low;
        while v <= high {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if text.is_empty() {
        return Err("a value is missing".into());
    }
    if matches!(text, "?" | "L" | "W")
        || text.contains(['#', 'L', 'W', '?']) && !is_name(text, field)
    {
        return Err(format!(
            "`{text}` is Quartz syntax that Kestra does not accept"
        ));
    }
    let number = match text.parse::<u32>() {
        Ok(n) => n,
        Err(_) => field
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(text))
            .map(|i| u32::try_from(i).unwrap_or(0) + field.first)
            .ok_or_else(|| format!("`{text}` is not a number or a name"))?,
    };
    if number < field.min || number > field.max {
        return Err(format!("{number} is out of {}..={}", field.min, field.max));
    }
    Ok(number)
}

fn is_name(text: &str, field: &Field) -> bool {
    field.names.iter().any(|n| n.eq_ignore_ascii_case(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(text: &str, with_seconds: bool) -> Result<(), String> {
        Cron::parse(text, with_seconds).map(drop)
    }

    #[test]
    fn crons_as_kestra_reads_them() {
        for good in [
            "* * * * *",
            "*/15 * * * *",
            "0 9 * * 1-5",
            "0 9 * * MON",
            "0 0 1 JAN *",
            "0 14 25 12 *",
            "0 0 * * 7",
            "@daily",
            "@hourly",
            "0 0,12 1-10/2 * *",
        ] {
            assert_eq!(validate(good, false), Ok(()), "{good}");
        }
        assert_eq!(validate("*/10 * * * * *", true), Ok(()));
        for (bad, why) in [
            ("0 25 * * *", "hour `25`: 25 is out of 0..=23"),
            ("0 0 L * *", "Quartz"),
            ("0 0 ? * 1", "Quartz"),
            ("0 0 * * 1#2", "Quartz"),
            ("0 0 15W * *", "Quartz"),
            ("* * * * * *", "6 need `withSeconds: true`"),
            ("* * * *", "4 fields"),
            ("@sometimes", "unknown nickname"),
            ("0 0 * 13 *", "month `13`"),
            ("*/0 * * * *", "step 0"),
            ("0 10-5 * * *", "backwards"),
        ] {
            let error = validate(bad, false).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    fn at(text: &str) -> DateTime {
        text.parse().unwrap()
    }

    fn next(cron: &str, after: &str) -> String {
        Cron::parse(cron, cron.split_whitespace().count() == 6)
            .unwrap()
            .next_civil(at(after))
            .map_or_else(|| "never".into(), |t| t.to_string())
    }

    #[test]
    fn next_wall_clock_times() {
        assert_eq!(
            next("*/15 * * * *", "2024-01-01T10:07:30"),
            "2024-01-01T10:15:00"
        );
        assert_eq!(
            next("0 9 * * MON-FRI", "2024-01-05T09:00:00"),
            "2024-01-08T09:00:00"
        );
        assert_eq!(
            next("@monthly", "2024-01-31T12:00:00"),
            "2024-02-01T00:00:00"
        );
        assert_eq!(
            next("0 0 29 2 *", "2024-03-01T00:00:00"),
            "2028-02-29T00:00:00"
        );
        assert_eq!(
            next("*/10 * * * * *", "2024-01-01T23:59:55"),
            "2024-01-02T00:00:00"
        );
        assert_eq!(
            next("5/20 * * * *", "2024-01-01T10:30:00"),
            "2024-01-01T10:45:00"
        );
        // Both day fields restricted: either matches (the 13th, or a Friday).
        assert_eq!(
            next("0 0 13 * 5", "2024-01-01T00:00:00"),
            "2024-01-05T00:00:00"
        );
        // One starts with `*`: both must.
        assert_eq!(
            next("0 0 */1 * 5", "2024-01-01T00:00:00"),
            "2024-01-05T00:00:00"
        );
        assert_eq!(
            next("0 0 13 * *", "2024-01-01T00:00:00"),
            "2024-01-13T00:00:00"
        );
        assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00"), "never");
        assert_eq!(
            next("0 0 * * 7", "2024-01-01T00:00:00"),
            "2024-01-07T00:00:00"
        );
    }

    fn fires(cron: &str, tz: &str, from: &str, count: usize) -> Vec<String> {
        let tz = TimeZone::get(tz).unwrap();
        let cron = Cron::parse(cron, false).unwrap();
        let mut t: Timestamp = from.parse().unwrap();
        (0..count)
            .map(|_| {
                let z = cron.next_after(t, &tz).unwrap();
                t = z.timestamp();
                z.to_string()
            })
            .collect()
    }

    /// New York springs forward on 2024-03-10 (02:00 → 03:00) and falls back on 2024-11-03
    /// (02:00 → 01:00).
    #[test]
    fn no_tick_is_lost_or_doubled_across_dst_changes() {
        // A daily time inside the skipped hour fires shifted by the gap, on that day only.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2024-03-09T00:00:00Z", 3),
            [
                "2024-03-09T02:30:00-05:00[America/New_York]",
                "2024-03-10T03:30:00-04:00[America/New_York]",
                "2024-03-11T02:30:00-04:00[America/New_York]",
            ]
        );
        // A daily time inside the repeated hour fires once, at its first occurrence.
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", 3),
            [
                "2024-11-03T01:30:00-04:00[America/New_York]",
                "2024-11-04T01:30:00-05:00[America/New_York]",
                "2024-11-05T01:30:00-05:00[America/New_York]",
            ]
        );
        // Hourly across the fall-back: 01:00 once, then 02:00 (standard time), no repeat.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2024-11-03T04:30:00Z", 3),
            [
                "2024-11-03T01:00:00-04:00[America/New_York]",
                "2024-11-03T02:00:00-05:00[America/New_York]",
                "2024-11-03T03:00:00-05:00[America/New_York]",
            ]
        );
        // Hourly across the spring-forward: 01:00, 03:00 (02:00 does not exist), 04:00.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2024-03-10T05:30:00Z", 3),
            [
                "2024-03-10T01:00:00-05:00[America/New_York]",
                "2024-03-10T03:00:00-04:00[America/New_York]",
                "2024-03-10T04:00:00-04:00[America/New_York]",
            ]
        );
        // Midnight in Paris stays midnight on both sides of its change.
        assert_eq!(
            fires("0 0 * * *", "Europe/Paris", "2024-03-30T12:00:00Z", 2),
            [
                "2024-03-31T00:00:00+01:00[Europe/Paris]",
                "2024-04-01T00:00:00+02:00[Europe/Paris]",
            ]
        );
    }
}
