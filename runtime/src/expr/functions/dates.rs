//! Kestra's date filters (`date`, `dateAdd`, `timestamp`, `timestampMicro`, `timestampNano`)
//! and the `now()` function, after Kestra's `AbstractDate`: inputs are ISO strings (a zoned or
//! offset date-time, a local date-time, a local date), strings in an `existingFormat`, or epoch
//! seconds; formats are Java `DateTimeFormatter` patterns or the named formats (`iso`, `sql`,
//! `iso_date_time`, `rfc_1123_date_time`, `short`…), printed and parsed by the
//! `DateTimeFormatter` engine in `expr/java_time.rs`.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use serde_json::Value;

use super::super::library::{opt, req, Args, FilterDef, FunctionDef, Kind, Param};
use super::super::value::describe;
use super::{impure, pure};
use crate::expr::eval::Evaluator;
use crate::expr::java_time::{formatter, iso_zoned_or_local, locale, parse, print, zone_id};

const DATE: &[Kind] = &[Kind::Date, Kind::String, Kind::Integer];
const FORMAT_PARAMS: &[Param] = &[
    opt("format", Kind::String),
    opt("timeZone", Kind::String),
    opt("existingFormat", Kind::String),
    opt("locale", Kind::String),
];
const TIMESTAMP_PARAMS: &[Param] = &[
    opt("timeZone", Kind::String),
    opt("existingFormat", Kind::String),
];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("date", FORMAT_PARAMS, DATE, Kind::String),
        run: |_, input, args| {
            if input.is_null() {
                return Ok(Value::Null);
            }
            let zone = zone_id(args.str(1)?)?;
            let date = convert(&input, &zone, args.str(2)?)?;
            format_args(&date, &zone, args, 0).map(Value::String)
        },
    },
    FilterDef {
        signature: pure(
            "dateAdd",
            &[
                req("amount", Kind::Integer),
                req("unit", Kind::String),
                opt("format", Kind::String),
                opt("timeZone", Kind::String),
                opt("existingFormat", Kind::String),
                opt("locale", Kind::String),
            ],
            DATE,
            Kind::String,
        ),
        run: date_add,
    },
    FilterDef {
        signature: pure("timestamp", TIMESTAMP_PARAMS, DATE, Kind::Integer),
        run: |_, input, args| timestamp(&input, args, |z| Value::from(z.timestamp().as_second())),
    },
    FilterDef {
        signature: pure("timestampMicro", TIMESTAMP_PARAMS, DATE, Kind::String),
        run: |_, input, args| {
            // Kestra's TimestampMicroFilter adds the microseconds to the seconds *in
            // nanoseconds*: its output is seconds·10⁹ + micros, kept as Kestra gives it.
            timestamp(&input, args, |z| {
                let ts = z.timestamp();
                let value = i128::from(ts.as_second()) * 1_000_000_000
                    + i128::from(ts.subsec_nanosecond() / 1000);
                Value::String(value.to_string())
            })
        },
    },
    FilterDef {
        signature: pure("timestampNano", TIMESTAMP_PARAMS, DATE, Kind::String),
        run: |_, input, args| {
            timestamp(&input, args, |z| {
                let ts = z.timestamp();
                let value =
                    i128::from(ts.as_second()) * 1_000_000_000 + i128::from(ts.subsec_nanosecond());
                Value::String(value.to_string())
            })
        },
    },
];

pub(in crate::expr) static FUNCTIONS: &[FunctionDef] = &[FunctionDef {
    signature: impure("now", FORMAT_PARAMS, &[], Kind::String),
    run: |evaluator, args| {
        let zone = zone_id(args.str(1)?)?;
        let now = evaluator.host.now().to_zoned(zone.clone());
        format_args(&now, &zone, args, 0).map(Value::String)
    },
}];

/// The `format` argument (at `first`, `locale` at `first + 3`) applied in `zone`.
fn format_args(date: &Zoned, zone: &TimeZone, args: &Args, first: usize) -> Result<String, String> {
    let format = args.str(first)?.unwrap_or("iso");
    let locale = locale(args.str(first + 3)?);
    let items = formatter(format)?;
    let date = date.with_time_zone(zone.clone());
    let mut out = String::new();
    print(&items, &date, locale, &mut out)?;
    Ok(out)
}

