//! `Schedule.cron` as Kestra reads it: five fields (minute, hour, day of month, month, day of
//! week), six with `withSeconds: true`, or a nickname (`@daily`, ...). Numbers, names
//! (`JAN`, `MON`), ranges, steps and lists; not Quartz's `L`, `W`, `#` or `?`, which some cron
//! libraries take and Kestra refuses. A value outside its field (hour 25) is an error at the value.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;

const NICKNAMES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

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

pub fn check(flow: &Flow, diagnostics: &mut Vec<Diagnostic>) {
    for trigger in &flow.triggers {
        let is_schedule = trigger
            .checked_as
            .is_some_and(|p| p.name == "io.kestra.plugin.core.trigger.Schedule");
        if !is_schedule {
            continue;
        }
        let property = |name: &str| trigger.properties.iter().find(|p| p.name.value == name);
        let Some(cron) = property("cron") else {
            continue;
        };
        let Some(text) = cron.value.as_text() else {
            continue;
        };
        let with_seconds = property("withSeconds")
            .and_then(|p| p.value.as_scalar())
            .is_some_and(|s| matches!(s.kind, crate::yaml::ScalarKind::Bool(true)));
        if let Err(problem) = validate(text, with_seconds) {
            diagnostics.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    cron.value.span,
                    format!("`{text}` is not a cron expression Kestra accepts: {problem}"),
                )
                .with_help("five fields: minute hour day-of-month month day-of-week (six, seconds first, with `withSeconds: true`), or @hourly, @daily, @weekly, @monthly, @yearly"),
            );
        }
    }
}

/// Whether `cron` is valid; why not, in words.
pub fn validate(cron: &str, with_seconds: bool) -> Result<(), String> {
    let cron = cron.trim();
    if cron.starts_with('@') {
        return if NICKNAMES.contains(&cron.to_ascii_lowercase().as_str()) {
            Ok(())
        } else {
            Err(format!("unknown nickname `{cron}`"))
        };
    }
    let parts: Vec<&str> = cron.split_whitespace().collect();
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
    for (part, field) in parts.iter().zip(fields) {
        check_field(part, field).map_err(|e| format!("{} `{part}`: {e}", field.name))?;
    }
    Ok(())
}

fn check_field(text: &str, field: &Field) -> Result<(), String> {
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step: u32 = step
                .parse()
                .map_err(|_| format!("the step `{step}` is not a number"))?;
            if step == 0 || step > field.max {
                return Err(format!("the step {step} is out of 1..={}", field.max));
            }
        }
        if range == "*" {
            continue;
        }
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (value(low, field)?, Some(value(high, field)?)),
            None => (value(range, field)?, None),
        };
        if let Some(high) = high {
            if low > high {
                return Err(format!("the range {low}-{high} runs backwards"));
            }
        }
    }
    Ok(())
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
    use super::validate;

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
}
