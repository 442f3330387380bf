//! Values as Kestra's Pebble sees them: JSON values whose numbers are Java `long`s or
//! `double`s. How they print, compare and combine.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::ast::BinaryOp;

/// Append a value as `{{ value }}` prints it: strings raw, null empty, maps and lists as JSON.
pub fn display(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_string(n)),
        Value::Array(_) | Value::Object(_) => out.push_str(&to_json(value)),
    }
}

pub fn to_display_string(value: &Value) -> String {
    let mut out = String::new();
    display(value, &mut out);
    out
}

/// Compact JSON, as Kestra's output writer prints collections: a map's null values are left out.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, true, &mut out);
    out
}

/// Compact JSON as Kestra's Jackson mapper writes it: doubles the way Java prints them
/// (`1.0E10`), strings escaped as JSON requires; `skip_null_values` drops a map's null entries
/// (the template output writer does, `toJson` does not).
pub fn write_json(value: &Value, skip_null_values: bool, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_string(n)),
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, skip_null_values, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let entries = map
                .iter()
                .filter(|(_, v)| !(skip_null_values && v.is_null()));
            for (i, (key, item)) in entries.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                write_json(item, skip_null_values, out);
            }
            out.push('}');
        }
    }
}

/// A value as Java's `toString` prints it, which is what `~`, `#{…}` and `join` use:
/// `[a, 1]` for a list, `{a=1}` for a map.
pub fn java_string(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_element(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_element(v, out);
            }
            out.push('}');
        }
        other => display(other, out),
    }
}

fn java_element(value: &Value, out: &mut String) {
    if value.is_null() {
        out.push_str("null");
    } else {
        java_string(value, out);
    }
}

/// A map in the order a `java.util.HashMap` iterates it: what Pebble's map literals and
/// `merge` produce (maps read from JSON keep their order).
///
/// `initial_capacity` is what the Java code asked for: Pebble sizes a literal for its entries
/// (`size / 0.75`), `new HashMap<>(other)` uses `size / 0.75 + 1`. The table grows by doubling
/// past three quarters full; entries iterate by bucket, then in insertion order.
pub fn java_hash_order(
    map: serde_json::Map<String, Value>,
    initial_capacity: usize,
) -> serde_json::Map<String, Value> {
    let mut capacity = initial_capacity.max(1).next_power_of_two();
    while map.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mut entries: Vec<(usize, usize, String, Value)> = map
        .into_iter()
        .enumerate()
        .map(|(order, (k, v))| {
            // Java's `String.hashCode`, then `HashMap.hash`'s spread of the high bits.
            let h = k
                .encode_utf16()
                .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
            let spread = (h ^ (h >> 16)) as usize;
            (spread & (capacity - 1), order, k, v)
        })
        .collect();
    entries.sort_by_key(|(bucket, order, _, _)| (*bucket, *order));
    entries.into_iter().map(|(_, _, k, v)| (k, v)).collect()
}

/// A number as Java prints a `long` or a `double` (`3`, `3.0`, `1.0E10`).
pub fn number_string(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    java_double(n.as_f64().unwrap_or(f64::NAN))
}

/// Java's `Double.toString`: plain between 10⁻³ and 10⁷, scientific outside, always a `.`.
pub fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let abs = f.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{f}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Shortest round-trip digits, then Java's `d.dddE±n` layout.
    let s = format!("{abs:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    let sign = if f < 0.0 { "-" } else { "" };
    format!("{sign}{mantissa}E{exponent}")
}

/// A short description for error messages: "a string", "the number 3", "a map".
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {}", number_string(n)),
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a map".into(),
    }
}

/// A double; JSON has no infinities, so `1 / 0.0` becomes the text Java prints, `Infinity`.
pub fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(java_double(f)), Value::Number)
}

/// A number operand: a Java long when it is integral and stored as one, else a double.
#[derive(Clone, Copy)]
enum Num {
    Long(i64),
    Double(f64),
}

fn num(value: &Value) -> Option<Num> {
    match value {
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Num::Long(i),
            None => Num::Double(n.as_f64()?),
        }),
        _ => None,
    }
}

pub fn negate(value: &Value) -> Option<Value> {
    match num(value)? {
        Num::Long(i) => Some(Value::from(i.checked_neg()?)),
        Num::Double(f) => Some(float(-f)),
    }
}