#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn date_add(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let amount = args.int(0)?.ok_or("argument `amount` must not be null")?;
    let unit = args.str(1)?.ok_or("argument `unit` must not be null")?;
    let zone = zone_id(args.str(3)?)?;
    let date = convert(&input, &zone, args.str(4)?)?;
    let span = unit_span(unit, amount)?;
    let added = date
        .checked_add(span)
        .map_err(|e| format!("cannot add {amount} {unit}: {e}"))?;
    format_args(&added, &zone, args, 2).map(Value::String)
}

/// A `ChronoUnit` name and an amount as a span; date units move the local date-time, time
/// units the instant, as `ZonedDateTime.plus` does.
fn unit_span(unit: &str, amount: i64) -> Result<Span, String> {
    let too_large = |e: jiff::Error| format!("{amount} {unit} is out of range: {e}");
    let scaled = |factor: i64| {
        amount
            .checked_mul(factor)
            .ok_or_else(|| format!("{amount} {unit} is out of range"))
    };
    Ok(match unit {
        "NANOS" => Span::new().try_nanoseconds(amount).map_err(too_large)?,
        "MICROS" => Span::new().try_microseconds(amount).map_err(too_large)?,
        "MILLIS" => Span::new().try_milliseconds(amount).map_err(too_large)?,
        "SECONDS" => Span::new().try_seconds(amount).map_err(too_large)?,
        "MINUTES" => Span::new().try_minutes(amount).map_err(too_large)?,
        "HOURS" => Span::new().try_hours(amount).map_err(too_large)?,
        "HALF_DAYS" => Span::new().try_hours(scaled(12)?).map_err(too_large)?,
        "DAYS" => Span::new().try_days(amount).map_err(too_large)?,
        "WEEKS" => Span::new().try_weeks(amount).map_err(too_large)?,
        "MONTHS" => Span::new().try_months(amount).map_err(too_large)?,
        "YEARS" => Span::new().try_years(amount).map_err(too_large)?,
        "DECADES" => Span::new().try_years(scaled(10)?).map_err(too_large)?,
        "CENTURIES" => Span::new().try_years(scaled(100)?).map_err(too_large)?,
        "MILLENNIA" => Span::new().try_years(scaled(1000)?).map_err(too_large)?,
        other => {
            return Err(format!(
                "unknown unit `{other}` (one of NANOS, MICROS, MILLIS, SECONDS, MINUTES, HOURS, HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS, DECADES, CENTURIES, MILLENNIA)"
            ))
        }
    })
}

fn timestamp(input: &Value, args: &Args, f: fn(&Zoned) -> Value) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let zone = zone_id(args.str(0)?)?;
    let date = convert(input, &zone, args.str(1)?)?;
    Ok(f(&date))
}

