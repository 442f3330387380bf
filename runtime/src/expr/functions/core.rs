//! Pebble's own filters, functions and tests that Kestra keeps: text case, collections,
//! `default`, `length`, `join`, `split`, `slice`, `max`/`min`/`range`, `is defined`/`empty`/….
//! Kestra removes Pebble's `escape` and `raw` filters and renames `numberformat` to
//! `numberFormat` (its `ExtensionCustomizer`); `replace` is Kestra's own (in `strings`).

use serde_json::Value;

use super::super::library::{opt, req, Args, FilterDef, FunctionDef, Kind, TestDef};
use super::super::value::{self, compare, describe, float, to_display_string};
use super::{input_str, pure};
use crate::expr::eval::Evaluator;

const STRING: &[Kind] = &[Kind::String];
const ANY: &[Kind] = &[Kind::Any];
const COLLECTION: &[Kind] = &[Kind::List, Kind::Map, Kind::String];
const LIST: &[Kind] = &[Kind::List];
const NUMBER: &[Kind] = &[Kind::Number];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("abs", &[], NUMBER, Kind::Input),
        run: abs,
    },
    FilterDef {
        signature: pure(
            "abbreviate",
            &[req("length", Kind::Integer)],
            STRING,
            Kind::String,
        ),
        run: abbreviate,
    },
    FilterDef {
        signature: pure("capitalize", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "capitalize", capitalize),
    },
    FilterDef {
        signature: pure("default", &[req("default", Kind::Any)], ANY, Kind::Any),
        run: |_, input, args| {
            Ok(if is_empty(&input) {
                args.get(0).cloned().unwrap_or(Value::Null)
            } else {
                input
            })
        },
    },
    FilterDef {
        signature: pure("first", &[], COLLECTION, Kind::Any),
        run: |_, input, _| first_or_last(input, true),
    },
    FilterDef {
        signature: pure("last", &[], COLLECTION, Kind::Any),
        run: |_, input, _| first_or_last(input, false),
    },
    FilterDef {
        signature: pure(
            "join",
            &[opt("separator", Kind::String)],
            LIST,
            Kind::String,
        ),
        run: join,
    },
    FilterDef {
        signature: pure(
            "length",
            &[],
            &[Kind::List, Kind::Map, Kind::String, Kind::Null],
            Kind::Integer,
        ),
        // Java's `String.length()` counts UTF-16 units; anything else has length 0.
        run: |_, input, _| {
            Ok(Value::from(match &input {
                Value::String(s) => s.encode_utf16().count(),
                Value::Array(items) => items.len(),
                Value::Object(map) => map.len(),
                _ => 0,
            }))
        },
    },
    FilterDef {
        signature: pure("lower", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "lower", str::to_lowercase),
    },
    FilterDef {
        signature: pure("upper", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "upper", str::to_uppercase),
    },
    FilterDef {
        signature: pure("title", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "title", title),
    },
    FilterDef {
        signature: pure("trim", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "trim", |s| s.trim().to_string()),
    },
    FilterDef {
        signature: pure(
            "merge",
            &[req("items", Kind::Any)],
            &[Kind::List, Kind::Map],
            Kind::Input,
        ),
        run: merge,
    },
    FilterDef {
        signature: pure("reverse", &[], LIST, Kind::Input),
        run: |_, input, _| match input {
            Value::Array(mut items) => {
                items.reverse();
                Ok(Value::Array(items))
            }
            other => Err(format!("needs a list, not {}", describe(&other))),
        },
    },
    FilterDef {
        signature: pure("sort", &[], LIST, Kind::Input),
        run: |_, input, _| sort(input, false),
    },
    FilterDef {
        signature: pure("rsort", &[], LIST, Kind::Input),
        run: |_, input, _| sort(input, true),
    },
    FilterDef {
        signature: pure(
            "slice",
            &[
                opt("fromIndex", Kind::Integer),
                opt("toIndex", Kind::Integer),
            ],
            &[Kind::List, Kind::String],
            Kind::Input,
        ),
        run: slice,
    },
    FilterDef {
        signature: pure(
            "split",
            &[req("delimiter", Kind::String), opt("limit", Kind::Integer)],
            STRING,
            Kind::List,
        ),
        run: split,
    },
    FilterDef {
        signature: pure("urlencode", &[], STRING, Kind::String),
        run: |_, input, _| text(&input, "urlencode", url_encode),
    },
    FilterDef {
        signature: pure(
            "numberFormat",
            &[opt("format", Kind::String)],
            NUMBER,
            Kind::String,
        ),
        run: numberformat,
    },
];