/// Numeric operators and comparisons on two evaluated operands.
pub fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, String> {
    match op {
        BinaryOp::Eq => Ok(Value::Bool(equals(l, r))),
        BinaryOp::Ne => Ok(Value::Bool(!equals(l, r))),
        // Ordering with null is false, whichever side it is on.
        BinaryOp::Lt | BinaryOp::Gt | BinaryOp::Le | BinaryOp::Ge if l.is_null() || r.is_null() => {
            Ok(Value::Bool(false))
        }
        BinaryOp::Lt | BinaryOp::Gt | BinaryOp::Le | BinaryOp::Ge => {
            // Pebble orders numbers only; strings are an error.
            let ordering = (num(l).is_some() && num(r).is_some())
                .then(|| compare(l, r))
                .flatten()
                .ok_or_else(|| {
                    format!(
                        "cannot compare {} with {} using `{}`",
                        describe(l),
                        describe(r),
                        op.symbol()
                    )
                })?;
            Ok(Value::Bool(match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::Gt => ordering == Ordering::Greater,
                BinaryOp::Le => ordering != Ordering::Greater,
                _ => ordering != Ordering::Less,
            }))
        }
        BinaryOp::Contains => contains(l, r).map(Value::Bool),
        BinaryOp::Concat => {
            let mut out = String::new();
            java_string(l, &mut out);
            java_string(r, &mut out);
            Ok(Value::String(out))
        }
        BinaryOp::Range => {
            let (Some(Num::Long(from)), Some(Num::Long(to))) = (num(l), num(r)) else {
                return Err(format!(
                    "`..` needs two integers, not {} and {}",
                    describe(l),
                    describe(r)
                ));
            };
            range(from, to, 1)
        }
        BinaryOp::Add if matches!(l, Value::String(_)) || matches!(r, Value::String(_)) => {
            let mut out = to_display_string(l);
            display(r, &mut out);
            Ok(Value::String(out))
        }
        BinaryOp::Add if l.is_array() => {
            let mut items = l.as_array().cloned().unwrap_or_default();
            match r {
                Value::Array(more) => items.extend(more.iter().cloned()),
                other => items.push(other.clone()),
            }
            Ok(Value::Array(items))
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            arithmetic(op, l, r)
        }
        BinaryOp::And | BinaryOp::Or | BinaryOp::NullCoalesce | BinaryOp::UndefinedCoalesce => {
            unreachable!("short-circuit operators are evaluated by the evaluator")
        }
    }
}

fn arithmetic(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, String> {
    let (Some(a), Some(b)) = (num(l), num(r)) else {
        return Err(format!(
            "`{}` needs two numbers, not {} and {}",
            op.symbol(),
            describe(l),
            describe(r)
        ));
    };
    if let (Num::Long(a), Num::Long(b)) = (a, b) {
        let result = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div if b == 0 => return Err("division by zero".into()),
            BinaryOp::Div => a.checked_div(b),
            BinaryOp::Rem if b == 0 => return Err("division by zero".into()),
            _ => a.checked_rem(b),
        };
        result
            .map(Value::from)
            .ok_or_else(|| format!("integer overflow in `{}`", op.symbol()))
    } else {
        let (a, b) = (as_f64(a), as_f64(b));
        Ok(float(match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            _ => a % b,
        }))
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        #[allow(clippy::cast_precision_loss)]
        Num::Long(i) => i as f64,
        Num::Double(f) => f,
    }
}

/// `from..to` inclusive, stepping by `step` (Pebble's `range` function and `..`).
pub fn range(from: i64, to: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("the step of a range cannot be 0".into());
    }
    // In i128: `to - from` overflows i64 for the widest ranges.
    let (from_w, to_w, step_w) = (i128::from(from), i128::from(to), i128::from(step));
    let count = if step > 0 {
        (to_w - from_w) / step_w + 1
    } else {
        (from_w - to_w) / -step_w + 1
    };
    if count > 1_000_000 {
        return Err(format!("a range of {count} values is too large"));
    }
    let mut items = Vec::new();
    let mut i = from;
    while (step > 0 && i <= to) || (step < 0 && i >= to) {
        items.push(Value::from(i));
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(Value::Array(items))
}

