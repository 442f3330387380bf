//! Java's `DateTimeFormatter`, as Kestra's date filters use it: named formats (`iso`, `sql`,
//! `iso_date_time`, `rfc_1123_date_time`, `short`…) and patterns compiled into items that both
//! print and parse, with the week rules and month and day names of seven locales. The date
//! filters (`functions/dates.rs`) are written on top of it.

use std::fmt::Write as _;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{Span, Zoned};

/// One piece of a compiled format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Literal(String),
    /// A pattern letter and how many times it is repeated.
    Field(char, usize),
    /// `[…]`: printed when possible, optional when parsing.
    Optional(Vec<Item>),
    /// Fraction of a second with `min..=max` digits, after a `.` when `point`.
    Fraction {
        min: usize,
        max: usize,
        point: bool,
    },
    /// `+HH:MM[:ss]`, or `Z` for zero (ISO's offset id).
    OffsetId,
    /// `[Europe/Paris]` after an offset, printed only for region zones.
    ZoneRegion,
    /// The ISO week-based year, week and day of week (Monday 1).
    IsoWeekYear,
    IsoWeek,
    IsoDayOfWeek,
    /// `2013-09-08T15:19:12.123456Z`: UTC, fraction in groups of three digits.
    Instant,
    /// `Sun, 8 Sep 2013 17:19:12 +0200`.
    Rfc1123,
}

/// A named format, a style, or a Java pattern.
pub(crate) fn formatter(format: &str) -> Result<Vec<Item>, String> {
    use Item::*;
    let local_date = || {
        vec![
            Field('u', 4),
            lit("-"),
            Field('M', 2),
            lit("-"),
            Field('d', 2),
        ]
    };
    let local_time = || {
        vec![
            Field('H', 2),
            lit(":"),
            Field('m', 2),
            Optional(vec![
                lit(":"),
                Field('s', 2),
                Optional(vec![Fraction {
                    min: 0,
                    max: 9,
                    point: true,
                }]),
            ]),
        ]
    };
    let local_date_time = || [local_date(), vec![lit("T")], local_time()].concat();
    Ok(match format {
        "iso" => compile("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")?,
        "iso_sec" => compile("yyyy-MM-dd'T'HH:mm:ssXXX")?,
        "sql" => compile("yyyy-MM-dd HH:mm:ss.SSSSSS")?,
        "sql_seq" => compile("yyyy-MM-dd HH:mm:ss")?,
        "iso_date_time" => [
            local_date_time(),
            vec![Optional(vec![OffsetId, Optional(vec![ZoneRegion])])],
        ]
        .concat(),
        "iso_date" => [local_date(), vec![Optional(vec![OffsetId])]].concat(),
        "iso_time" => [local_time(), vec![Optional(vec![OffsetId])]].concat(),
        "iso_local_date" => local_date(),
        "iso_instant" => vec![Instant],
        "iso_local_date_time" => local_date_time(),
        "iso_local_time" => local_time(),
        "iso_offset_time" => [local_time(), vec![OffsetId]].concat(),
        "iso_ordinal_date" => vec![
            Field('u', 4),
            lit("-"),
            Field('D', 3),
            Optional(vec![OffsetId]),
        ],
        "iso_week_date" => vec![
            IsoWeekYear,
            lit("-W"),
            IsoWeek,
            lit("-"),
            IsoDayOfWeek,
            Optional(vec![OffsetId]),
        ],
        "iso_zoned_date_time" => [
            local_date_time(),
            vec![OffsetId, Optional(vec![ZoneRegion])],
        ]
        .concat(),
        "rfc_1123_date_time" => vec![Rfc1123],
        // Java 21's en-US (CLDR) localized styles; a narrow no-break space before AM/PM.
        "short" => compile("M/d/yy, h:mm\u{202f}a")?,
        "medium" => compile("MMM d, y, h:mm:ss\u{202f}a")?,
        "long" => compile("MMMM d, y 'at' h:mm:ss\u{202f}a z")?,
        "full" => compile("EEEE, MMMM d, y 'at' h:mm:ss\u{202f}a zzzz")?,
        pattern => compile(pattern)?,
    })
}

pub(crate) fn lit(s: &str) -> Item {
    Item::Literal(s.to_string())
}

/// What the items of the default parse chain are: an ISO zoned date-time, else a local
/// date-time, else a local date (tried in that order by `parse`).
pub(crate) fn iso_zoned_or_local() -> Vec<Item> {
    use Item::*;
    let local_date = vec![
        Field('u', 4),
        lit("-"),
        Field('M', 2),
        lit("-"),
        Field('d', 2),
    ];
    let local_time = vec![
        Field('H', 2),
        lit(":"),
        Field('m', 2),
        Optional(vec![
            lit(":"),
            Field('s', 2),
            Optional(vec![Fraction {
                min: 0,
                max: 9,
                point: true,
            }]),
        ]),
    ];
    [
        local_date,
        vec![Optional(
            [
                vec![lit("T")],
                local_time,
                vec![Optional(vec![OffsetId, Optional(vec![ZoneRegion])])],
            ]
            .concat(),
        )],
    ]
    .concat()
}