pub(in crate::expr) static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        signature: pure("max", VARIADIC, &[], Kind::Any),
        run: |_, args| extreme(args, std::cmp::Ordering::Greater),
    },
    FunctionDef {
        signature: pure("min", VARIADIC, &[], Kind::Any),
        run: |_, args| extreme(args, std::cmp::Ordering::Less),
    },
    FunctionDef {
        signature: pure(
            "range",
            &[
                req("start", Kind::Any),
                req("end", Kind::Any),
                opt("step", Kind::Integer),
            ],
            &[],
            Kind::List,
        ),
        run: |_, args| {
            // Pebble also ranges over single characters: `range('a', 'c')`.
            if let (Some(Value::String(a)), Some(Value::String(b))) = (args.get(0), args.get(1)) {
                let (Some(a), Some(b)) = (a.chars().next(), b.chars().next()) else {
                    return Err("a character range needs two one-letter strings".into());
                };
                return Ok(Value::Array(
                    (a..=b).map(|c| Value::String(c.to_string())).collect(),
                ));
            }
            let start = args.int(0)?.unwrap_or(0);
            let end = args.int(1)?.unwrap_or(0);
            value::range(start, end, args.int(2)?.unwrap_or(1))
        },
    },
];

/// `max(a, b, …)`: Pebble takes any number of arguments; eight is plenty in practice.
const VARIADIC: &[super::super::library::Param] = &[
    req("a", Kind::Any),
    opt("b", Kind::Any),
    opt("c", Kind::Any),
    opt("d", Kind::Any),
    opt("e", Kind::Any),
    opt("f", Kind::Any),
    opt("g", Kind::Any),
    opt("h", Kind::Any),
];

pub(in crate::expr) static TESTS: &[TestDef] = &[
    TestDef {
        signature: pure("defined", &[], ANY, Kind::Boolean),
        run: |input, _| Ok(!matches!(input, None | Some(Value::Null))),
    },
    TestDef {
        signature: pure("null", &[], ANY, Kind::Boolean),
        run: |input, _| Ok(matches!(input, None | Some(Value::Null))),
    },
    TestDef {
        signature: pure("empty", &[], ANY, Kind::Boolean),
        run: |input, _| Ok(input.is_none_or(is_empty)),
    },
    TestDef {
        signature: pure("even", &[], NUMBER, Kind::Boolean),
        run: |input, args| parity(input, args).map(|odd| !odd),
    },
    TestDef {
        signature: pure("odd", &[], NUMBER, Kind::Boolean),
        run: parity,
    },
    TestDef {
        signature: pure("iterable", &[], ANY, Kind::Boolean),
        run: |input, _| Ok(matches!(input, Some(Value::Array(_)))),
    },
    TestDef {
        signature: pure("map", &[], ANY, Kind::Boolean),
        run: |input, _| Ok(matches!(input, Some(Value::Object(_)))),
    },
];

/// Pebble's emptiness: null, `""`, an empty list or map.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn parity(input: Option<&Value>, _: &Args) -> Result<bool, String> {
    match input {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(i % 2 != 0),
            None => Err(format!(
                "needs an integer, not {}",
                describe(&Value::Number(n.clone()))
            )),
        },
        Some(other) => Err(format!("needs an integer, not {}", describe(other))),
        None => Err("the value is not defined".into()),
    }
}

/// Apply a string function; null passes through, as Pebble's text filters do.
fn text(input: &Value, name: &str, f: impl Fn(&str) -> String) -> Result<Value, String> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(Value::String(f(s))),
        Value::Number(_) | Value::Bool(_) => Ok(Value::String(f(&to_display_string(input)))),
        other => Err(format!("`{name}` needs a string, not {}", describe(other))),
    }
}

#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn abs(_: &mut Evaluator, input: Value, _: &Args) -> Result<Value, String> {
    match &input {
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) => Value::from(i.unsigned_abs()),
            None => float(n.as_f64().unwrap_or_default().abs()),
        }),
        other => Err(format!("needs a number, not {}", describe(other))),
    }
}