/// Pebble's `==`: numbers by value (1 == 1.0), everything else structurally.
pub fn equals(l: &Value, r: &Value) -> bool {
    match (num(l), num(r)) {
        (Some(a), Some(b)) => match (a, b) {
            (Num::Long(a), Num::Long(b)) => a == b,
            (a, b) => (as_f64(a) - as_f64(b)).abs() == 0.0,
        },
        _ => l == r,
    }
}

/// Order of two values: numbers numerically, strings lexicographically.
pub fn compare(l: &Value, r: &Value) -> Option<Ordering> {
    match (l, r) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => match (num(l)?, num(r)?) {
            (Num::Long(a), Num::Long(b)) => Some(a.cmp(&b)),
            (a, b) => as_f64(a).partial_cmp(&as_f64(b)),
        },
    }
}

/// `a contains b`: substring, list element (or all elements of a list), map key.
pub fn contains(container: &Value, item: &Value) -> Result<bool, String> {
    Ok(match container {
        Value::String(s) => match item {
            Value::String(needle) => s.contains(needle.as_str()),
            other => s.contains(&to_display_string(other)),
        },
        Value::Array(items) => match item {
            Value::Array(wanted) => wanted.iter().all(|w| items.iter().any(|i| equals(i, w))),
            _ => items.iter().any(|i| equals(i, item)),
        },
        Value::Object(map) => match item {
            Value::String(key) => map.contains_key(key),
            other => map.contains_key(&to_display_string(other)),
        },
        Value::Null => false,
        other => {
            return Err(format!(
                "`contains` needs a string, list or map, not {}",
                describe(other)
            ))
        }
    })
}

/// A rendered `Duration` property: ISO-8601 text, with a message that says what was expected.
pub fn duration_of(value: &Value) -> Result<std::time::Duration, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "a duration must be ISO-8601 text like PT10S, not {}",
            describe(value)
        ));
    };
    let text = text.trim();
    parse_iso_duration(text)
        .ok_or_else(|| format!("`{text}` is not an ISO-8601 duration (PT10S, PT1M, P1D)"))
}

/// An ISO-8601 duration (`PT1M30S`, `P1D`, `PT0.5S`), as Kestra's `Duration` properties take;
/// `None` when it does not parse or is negative.
pub fn parse_iso_duration(text: &str) -> Option<std::time::Duration> {
    let nanos = u64::try_from(parse_java_duration(text)?).ok()?;
    Some(std::time::Duration::from_nanos(nanos))
}

/// Java's `Duration.parse`: `[-]PnDTnHnMn.nS`, each part optionally signed; in nanoseconds.
pub fn parse_java_duration(text: &str) -> Option<i128> {
    let (negate, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let (days, time) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    const SECOND: i128 = 1_000_000_000;
    let mut total: i128 = 0;
    let mut parts = 0;
    if !days.is_empty() {
        let n = days.strip_suffix(['D', 'd'])?;
        total += signed_integer(n)? * 86_400 * SECOND;
        parts += 1;
    }
    if let Some(mut time) = time {
        if time.is_empty() {
            return None;
        }
        for (unit, scale) in [('H', 3_600), ('M', 60)] {
            if let Some(i) = time.find([unit, unit.to_ascii_lowercase()]) {
                total += signed_integer(&time[..i])? * scale * SECOND;
                time = &time[i + 1..];
                parts += 1;
            }
        }
        if !time.is_empty() {
            let seconds = time.strip_suffix(['S', 's'])?;
            let (whole, fraction) = match seconds.find(['.', ',']) {
                Some(i) => (&seconds[..i], Some(&seconds[i + 1..])),
                None => (seconds, None),
            };
            let whole_value = signed_integer(whole)?;
            let mut nanos: i128 = 0;
            if let Some(f) = fraction {
                if f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                nanos = format!("{f:0<9}").parse().ok()?;
                if whole.starts_with('-') {
                    nanos = -nanos;
                }
            }
            total += whole_value * SECOND + nanos;
            parts += 1;
        }
    }
    if parts == 0 {
        return None;
    }
    Some(if negate { -total } else { total })
}

fn signed_integer(text: &str) -> Option<i128> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