/// Read a Java `DateTimeFormatter` pattern.
pub(crate) fn compile(pattern: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let items = stack.last_mut().expect("pattern stack");
        if c.is_ascii_alphabetic() {
            let mut count = 1;
            while i + count < chars.len() && chars[i + count] == c {
                count += 1;
            }
            check_letter(c, count)?;
            items.push(Item::Field(c, count));
            i += count;
            continue;
        }
        match c {
            '\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("pattern `{pattern}` has an unclosed quote")),
                        Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                            text.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(&other) => {
                            text.push(other);
                            j += 1;
                        }
                    }
                }
                if j == i + 1 {
                    text.push('\'');
                }
                items.push(Item::Literal(text));
                i = j + 1;
            }
            '[' => {
                stack.push(Vec::new());
                i += 1;
            }
            ']' => {
                if stack.len() == 1 {
                    return Err(format!("pattern `{pattern}` closes `]` without `[`"));
                }
                let inner = stack.pop().expect("optional section");
                stack
                    .last_mut()
                    .expect("pattern stack")
                    .push(Item::Optional(inner));
                i += 1;
            }
            '{' | '}' | '#' => {
                return Err(format!(
                    "pattern `{pattern}` uses the reserved character `{c}`"
                ))
            }
            _ => {
                items.push(Item::Literal(c.to_string()));
                i += 1;
            }
        }
    }
    while stack.len() > 1 {
        let inner = stack.pop().expect("optional section");
        stack
            .last_mut()
            .expect("pattern stack")
            .push(Item::Optional(inner));
    }
    Ok(stack.pop().unwrap_or_default())
}

pub(crate) fn check_letter(c: char, count: usize) -> Result<(), String> {
    let max = match c {
        'G' | 'M' | 'L' | 'E' | 'Q' | 'q' | 'e' | 'c' | 'X' | 'x' | 'Z' => 5,
        'u' | 'y' | 'Y' | 'n' | 'N' | 'A' | 'S' => 19,
        'd' | 'w' | 'H' | 'h' | 'K' | 'k' | 'm' | 's' | 'V' => 2,
        'D' => 3,
        'W' | 'F' | 'a' => 1,
        'z' | 'O' => 4,
        _ => return Err(format!("unknown pattern letter `{c}`")),
    };
    if count > max || (c == 'O' && count != 1 && count != 4) || (c == 'V' && count != 2) {
        return Err(format!(
            "too many pattern letters: `{}`",
            c.to_string().repeat(count)
        ));
    }
    Ok(())
}