/// Kestra's `AbstractDate.convert`: what a date filter accepts as input.
fn convert(value: &Value, zone: &TimeZone, existing: Option<&str>) -> Result<Zoned, String> {
    match value {
        Value::Number(n) => {
            let seconds = n.as_i64().ok_or_else(|| {
                format!(
                    "a date needs epoch seconds as an integer, not {}",
                    describe(value)
                )
            })?;
            Timestamp::from_second(seconds)
                .map(|ts| ts.to_zoned(zone.clone()))
                .map_err(|e| format!("{seconds} is out of range for a date: {e}"))
        }
        Value::String(text) => {
            let items = match existing {
                Some(format) => formatter(format)?,
                None => iso_zoned_or_local(),
            };
            let parsed = parse(&items, text).map_err(|e| {
                let against = existing.map_or_else(String::new, |f| format!(" with format `{f}`"));
                format!("cannot parse \"{text}\" as a date{against}: {e}")
            })?;
            parsed
                .resolve(zone, existing.is_none())
                .map_err(|e| format!("cannot parse \"{text}\" as a date: {e}"))
        }
        other => Err(format!(
            "a date needs a date string or epoch seconds, not {}",
            describe(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::java_time::*;
    use jiff::tz::Offset;

    fn zoned(text: &str, zone: &str) -> Zoned {
        convert(
            &Value::String(text.into()),
            &zone_id(Some(zone)).unwrap(),
            None,
        )
        .unwrap()
    }

    fn fmt(z: &Zoned, format: &str) -> String {
        let mut out = String::new();
        print(&formatter(format).unwrap(), z, &ENGLISH, &mut out).unwrap();
        out
    }

    #[test]
    fn java_patterns_print() {
        let z = zoned("2013-09-08T16:19:12.123456+01:00", "UTC")
            .with_time_zone(TimeZone::get("Europe/Paris").unwrap());
        assert_eq!(fmt(&z, "iso"), "2013-09-08T17:19:12.123456+02:00");
        assert_eq!(fmt(&z, "iso_sec"), "2013-09-08T17:19:12+02:00");
        assert_eq!(fmt(&z, "sql"), "2013-09-08 17:19:12.123456");
        assert_eq!(
            fmt(&z, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
            "2013-09-08T17:19:12.123+02:00"
        );
        assert_eq!(fmt(&z, "EEE, d MMM yy h:mm a"), "Sun, 8 Sep 13 5:19 PM");
        assert_eq!(fmt(&z, "EEEE MMMM dd"), "Sunday September 08");
        assert_eq!(fmt(&z, "D w W Q QQQ"), "251 37 2 3 Q3");
        assert_eq!(
            fmt(&z, "Z X XX XXXXX x O OOOO z VV"),
            "+0200 +02 +0200 +02:00 +02 GMT+2 GMT+02:00 CEST Europe/Paris"
        );
        assert_eq!(fmt(&z, "'o''clock' ''"), "o'clock '");
        assert_eq!(
            fmt(&z, "iso_date_time"),
            "2013-09-08T17:19:12.123456+02:00[Europe/Paris]"
        );
        assert_eq!(fmt(&z, "iso_date"), "2013-09-08+02:00");
        assert_eq!(fmt(&z, "iso_instant"), "2013-09-08T15:19:12.123456Z");
        assert_eq!(fmt(&z, "iso_week_date"), "2013-W36-7+02:00");
        assert_eq!(fmt(&z, "iso_ordinal_date"), "2013-251+02:00");
        assert_eq!(
            fmt(&z, "rfc_1123_date_time"),
            "Sun, 8 Sep 2013 17:19:12 +0200"
        );
        assert_eq!(fmt(&z, "medium"), "Sep 8, 2013, 5:19:12\u{202f}PM");
        let utc = z.with_time_zone(TimeZone::fixed(Offset::UTC));
        assert_eq!(fmt(&utc, "X x XXX xxx Z"), "Z +00 Z +00:00 +0000");
        // Checked against java.time (JDK 17, Locale.US) for a date at the end of a week-based year.
        let ny = zoned("2024-12-30T07:05:03Z", "UTC")
            .with_time_zone(TimeZone::get("America/New_York").unwrap());
        assert_eq!(
            fmt(&ny, "Y YY YYYY|e ee eee|c ccc|w ww W|h hh K k H|z|O OOOO|X XX XXX|x xxx|Z ZZZZ ZZZZZ"),
            "2025 25 2025|2 02 Mon|2 Mon|1 01 5|2 02 2 2 2|EST|GMT-5 GMT-05:00|-05 -0500 -05:00|-05 -05:00|-0500 GMT-05:00 -05:00"
        );
        let mut french = String::new();
        print(
            &compile("EEEE d MMMM MMM EEE").unwrap(),
            &z,
            locale(Some("fr_FR")),
            &mut french,
        )
        .unwrap();
        assert_eq!(french, "dimanche 8 septembre sept. dim.");
        assert!(compile("ddd").is_err());
        assert!(compile("yyyy-MM-dd bb").is_err());
    }

    #[test]
    fn inputs_parse() {
        assert_eq!(
            zoned("2013-09-08", "Europe/Paris").to_string(),
            "2013-09-08T00:00:00+02:00[Europe/Paris]"
        );
        assert_eq!(
            zoned("2013-09-08T17:19:12", "Europe/Paris").to_string(),
            "2013-09-08T17:19:12+02:00[Europe/Paris]"
        );
        assert_eq!(
            zoned("2013-09-08T17:19:12+02:00", "UTC")
                .timestamp()
                .as_second(),
            1_378_653_552
        );
        assert_eq!(
            zoned("2013-09-08T17:19:12+02:00[Europe/Paris]", "UTC")
                .time_zone()
                .iana_name(),
            Some("Europe/Paris")
        );
        let paris = zone_id(Some("Europe/Paris")).unwrap();
        let july = convert(&Value::from("July 24, 2001"), &paris, Some("MMMM dd, yyyy")).unwrap();
        assert_eq!(july.date().to_string(), "2001-07-24");
        let rfc = convert(
            &Value::from("Tue, 08 Feb 2022 19:38:26 GMT"),
            &paris,
            Some("rfc_1123_date_time"),
        )
        .unwrap();
        assert_eq!(rfc.timestamp().as_second(), 1_644_349_106);
        let compact =
            convert(&Value::from("20240131 0930"), &paris, Some("yyyyMMdd HHmm")).unwrap();
        assert_eq!(compact.datetime().to_string(), "2024-01-31T09:30:00");
        // Checked against Kestra's convert() chain on java.time (JDK 17).
        for (text, format, want) in [
            (
                "01/15/2024 02:30 PM",
                "MM/dd/yyyy hh:mm a",
                "2024-01-15T14:30:00+01:00[Europe/Paris]",
            ),
            (
                "20240131093015",
                "yyyyMMddHHmmss",
                "2024-01-31T09:30:15+01:00[Europe/Paris]",
            ),
            (
                "31.01.24",
                "dd.MM.yy",
                "2024-01-31T00:00:00+01:00[Europe/Paris]",
            ),
            (
                "Wed, 31 Jan 2024",
                "EEE, d MMM yyyy",
                "2024-01-31T00:00:00+01:00[Europe/Paris]",
            ),
            (
                "2024-01-31T09:30:15+0100",
                "yyyy-MM-dd'T'HH:mm:ssZ",
                "2024-01-31T09:30:15+01:00[+01:00]",
            ),
            (
                "2024-01-31 09:30:15.5",
                "yyyy-MM-dd HH:mm:ss.S",
                "2024-01-31T09:30:15.5+01:00[Europe/Paris]",
            ),
            (
                "2024-01-31 09:30 Europe/London",
                "yyyy-MM-dd HH:mm VV",
                "2024-01-31T09:30:00+00:00[Europe/London]",
            ),
            (
                "2024-031",
                "yyyy-DDD",
                "2024-01-31T00:00:00+01:00[Europe/Paris]",
            ),
            (
                "2024-01-31T09",
                "yyyy-MM-dd'T'HH",
                "2024-01-31T09:00:00+01:00[Europe/Paris]",
            ),
            (
                "2024-1-5",
                "yyyy-M-d",
                "2024-01-05T00:00:00+01:00[Europe/Paris]",
            ),
        ] {
            let got = convert(&Value::from(text), &paris, Some(format)).unwrap();
            assert_eq!(got.to_string(), want, "{text} with {format}");
        }
        let epoch = convert(&Value::from(1_378_653_552), &paris, None).unwrap();
        assert_eq!(epoch.datetime().to_string(), "2013-09-08T17:19:12");
        assert!(convert(&Value::from("not a date"), &paris, None).is_err());
    }

    #[test]
    fn units_add() {
        let z = zoned("2013-09-08T16:19:12.123456+01:00", "UTC");
        let added = z.checked_add(unit_span("DAYS", -1).unwrap()).unwrap();
        assert_eq!(
            added.to_string(),
            "2013-09-07T16:19:12.123456+01:00[+01:00]"
        );
        assert!(unit_span("FORTNIGHTS", 1).is_err());
    }
}