fn abbreviate(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let s = input_str(&input, "abbreviate")?;
    let max = args.int(0)?.unwrap_or(0);
    let max =
        usize::try_from(max).map_err(|_| format!("the length must not be negative, not {max}"))?;
    let count = s.chars().count();
    // Pebble's rules: shorter than the width, or too short to abbreviate, stays as it is.
    if count < max || count <= 3 {
        return Ok(input);
    }
    if max <= 3 {
        return Ok(Value::String(s.chars().take(max).collect()));
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    Ok(Value::String(out))
}

/// Upper-cases the first letter, after any leading whitespace.
fn capitalize(s: &str) -> String {
    let start = s.len() - s.trim_start().len();
    let (lead, rest) = s.split_at(start);
    let mut chars = rest.chars();
    match chars.next() {
        Some(first) => lead
            .chars()
            .chain(first.to_uppercase())
            .chain(chars)
            .collect(),
        None => s.to_string(),
    }
}

/// Pebble's `title`: the first letter of each whitespace-separated word in upper case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for ch in s.chars() {
        if ch.is_whitespace() {
            at_word_start = true;
            out.push(ch);
        } else if at_word_start {
            out.extend(ch.to_uppercase());
            at_word_start = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `application/x-www-form-urlencoded`, as Java's `URLEncoder` does it (letters, digits and
/// `.-*_` stay, a space is `+`, every other byte `%XX`).
pub(crate) fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn first_or_last(input: Value, first: bool) -> Result<Value, String> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => Ok(if first {
            items.into_iter().next()
        } else {
            items.into_iter().last()
        }
        .unwrap_or(Value::Null)),
        Value::String(s) => if first {
            s.chars().next()
        } else {
            s.chars().last()
        }
        .map(|c| Value::String(c.to_string()))
        .ok_or_else(|| "the string is empty".to_string()),
        other => Err(format!(
            "needs a list or a string, not {}",
            describe(&other)
        )),
    }
}

fn join(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let separator = args.str(0)?.unwrap_or("");
    match input {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => Ok(Value::String(
            items
                .iter()
                .map(|item| {
                    let mut out = String::new();
                    if item.is_null() {
                        out.push_str("null");
                    } else {
                        value::java_string(item, &mut out);
                    }
                    out
                })
                .collect::<Vec<_>>()
                .join(separator),
        )),
        other => Err(format!("needs a list, not {}", describe(&other))),
    }
}

/// Pebble's `merge`: lists concatenate (a map or other value is appended as one item), maps
/// combine into a new `HashMap` (a list's items become keys mapped to themselves); null on
/// either side leaves the other.
fn merge(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let other = args.get(0).cloned().unwrap_or(Value::Null);
    match (input, other) {
        (Value::Null, other) => Ok(other),
        (input, Value::Null) => Ok(input),
        (Value::Array(mut items), Value::Array(more)) => {
            items.extend(more);
            Ok(Value::Array(items))
        }
        (Value::Array(mut items), other) => {
            items.push(other);
            Ok(Value::Array(items))
        }
        (Value::Object(map), other) => {
            // `new HashMap<>(map)` sizes its table for `size / 0.75 + 1`.
            let capacity = map.len() * 4 / 3 + 1;
            let mut merged = map;
            match other {
                Value::Object(more) => merged.extend(more),
                Value::Array(items) => {
                    for item in items {
                        merged.insert(value::to_display_string(&item), item);
                    }
                }
                other => {
                    return Err(format!(
                        "a map can only merge a map or a list, not {}",
                        describe(&other)
                    ))
                }
            }
            Ok(Value::Object(value::java_hash_order(merged, capacity)))
        }
        (other, _) => Err(format!("needs a list or a map, not {}", describe(&other))),
    }
}

fn sort(input: Value, reverse: bool) -> Result<Value, String> {
    let Value::Array(mut items) = input else {
        return Err(format!("needs a list, not {}", describe(&input)));
    };
    let mut failed = None;
    items.sort_by(|a, b| {
        compare(a, b).unwrap_or_else(|| {
            failed = Some(format!(
                "cannot compare {} with {}",
                describe(a),
                describe(b)
            ));
            std::cmp::Ordering::Equal
        })
    });
    if let Some(message) = failed {
        return Err(message);
    }
    if reverse {
        items.reverse();
    }
    Ok(Value::Array(items))
}

fn slice(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let from = args.int(0)?.unwrap_or(0);
    let bounds = |len: usize| -> Result<(usize, usize), String> {
        let to = args
            .int(1)?
            .map_or(len, |t| usize::try_from(t.max(0)).unwrap_or(0));
        let from = usize::try_from(from.max(0)).unwrap_or(0);
        if from >= to && len > 0 || to > len {
            return Err(format!(
                "indexes {from}..{to} are not a range inside 0..{len}"
            ));
        }
        Ok((from, to))
    };
    match input {
        Value::Array(items) => {
            let (from, to) = bounds(items.len())?;
            Ok(Value::Array(items[from..to].to_vec()))
        }
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (from, to) = bounds(chars.len())?;
            Ok(Value::String(chars[from..to].iter().collect()))
        }
        other => Err(format!(
            "needs a list or a string, not {}",
            describe(&other)
        )),
    }
}