/// Month and day names and week rules of a locale. English (Kestra's usual JVM locale, `en_US`)
/// and the main western European languages; other locales fall back to English.
pub(crate) struct Locale {
    months: [&'static str; 12],
    short_months: [&'static str; 12],
    /// Monday first.
    days: [&'static str; 7],
    short_days: [&'static str; 7],
    /// Weeks start on Sunday (else Monday).
    sunday_first: bool,
    /// How many days of the year the first week must hold.
    min_days: i64,
}

pub(crate) const ENGLISH: Locale = Locale {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    short_months: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    days: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    short_days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    sunday_first: true,
    min_days: 1,
};

pub(crate) const FRENCH: Locale = Locale {
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    short_months: [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
    days: [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ],
    short_days: ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
    sunday_first: false,
    min_days: 4,
};

pub(crate) const GERMAN: Locale = Locale {
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    short_months: [
        "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.",
        "Dez.",
    ],
    days: [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ],
    short_days: ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."],
    sunday_first: false,
    min_days: 4,
};

pub(crate) const SPANISH: Locale = Locale {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    short_months: [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ],
    days: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    short_days: ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"],
    sunday_first: false,
    min_days: 4,
};

pub(crate) const ITALIAN: Locale = Locale {
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    short_months: [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ],
    days: [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ],
    short_days: ["lun", "mar", "mer", "gio", "ven", "sab", "dom"],
    sunday_first: false,
    min_days: 4,
};

pub(crate) const PORTUGUESE: Locale = Locale {
    months: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    short_months: [
        "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.",
        "dez.",
    ],
    days: [
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ],
    short_days: ["seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."],
    sunday_first: true,
    min_days: 1,
};

pub(crate) const DUTCH: Locale = Locale {
    months: [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    short_months: [
        "jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.",
        "dec.",
    ],
    days: [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ],
    short_days: ["ma", "di", "wo", "do", "vr", "za", "zo"],
    sunday_first: false,
    min_days: 4,
};

/// `fr`, `de_DE`, `en-US`… by language; English for the rest.
pub(crate) fn locale(tag: Option<&str>) -> &'static Locale {
    let language = tag
        .unwrap_or("en")
        .split(['_', '-'])
        .next()
        .unwrap_or("en")
        .to_ascii_lowercase();
    match language.as_str() {
        "fr" => &FRENCH,
        "de" => &GERMAN,
        "es" => &SPANISH,
        "it" => &ITALIAN,
        "pt" => &PORTUGUESE,
        "nl" => &DUTCH,
        _ => &ENGLISH,
    }
}

/// `Jan`, `January` or `J` by the pattern letter count.
pub(crate) fn text_form(full: &str, short: &str, count: usize) -> String {
    match count {
        4 => full.to_string(),
        5 => full
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default(),
        _ => short.to_string(),
    }
}

pub(crate) fn month_name(locale: &Locale, month: i8, count: usize) -> String {
    let i = usize::try_from(month - 1).unwrap_or(0);
    text_form(locale.months[i], locale.short_months[i], count)
}

pub(crate) fn day_name(locale: &Locale, day: jiff::civil::Weekday, count: usize) -> String {
    let i = usize::try_from(day.to_monday_zero_offset()).unwrap_or(0);
    text_form(locale.days[i], locale.short_days[i], count)
}

pub(crate) fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// A year as `appendValue(field, count, 19, EXCEEDS_PAD)` prints it, or two digits for `yy`.
pub(crate) fn print_year(out: &mut String, year: i64, count: usize) {
    if count == 2 {
        pad(out, year.rem_euclid(100), 2);
    } else if count >= 4 && year > 9999_i64.min(10_i64.pow(u32::try_from(count).unwrap_or(4)) - 1) {
        out.push('+');
        pad(out, year, count);
    } else {
        pad(out, year, count);
    }
}

/// `+HH:MM`, `+HHMM`, … as Java's offset patterns print them.
pub(crate) fn print_offset(
    out: &mut String,
    seconds: i32,
    colon: bool,
    minutes: Minutes,
    zero: &str,
) {
    if seconds == 0 && !zero.is_empty() {
        out.push_str(zero);
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    out.push(sign);
    let _ = write!(out, "{h:02}");
    let sep = if colon { ":" } else { "" };
    let show_minutes = match minutes {
        Minutes::Optional => m != 0 || s != 0,
        Minutes::Always | Minutes::WithOptionalSeconds => true,
    };
    if show_minutes {
        let _ = write!(out, "{sep}{m:02}");
    }
    if minutes == Minutes::WithOptionalSeconds && s != 0 {
        let _ = write!(out, "{sep}{s:02}");
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Minutes {
    Optional,
    Always,
    WithOptionalSeconds,
}

/// `GMT+2`, `GMT+02:00` (localized offsets, `O` and `ZZZZ`).
pub(crate) fn print_gmt(out: &mut String, seconds: i32, full: bool) {
    out.push_str("GMT");
    if seconds == 0 {
        return;
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    out.push(sign);
    if full {
        let _ = write!(out, "{h:02}:{m:02}");
    } else {
        out.push_str(&h.to_string());
        if m != 0 || s != 0 {
            let _ = write!(out, ":{m:02}");
        }
    }
    if s != 0 {
        let _ = write!(out, ":{s:02}");
    }
}

/// The offset as ISO writes it: `Z`, `+02:00`, `+05:30:15`.
pub(crate) fn offset_id(seconds: i32) -> String {
    let mut out = String::new();
    print_offset(&mut out, seconds, true, Minutes::WithOptionalSeconds, "Z");
    out
}

/// Days since the start of the locale's week (0 to 6).
pub(crate) fn local_day(date: Date, locale: &Locale) -> i64 {
    i64::from(if locale.sunday_first {
        date.weekday().to_sunday_zero_offset()
    } else {
        date.weekday().to_monday_zero_offset()
    })
}

/// The first day of week 1 of `year` under the locale's week rules.
pub(crate) fn week_one(year: i16, locale: &Locale) -> Option<Date> {
    let jan1 = Date::new(year, 1, 1).ok()?;
    let offset = local_day(jan1, locale);
    let days = if 7 - offset >= locale.min_days {
        -offset
    } else {
        7 - offset
    };
    jan1.checked_add(Span::new().days(days)).ok()
}

/// The week-based year and week of a date (`YYYY`, `ww`), as `WeekFields.of(locale)` gives.
pub(crate) fn week_fields(date: Date, locale: &Locale) -> (i64, i64) {
    let year = date.year();
    let weeks_since = |start: Date| (date - start).get_days() / 7 + 1;
    match (week_one(year, locale), week_one(year + 1, locale)) {
        (_, Some(next)) if date >= next => (i64::from(year) + 1, 1),
        (Some(this), _) if date >= this => (i64::from(year), i64::from(weeks_since(this))),
        _ => match week_one(year - 1, locale) {
            Some(previous) => (i64::from(year) - 1, i64::from(weeks_since(previous))),
            None => (i64::from(year), 1),
        },
    }
}

pub(crate) fn print(
    items: &[Item],
    z: &Zoned,
    locale: &Locale,
    out: &mut String,
) -> Result<(), String> {
    for item in items {
        print_item(item, z, locale, out)?;
    }
    Ok(())
}

pub(crate) fn print_item(
    item: &Item,
    z: &Zoned,
    locale: &Locale,
    out: &mut String,
) -> Result<(), String> {
    let dt = z.datetime();
    let date = dt.date();
    let offset = z.offset().seconds();
    match item {
        Item::Literal(text) => out.push_str(text),
        Item::Optional(inner) => print(inner, z, locale, out)?,
        Item::Fraction { min, max, point } => {
            let nanos = format!("{:09}", dt.subsec_nanosecond());
            let mut digits = nanos[..(*max).min(9)].trim_end_matches('0').to_string();
            while digits.len() < *min {
                digits.push('0');
            }
            if !digits.is_empty() {
                if *point {
                    out.push('.');
                }
                out.push_str(&digits);
            }
        }
        Item::OffsetId => out.push_str(&offset_id(offset)),
        Item::ZoneRegion => {
            if let Some(name) = z.time_zone().iana_name() {
                out.push('[');
                out.push_str(name);
                out.push(']');
            }
        }
        Item::IsoWeekYear => pad(out, i64::from(date.iso_week_date().year()), 4),
        Item::IsoWeek => pad(out, i64::from(date.iso_week_date().week()), 2),
        Item::IsoDayOfWeek => pad(out, i64::from(date.weekday().to_monday_one_offset()), 1),
        Item::Instant => {
            let utc = z.timestamp().to_zoned(TimeZone::UTC);
            let dt = utc.datetime();
            print_year(out, i64::from(dt.year()), 4);
            let _ = write!(
                out,
                "-{:02}-{:02}T{:02}:{:02}:{:02}",
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            let nanos = dt.subsec_nanosecond();
            if nanos != 0 {
                let text = format!("{nanos:09}");
                let digits = if nanos % 1_000_000 == 0 {
                    &text[..3]
                } else if nanos % 1000 == 0 {
                    &text[..6]
                } else {
                    &text[..]
                };
                out.push('.');
                out.push_str(digits);
            }
            out.push('Z');
        }
        Item::Rfc1123 => {
            let _ = write!(
                out,
                "{}, {} {} {:04} {:02}:{:02}:{:02} ",
                day_name(&ENGLISH, date.weekday(), 3),
                date.day(),
                month_name(&ENGLISH, date.month(), 3),
                date.year(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            if offset == 0 {
                out.push_str("GMT");
            } else {
                print_offset(out, offset, false, Minutes::Always, "");
            }
        }
        Item::Field(letter, count) => print_field(*letter, *count, z, locale, out)?,
    }
    Ok(())
}

pub(crate) fn print_field(
    letter: char,
    count: usize,
    z: &Zoned,
    locale: &Locale,
    out: &mut String,
) -> Result<(), String> {
    let dt = z.datetime();
    let date = dt.date();
    let offset = z.offset().seconds();
    let year = i64::from(dt.year());
    let hour = i64::from(dt.hour());
    let number = |out: &mut String, value: i64| pad(out, value, count);
    match letter {
        'G' => {
            let ad = year > 0;
            out.push_str(match (count, ad) {
                (4, true) => "Anno Domini",
                (4, false) => "Before Christ",
                (5, true) => "A",
                (5, false) => "B",
                (_, true) => "AD",
                (_, false) => "BC",
            });
        }
        'u' => print_year(out, year, count),
        'y' => print_year(out, if year > 0 { year } else { 1 - year }, count),
        'Y' => print_year(out, week_fields(date, locale).0, count),
        'w' => number(out, week_fields(date, locale).1),
        'W' => {
            let offset = local_day(date.first_of_month(), locale);
            let first_week = i64::from(7 - offset >= locale.min_days);
            number(out, (i64::from(date.day()) - 1 + offset) / 7 + first_week);
        }
        'F' => number(out, (i64::from(date.day()) - 1) / 7 + 1),
        'M' | 'L' => {
            if count >= 3 {
                out.push_str(&month_name(locale, date.month(), count));
            } else {
                number(out, i64::from(date.month()));
            }
        }
        'Q' | 'q' => {
            let quarter = (i64::from(date.month()) - 1) / 3 + 1;
            match count {
                1 | 2 => number(out, quarter),
                3 => {
                    let _ = write!(out, "Q{quarter}");
                }
                4 => out.push_str(
                    ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]
                        [usize::try_from(quarter - 1).unwrap_or(0)],
                ),
                _ => out.push_str(&quarter.to_string()),
            }
        }
        'd' => number(out, i64::from(date.day())),
        'D' => number(out, i64::from(date.day_of_year())),
        'E' => out.push_str(&day_name(locale, date.weekday(), count)),
        'e' | 'c' => {
            if count <= 2 {
                number(out, local_day(date, locale) + 1);
            } else {
                out.push_str(&day_name(locale, date.weekday(), count));
            }
        }
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'H' => number(out, hour),
        'k' => number(out, if hour == 0 { 24 } else { hour }),
        'K' => number(out, hour % 12),
        'h' => number(out, if hour % 12 == 0 { 12 } else { hour % 12 }),
        'm' => number(out, i64::from(dt.minute())),
        's' => number(out, i64::from(dt.second())),
        'S' => {
            let nanos = format!("{:09}", dt.subsec_nanosecond());
            out.push_str(&nanos[..count.min(9)]);
            for _ in 9..count {
                out.push('0');
            }
        }
        'n' => number(out, i64::from(dt.subsec_nanosecond())),
        'N' => number(out, nanos_of_day(dt.time())),
        'A' => number(out, nanos_of_day(dt.time()) / 1_000_000),
        'V' => match z.time_zone().iana_name() {
            Some(name) => out.push_str(name),
            None => out.push_str(&offset_id(offset)),
        },
        'z' => match z.time_zone().iana_name() {
            Some(_) => {
                let info = z.time_zone().to_offset_info(z.timestamp());
                out.push_str(info.abbreviation());
            }
            None => out.push_str(&offset_id(offset)),
        },
        'O' => print_gmt(out, offset, count == 4),
        'X' | 'x' => {
            let zero = if letter == 'X' { "Z" } else { "" };
            let (colon, minutes) = match count {
                1 => (false, Minutes::Optional),
                2 => (false, Minutes::Always),
                3 => (true, Minutes::Always),
                4 => (false, Minutes::WithOptionalSeconds),
                _ => (true, Minutes::WithOptionalSeconds),
            };
            print_offset(out, offset, colon, minutes, zero);
        }
        'Z' => match count {
            4 => print_gmt(out, offset, true),
            5 => print_offset(out, offset, true, Minutes::WithOptionalSeconds, "Z"),
            _ => print_offset(out, offset, false, Minutes::WithOptionalSeconds, ""),
        },
        other => return Err(format!("unknown pattern letter `{other}`")),
    }
    Ok(())
}

pub(crate) fn nanos_of_day(time: Time) -> i64 {
    ((i64::from(time.hour()) * 60 + i64::from(time.minute())) * 60 + i64::from(time.second()))
        * 1_000_000_000
        + i64::from(time.subsec_nanosecond())
}

/// Fields read from a date string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    year: Option<i64>,
    year_of_era: Option<i64>,
    two_digit_year: Option<i64>,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    nano: Option<i64>,
    offset: Option<i32>,
    zone: Option<TimeZone>,
    /// The text said `Z` as the offset: an instant, as Kestra's `Instant` values are.
    utc_instant: bool,
}

impl Parsed {
    fn date(&self) -> Result<Option<Date>, String> {
        let year = match (self.year, self.year_of_era, self.two_digit_year) {
            (Some(y), _, _) => y,
            (None, Some(y), _) => {
                if self.bc {
                    1 - y
                } else {
                    y
                }
            }
            (None, None, Some(y)) => 2000 + y,
            _ => return Ok(None),
        };
        let year = i16::try_from(year).map_err(|_| format!("year {year} is out of range"))?;
        let date = match (self.month, self.day, self.day_of_year) {
            (Some(m), Some(d), _) => Date::new(
                year,
                i8::try_from(m).map_err(|_| format!("invalid month {m}"))?,
                i8::try_from(d).map_err(|_| format!("invalid day {d}"))?,
            )
            .map_err(|e| e.to_string())?,
            (_, _, Some(doy)) => Date::new(year, 1, 1)
                .and_then(|d| {
                    d.with()
                        .day_of_year(i16::try_from(doy).unwrap_or(0))
                        .build()
                })
                .map_err(|e| e.to_string())?,
            _ => return Ok(None),
        };
        Ok(Some(date))
    }

    fn time(&self) -> Result<Option<Time>, String> {
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), _, _) => h,
            (None, Some(h), Some(pm)) => h % 12 + if pm { 12 } else { 0 },
            _ => return Ok(None),
        };
        let hour = if hour == 24 { 0 } else { hour };
        Time::new(
            i8::try_from(hour).map_err(|_| format!("invalid hour {hour}"))?,
            i8::try_from(self.minute.unwrap_or(0)).map_err(|_| "invalid minute".to_string())?,
            i8::try_from(self.second.unwrap_or(0)).map_err(|_| "invalid second".to_string())?,
            i32::try_from(self.nano.unwrap_or(0)).map_err(|_| "invalid fraction".to_string())?,
        )
        .map(Some)
        .map_err(|e| e.to_string())
    }

    /// Kestra's chain: a zoned date-time as it is, a local date-time at `zone`, a local date
    /// at the start of its day at `zone`.
    pub(crate) fn resolve(&self, zone: &TimeZone, instants_in_zone: bool) -> Result<Zoned, String> {
        let date = self.date()?.ok_or("no date in it")?;
        let time = self.time()?;
        let Some(time) = time else {
            return date
                .to_datetime(Time::midnight())
                .to_zoned(zone.clone())
                .map_err(|e| e.to_string());
        };
        let dt = DateTime::from_parts(date, time);
        let own_zone = match (&self.zone, self.offset) {
            (Some(tz), _) => Some(tz.clone()),
            (None, Some(seconds)) => Some(TimeZone::fixed(
                Offset::from_seconds(seconds).map_err(|e| e.to_string())?,
            )),
            (None, None) => None,
        };
        match own_zone {
            Some(tz) => {
                let zoned = match self.offset {
                    Some(seconds) => {
                        let offset = Offset::from_seconds(seconds).map_err(|e| e.to_string())?;
                        offset
                            .to_timestamp(dt)
                            .map_err(|e| e.to_string())?
                            .to_zoned(tz)
                    }
                    None => dt.to_zoned(tz).map_err(|e| e.to_string())?,
                };
                if self.utc_instant && instants_in_zone {
                    Ok(zoned.with_time_zone(zone.clone()))
                } else {
                    Ok(zoned)
                }
            }
            None => dt.to_zoned(zone.clone()).map_err(|e| e.to_string()),
        }
    }
}

pub(crate) struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn eat_ignore_case(&mut self, s: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= s.len()
            && rest.is_char_boundary(s.len())
            && rest[..s.len()].eq_ignore_ascii_case(s)
        {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` ASCII digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let bytes = self.rest().as_bytes();
        let n = bytes
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min || n == 0 {
            return None;
        }
        let value = self.rest()[..n].parse::<i64>().ok()?;
        self.pos += n;
        Some((value, n))
    }

    fn signed(&mut self, min: usize, max: usize) -> Option<i64> {
        let negative = if self.eat("-") {
            true
        } else {
            self.eat("+");
            false
        };
        let (value, _) = self.digits(min, max)?;
        Some(if negative { -value } else { value })
    }

    /// `Z`, `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS`.
    fn offset_id(&mut self) -> Option<Offset> {
        if self.eat("Z") || self.eat("z") {
            return Some(Offset::UTC);
        }
        let start = self.pos;
        let sign = if self.eat("+") {
            1
        } else if self.eat("-") {
            -1
        } else {
            return None;
        };
        let Some((hours, _)) = self.digits(1, 2) else {
            self.pos = start;
            return None;
        };
        let mut seconds = hours * 3600;
        let colon = self.eat(":");
        if let Some((minutes, 2)) = self.digits(2, 2) {
            seconds += minutes * 60;
            if (!colon || self.eat(":"))
                && self
                    .rest()
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_digit)
            {
                if let Some((secs, 2)) = self.digits(2, 2) {
                    seconds += secs;
                }
            }
        } else if colon {
            self.pos -= 1;
        }
        Offset::from_seconds(i32::try_from(sign * seconds).ok()?).ok()
    }

    /// The longest of `names` (exact case) at the cursor; its index.
    fn name(&mut self, names: &[String], ignore_case: bool) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        for (i, name) in names.iter().enumerate() {
            let rest = self.rest();
            let matches = if ignore_case {
                rest.len() >= name.len()
                    && rest.is_char_boundary(name.len())
                    && rest[..name.len()].eq_ignore_ascii_case(name)
            } else {
                rest.starts_with(name.as_str())
            };
            if matches && best.is_none_or(|(_, len)| name.len() > len) {
                best = Some((i, name.len()));
            }
        }
        let (index, len) = best?;
        self.pos += len;
        Some(index)
    }
}

/// Parse `text` with the items; all of it must be read.
pub(crate) fn parse(items: &[Item], text: &str) -> Result<Parsed, String> {
    let mut cursor = Cursor { text, pos: 0 };
    let mut parsed = Parsed::default();
    parse_items(items, &mut cursor, &mut parsed)?;
    if cursor.pos != text.len() {
        return Err(format!(
            "unexpected text \"{}\" at index {}",
            cursor.rest(),
            cursor.pos
        ));
    }
    Ok(parsed)
}

pub(crate) fn parse_items(
    items: &[Item],
    cursor: &mut Cursor,
    parsed: &mut Parsed,
) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        // Widths the numeric fields right after this one need (adjacent value parsing).
        let reserved: usize = items[i + 1..]
            .iter()
            .map_while(|next| match next {
                Item::Field(c, n) if is_numeric(*c, *n) && *n >= 2 => Some(*n),
                Item::Field('S', n) => Some(*n),
                _ => None,
            })
            .sum();
        parse_item(item, cursor, parsed, reserved)?;
    }
    Ok(())
}

pub(crate) fn is_numeric(letter: char, count: usize) -> bool {
    match letter {
        'M' | 'L' | 'e' | 'c' | 'Q' | 'q' => count <= 2,
        'u' | 'y' | 'Y' | 'd' | 'D' | 'H' | 'h' | 'K' | 'k' | 'm' | 's' | 'S' | 'n' | 'N' | 'A'
        | 'w' | 'W' | 'F' => true,
        _ => false,
    }
}

pub(crate) fn parse_item(
    item: &Item,
    cursor: &mut Cursor,
    parsed: &mut Parsed,
    reserved: usize,
) -> Result<(), String> {
    let at = cursor.pos;
    let fail = |what: &str| format!("expected {what} at index {at}");
    match item {
        Item::Literal(text) => {
            let ok = if text == "T" {
                cursor.eat_ignore_case("T")
            } else {
                cursor.eat(text)
            };
            if !ok {
                return Err(fail(&format!("\"{text}\"")));
            }
        }
        Item::Optional(inner) => {
            let (saved_pos, saved) = (cursor.pos, parsed.clone());
            if parse_items(inner, cursor, parsed).is_err() {
                cursor.pos = saved_pos;
                *parsed = saved;
            }
        }
        Item::Fraction { min, max, point } => {
            let start = cursor.pos;
            if *point && !cursor.eat(".") {
                if *min == 0 {
                    return Ok(());
                }
                return Err(fail("a fraction"));
            }
            let bytes = cursor.rest().as_bytes();
            let n = bytes
                .iter()
                .take(*max)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if n < (*min).max(usize::from(*point)) {
                cursor.pos = start;
                if *min == 0 && n == 0 {
                    return Ok(());
                }
                return Err(fail("fraction digits"));
            }
            let digits = &cursor.rest()[..n];
            parsed.nano = Some(format!("{digits:0<9}")[..9].parse().unwrap_or(0));
            cursor.pos += n;
        }
        Item::OffsetId => {
            let offset = cursor.offset_id().ok_or_else(|| fail("an offset"))?;
            parsed.utc_instant =
                offset.seconds() == 0 && cursor.text[at..cursor.pos].eq_ignore_ascii_case("Z");
            parsed.offset = Some(offset.seconds());
        }
        Item::ZoneRegion => {
            if !cursor.eat("[") {
                return Err(fail("\"[\""));
            }
            let end = cursor.rest().find(']').ok_or_else(|| fail("\"]\""))?;
            let name = cursor.rest()[..end].to_string();
            cursor.pos += end + 1;
            parsed.zone = Some(zone_id(Some(&name))?);
            parsed.utc_instant = false;
        }
        Item::IsoWeekYear | Item::IsoWeek | Item::IsoDayOfWeek => {
            return Err("week-based dates cannot be parsed".into());
        }
        Item::Instant => {
            let inner = iso_zoned_or_local();
            parse_items(&inner, cursor, parsed)?;
            if parsed.offset.is_none() {
                return Err(fail("an instant ending with an offset"));
            }
        }
        Item::Rfc1123 => parse_rfc1123(cursor, parsed).map_err(|()| fail("an RFC 1123 date"))?,
        Item::Field(letter, count) => {
            parse_field(*letter, *count, cursor, parsed, reserved).map_err(|what| fail(&what))?;
        }
    }
    Ok(())
}

pub(crate) fn parse_rfc1123(cursor: &mut Cursor, parsed: &mut Parsed) -> Result<(), ()> {
    let days: Vec<String> = ENGLISH.short_days.iter().map(ToString::to_string).collect();
    let months: Vec<String> = ENGLISH
        .short_months
        .iter()
        .map(ToString::to_string)
        .collect();
    let start = cursor.pos;
    if cursor.name(&days, true).is_some() {
        if !cursor.eat(", ") {
            return Err(());
        }
    } else {
        cursor.pos = start;
    }
    parsed.day = Some(cursor.digits(1, 2).ok_or(())?.0);
    if !cursor.eat(" ") {
        return Err(());
    }
    parsed.month = Some(i64::try_from(cursor.name(&months, true).ok_or(())? + 1).map_err(|_| ())?);
    if !cursor.eat(" ") {
        return Err(());
    }
    parsed.year = Some(cursor.digits(4, 4).ok_or(())?.0);
    if !cursor.eat(" ") {
        return Err(());
    }
    parsed.hour = Some(cursor.digits(2, 2).ok_or(())?.0);
    if !cursor.eat(":") {
        return Err(());
    }
    parsed.minute = Some(cursor.digits(2, 2).ok_or(())?.0);
    if cursor.eat(":") {
        parsed.second = Some(cursor.digits(2, 2).ok_or(())?.0);
    }
    if !cursor.eat(" ") {
        return Err(());
    }
    if cursor.eat_ignore_case("GMT") {
        parsed.offset = Some(0);
    } else {
        let sign = if cursor.eat("+") {
            1
        } else if cursor.eat("-") {
            -1
        } else {
            return Err(());
        };
        let (hhmm, _) = cursor.digits(4, 4).ok_or(())?;
        parsed.offset =
            Some(i32::try_from(sign * (hhmm / 100 * 3600 + hhmm % 100 * 60)).map_err(|_| ())?);
    }
    Ok(())
}

pub(crate) fn parse_field(
    letter: char,
    count: usize,
    cursor: &mut Cursor,
    parsed: &mut Parsed,
    reserved: usize,
) -> Result<(), String> {
    let available = cursor.rest().bytes().take_while(u8::is_ascii_digit).count();
    // A run of one letter reads as many digits as it can, leaving those the next fields need.
    let greedy = |cursor: &mut Cursor, min: usize| -> Result<i64, String> {
        let max = available.saturating_sub(reserved).max(min);
        cursor
            .digits(min, max.min(19))
            .map(|(v, _)| v)
            .ok_or_else(|| "digits".to_string())
    };
    let fixed = |cursor: &mut Cursor, width: usize| -> Result<i64, String> {
        cursor
            .digits(width, width)
            .map(|(v, _)| v)
            .ok_or_else(|| format!("{width} digits"))
    };
    let number = |cursor: &mut Cursor| {
        if count == 1 {
            greedy(cursor, 1)
        } else {
            fixed(cursor, count)
        }
    };
    match letter {
        'u' | 'y' | 'Y' => {
            let value = if count == 2 {
                let v = fixed(cursor, 2)?;
                parsed.two_digit_year = Some(v);
                return Ok(());
            } else if count >= 4 {
                cursor
                    .signed(count, 19.min(available.saturating_sub(reserved).max(count)))
                    .ok_or("a year")?
            } else {
                cursor
                    .signed(1, 19.min(available.saturating_sub(reserved).max(1)))
                    .ok_or("a year")?
            };
            if letter == 'y' {
                parsed.year_of_era = Some(value);
            } else if letter == 'u' {
                parsed.year = Some(value);
            }
        }
        'G' => {
            let names: Vec<String> = match count {
                4 => vec!["Before Christ".into(), "Anno Domini".into()],
                5 => vec!["B".into(), "A".into()],
                _ => vec!["BC".into(), "AD".into()],
            };
            parsed.bc = cursor.name(&names, false).ok_or("an era")? == 0;
        }
        'M' | 'L' => {
            if count >= 3 {
                let names: Vec<String> = (1..=12).map(|m| month_name(&ENGLISH, m, count)).collect();
                parsed.month = Some(
                    i64::try_from(cursor.name(&names, false).ok_or("a month name")? + 1)
                        .unwrap_or(1),
                );
            } else {
                parsed.month = Some(number(cursor)?);
            }
        }
        'd' => parsed.day = Some(number(cursor)?),
        'D' => {
            parsed.day_of_year = Some(if count == 1 {
                greedy(cursor, 1)?
            } else {
                cursor.digits(count, 3).ok_or("a day of year")?.0
            });
        }
        'E' => {
            let names: Vec<String> = (0..7)
                .map(|i| text_form(ENGLISH.days[i], ENGLISH.short_days[i], count))
                .collect();
            cursor.name(&names, false).ok_or("a day name")?;
        }
        'e' | 'c' => {
            if count <= 2 {
                number(cursor)?;
            } else {
                let names: Vec<String> = (0..7)
                    .map(|i| text_form(ENGLISH.days[i], ENGLISH.short_days[i], count))
                    .collect();
                cursor.name(&names, false).ok_or("a day name")?;
            }
        }
        'Q' | 'q' | 'w' | 'W' | 'F' => {
            number(cursor)?;
        }
        'a' => {
            let names = vec!["AM".to_string(), "PM".to_string()];
            parsed.pm = Some(cursor.name(&names, false).ok_or("AM or PM")? == 1);
        }
        'H' | 'k' => parsed.hour = Some(number(cursor)?),
        'h' | 'K' => parsed.hour12 = Some(number(cursor)?),
        'm' => parsed.minute = Some(number(cursor)?),
        's' => parsed.second = Some(number(cursor)?),
        'S' => {
            let digits = fixed(cursor, count)?;
            let text = format!("{digits:0count$}");
            parsed.nano = Some(format!("{text:0<9}")[..9].parse().unwrap_or(0));
        }
        'n' => parsed.nano = Some(greedy(cursor, 1)?),
        'N' | 'A' => {
            let value = greedy(cursor, 1)?;
            let nanos = if letter == 'A' {
                value * 1_000_000
            } else {
                value
            };
            let seconds = nanos / 1_000_000_000;
            parsed.hour = Some(seconds / 3600);
            parsed.minute = Some(seconds / 60 % 60);
            parsed.second = Some(seconds % 60);
            parsed.nano = Some(nanos % 1_000_000_000);
        }
        'V' => {
            let rest = cursor.rest();
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "~/._+-".contains(c)))
                .unwrap_or(rest.len());
            let name = rest[..len].to_string();
            cursor.pos += len;
            parsed.zone = Some(zone_id(Some(&name))?);
        }
        'z' => {
            let rest = cursor.rest();
            let len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let name = rest[..len].to_string();
            cursor.pos += len;
            let iana = match name.as_str() {
                "Z" | "UT" | "UTC" | "GMT" => "UTC",
                "EST" | "EDT" => "America/New_York",
                "CST" | "CDT" => "America/Chicago",
                "MST" | "MDT" => "America/Denver",
                "PST" | "PDT" => "America/Los_Angeles",
                "CET" | "CEST" => "Europe/Paris",
                "BST" => "Europe/London",
                other => other,
            };
            parsed.zone = Some(zone_id(Some(iana))?);
        }
        'O' | 'X' | 'x' | 'Z' => {
            if (letter == 'O' || (letter == 'Z' && count == 4)) && cursor.eat("GMT") {
                let offset = if cursor.rest().starts_with(['+', '-']) {
                    cursor.offset_id().ok_or("an offset")?
                } else {
                    Offset::UTC
                };
                parsed.offset = Some(offset.seconds());
            } else {
                let offset = cursor.offset_id().ok_or("an offset")?;
                parsed.offset = Some(offset.seconds());
            }
        }
        other => return Err(format!("a value for pattern letter `{other}`")),
    }
    Ok(())
}

/// Java's `ZoneId.of`, or the system zone when none is given.
pub(crate) fn zone_id(name: Option<&str>) -> Result<TimeZone, String> {
    let Some(name) = name else {
        return Ok(TimeZone::system());
    };
    if name == "Z" {
        return Ok(TimeZone::fixed(Offset::UTC));
    }
    if name.starts_with(['+', '-']) {
        let mut cursor = Cursor { text: name, pos: 0 };
        if let Some(offset) = cursor.offset_id() {
            if cursor.pos == name.len() {
                return Ok(TimeZone::fixed(offset));
            }
        }
        return Err(format!("invalid time zone offset `{name}`"));
    }
    for prefix in ["UTC", "GMT", "UT"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                let mut cursor = Cursor { text: rest, pos: 0 };
                if let Some(offset) = cursor.offset_id() {
                    if cursor.pos == rest.len() {
                        return Ok(TimeZone::fixed(offset));
                    }
                }
            }
        }
    }
    TimeZone::get(name).map_err(|_| format!("unknown time zone `{name}`"))
}