/// Java's `String.split(regex, limit)`: trailing empty strings are dropped when the limit is 0.
#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn split(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let s = input_str(&input, "split")?;
    let delimiter = args.str(0)?.unwrap_or("");
    let limit = args.int(1)?.unwrap_or(0);
    let pattern =
        regex::Regex::new(delimiter).map_err(|e| format!("invalid delimiter pattern: {e}"))?;
    let mut parts: Vec<&str> = if limit > 0 {
        pattern
            .splitn(s, usize::try_from(limit).unwrap_or(usize::MAX))
            .collect()
    } else {
        pattern.split(s).collect()
    };
    if limit == 0 {
        while parts.last() == Some(&"") && parts.len() > 1 {
            parts.pop();
        }
    }
    Ok(Value::Array(
        parts.into_iter().map(|p| Value::String(p.into())).collect(),
    ))
}

/// Java `DecimalFormat` patterns as flows use them: `#`, `0`, `,` grouping and a `.` fraction.
#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn numberformat(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let Value::Number(n) = &input else {
        return Err(format!("needs a number, not {}", describe(&input)));
    };
    // Without a pattern, the en_US default: `#,##0.###`.
    let pattern = args.str(0)?.unwrap_or("#,##0.###");
    let number = n.as_f64().unwrap_or_default();
    Ok(Value::String(match pattern.strip_suffix('%') {
        Some(base) => format!("{}%", decimal_format(number * 100.0, base)),
        None => decimal_format(number, pattern),
    }))
}

pub(crate) fn decimal_format(value: f64, pattern: &str) -> String {
    let (int_pattern, frac_pattern) = pattern.split_once('.').unwrap_or((pattern, ""));
    let min_frac = frac_pattern.chars().filter(|c| *c == '0').count();
    let max_frac = frac_pattern
        .chars()
        .filter(|c| *c == '0' || *c == '#')
        .count();
    let min_int = int_pattern.chars().filter(|c| *c == '0').count();
    let grouping = int_pattern.rfind(',').map(|at| {
        int_pattern[at + 1..]
            .chars()
            .filter(|c| *c == '0' || *c == '#')
            .count()
    });
    // Java rounds HALF_EVEN; format with the maximum fraction digits then trim optional zeros.
    let factor = 10f64.powi(i32::try_from(max_frac).unwrap_or(0));
    let scaled = value.abs() * factor;
    let rounded = {
        let floor = scaled.floor();
        let diff = scaled - floor;
        if (diff - 0.5).abs() < 1e-9 {
            if floor % 2.0 == 0.0 {
                floor
            } else {
                floor + 1.0
            }
        } else {
            scaled.round()
        }
    };
    let text = format!("{:.*}", max_frac, rounded / factor);
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let mut frac = frac_part.to_string();
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int_digits = int_part.trim_start_matches('0').to_string();
    while int_digits.len() < min_int {
        int_digits.insert(0, '0');
    }
    if let Some(size) = grouping.filter(|s| *s > 0) {
        let digits: Vec<char> = int_digits.chars().collect();
        let mut grouped = String::new();
        for (i, d) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(size) {
                grouped.push(',');
            }
            grouped.push(*d);
        }
        int_digits = grouped;
    }
    let negative = value < 0.0
        && (int_digits.chars().any(|c| c != '0' && c != ',') || frac.chars().any(|c| c != '0'));
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&int_digits);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    if out.is_empty() || out == "-" {
        out.push('0');
    }
    out
}

fn extreme(args: &Args, wanted: std::cmp::Ordering) -> Result<Value, String> {
    let mut best: Option<Value> = None;
    for i in 0..8 {
        let Some(candidate) = args.get(i) else {
            continue;
        };
        best = Some(match best {
            None => candidate.clone(),
            Some(current) if !candidate.is_number() || !current.is_number() => {
                return Err(format!(
                    "compares numbers, not {} and {}",
                    describe(candidate),
                    describe(&current)
                ))
            }
            Some(current) => match compare(candidate, &current) {
                Some(order) if order == wanted => candidate.clone(),
                Some(_) => current,
                None => {
                    return Err(format!(
                        "cannot compare {} with {}",
                        describe(candidate),
                        describe(&current)
                    ))
                }
            },
        });
    }
    Ok(best.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::decimal_format;

    #[test]
    fn decimal_formats() {
        assert_eq!(decimal_format(1234.567, "#,##0.00"), "1,234.57");
        assert_eq!(decimal_format(0.5, "0.00"), "0.50");
        assert_eq!(decimal_format(3.0, "#.##"), "3");
        assert_eq!(decimal_format(-2.5, "#"), "-2");
    }
}
