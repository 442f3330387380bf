//! Kestra's string filters: `slugify`, `substringBefore`…, `startsWith`/`endsWith`,
//! `escapeChar`, `indent`/`nindent`, `urldecode`, Kestra's `replace`, `number`, `string`, and
//! Pebble's `base64encode`/`base64decode` and `numberFormat` (Kestra's name for `numberformat`).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::super::library::{opt, req, Args, FilterDef, Kind};
use super::super::value::{describe, float, number_string};
use super::{base64_decode, base64_encode, input_str, java_string, pure};
use crate::expr::eval::Evaluator;

const STRING: &[Kind] = &[Kind::String];
const ANY: &[Kind] = &[Kind::Any];
const SEPARATOR: &[super::super::library::Param] = &[req("separator", Kind::String)];
const INDENT: &[super::super::library::Param] =
    &[req("amount", Kind::Integer), opt("prefix", Kind::String)];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("slugify", &[], ANY, Kind::String),
        run: |_, input, _| Ok(null_or(&input, |s| Value::String(slugify(s)))),
    },
    FilterDef {
        signature: pure("substringBefore", SEPARATOR, ANY, Kind::String),
        run: |_, input, args| substring(&input, args, substring_before),
    },
    FilterDef {
        signature: pure("substringBeforeLast", SEPARATOR, ANY, Kind::String),
        run: |_, input, args| substring(&input, args, substring_before_last),
    },
    FilterDef {
        signature: pure("substringAfter", SEPARATOR, ANY, Kind::String),
        run: |_, input, args| substring(&input, args, substring_after),
    },
    FilterDef {
        signature: pure("substringAfterLast", SEPARATOR, ANY, Kind::String),
        run: |_, input, args| substring(&input, args, substring_after_last),
    },
    FilterDef {
        signature: pure("startsWith", &[req("value", Kind::Any)], ANY, Kind::Boolean),
        run: |_, input, args| affix(&input, args, |s, v| s.starts_with(v)),
    },
    FilterDef {
        signature: pure("endsWith", &[req("value", Kind::Any)], ANY, Kind::Boolean),
        run: |_, input, args| affix(&input, args, |s, v| s.ends_with(v)),
    },
    FilterDef {
        signature: pure("escapeChar", &[req("type", Kind::String)], ANY, Kind::Input),
        run: escape_char,
    },
    FilterDef {
        signature: pure("indent", INDENT, ANY, Kind::String),
        run: |_, input, args| indent(&input, args, false),
    },
    FilterDef {
        signature: pure("nindent", INDENT, ANY, Kind::String),
        run: |_, input, args| indent(&input, args, true),
    },
    FilterDef {
        signature: pure("urldecode", &[], STRING, Kind::String),
        run: |_, input, _| {
            if input.is_null() {
                return Ok(Value::Null);
            }
            url_decode(input_str(&input, "urldecode")?).map(Value::String)
        },
    },
    FilterDef {
        signature: pure(
            "replace",
            &[
                req("replace_pairs", Kind::Map),
                opt("regexp", Kind::Boolean),
            ],
            ANY,
            Kind::Input,
        ),
        run: replace,
    },
    FilterDef {
        signature: pure("number", &[opt("type", Kind::String)], STRING, Kind::Number),
        run: number,
    },
    FilterDef {
        signature: pure("string", &[], &[Kind::Number, Kind::String], Kind::String),
        run: string,
    },
    FilterDef {
        signature: pure("base64encode", &[], ANY, Kind::String),
        run: |_, input, _| {
            Ok(null_or(&input, |s| {
                Value::String(base64_encode(s.as_bytes()))
            }))
        },
    },
    FilterDef {
        signature: pure("base64decode", &[], STRING, Kind::String),
        run: |_, input, _| {
            if input.is_null() {
                return Ok(Value::Null);
            }
            let text = input_str(&input, "base64decode")?;
            let bytes = base64_decode(text).map_err(|e| format!("not valid base64: {e}"))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| "the decoded bytes are not UTF-8 text".to_string())
        },
    },
];

/// Null passes through; anything else is turned into its string form first.
fn null_or(input: &Value, f: impl Fn(&str) -> Value) -> Value {
    match input {
        Value::Null => Value::Null,
        other => f(&java_string(other)),
    }
}

fn separator(args: &Args) -> Result<&str, String> {
    args.str(0)?
        .ok_or_else(|| "argument `separator` must not be null".to_string())
}

fn substring(input: &Value, args: &Args, f: fn(&str, &str) -> String) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let separator = separator(args)?;
    Ok(Value::String(f(&java_string(input), separator)))
}

/// Commons Lang `StringUtils.substringBefore`.
fn substring_before(s: &str, separator: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if separator.is_empty() {
        return String::new();
    }
    s.find(separator).map_or(s, |at| &s[..at]).to_string()
}

/// Commons Lang `StringUtils.substringBeforeLast`.
fn substring_before_last(s: &str, separator: &str) -> String {
    if s.is_empty() || separator.is_empty() {
        return s.to_string();
    }
    s.rfind(separator).map_or(s, |at| &s[..at]).to_string()
}

/// Commons Lang `StringUtils.substringAfter`.
fn substring_after(s: &str, separator: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    s.find(separator)
        .map_or("", |at| &s[at + separator.len()..])
        .to_string()
}

/// Commons Lang `StringUtils.substringAfterLast`.
fn substring_after_last(s: &str, separator: &str) -> String {
    if s.is_empty() || separator.is_empty() {
        return String::new();
    }
    match s.rfind(separator) {
        Some(at) if at + separator.len() < s.len() => s[at + separator.len()..].to_string(),
        _ => String::new(),
    }
}

fn affix(input: &Value, args: &Args, f: fn(&str, &str) -> bool) -> Result<Value, String> {
    if input.is_null() {
        return Err("needs a value, not null".into());
    }
    let value = match args.get(0) {
        None | Some(Value::Null) => return Err("argument `value` must not be null".into()),
        Some(v) => java_string(v),
    };
    Ok(Value::Bool(f(&java_string(input), &value)))
}

/// Kestra's `Slugify.of`: whitespace to `-`, accents dropped (NFD then non-word characters
/// removed), `_` to `-`, no doubled, leading or trailing `-`, lower case.
pub(crate) fn slugify(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let dashed: String = s
        .chars()
        .map(|c| {
            if matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let mut slug: String = dashed
        .nfd()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    while slug.contains("--") {
        slug = slug.replace("--", "-");
    }
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    slug.to_ascii_lowercase()
}

#[derive(Clone, Copy)]
enum Quote {
    Single,
    Double,
    Shell,
}

fn escape_char(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let kind = args.str(0)?.unwrap_or("");
    let quote = match kind.to_ascii_lowercase().as_str() {
        "single" => Quote::Single,
        "double" => Quote::Double,
        "shell" => Quote::Shell,
        _ => {
            return Err(format!(
                "argument `type` must be 'single', 'double' or 'shell', not '{kind}'"
            ))
        }
    };
    deep_map_strings(input, &|s| escape_quotes(s, quote))
}

fn escape_quotes(s: &str, quote: Quote) -> String {
    match quote {
        Quote::Single => s.replace('\'', "\\'"),
        Quote::Double => s.replace('"', "\\\""),
        Quote::Shell => s.replace('\'', "'\\''"),
    }
}

/// Apply `f` to a string, or to every leaf of a list or map (Kestra's `escapeChar` and `replace`
/// walk collections; a leaf that is not a string is turned into one first).
fn deep_map_strings(input: Value, f: &dyn Fn(&str) -> String) -> Result<Value, String> {
    fn leaf(value: Value, f: &dyn Fn(&str) -> String) -> Result<Value, String> {
        match value {
            Value::Null => Err("a list or map element is null".into()),
            Value::Array(_) | Value::Object(_) => collection(value, f),
            other => Ok(Value::String(f(&java_string(&other)))),
        }
    }
    fn collection(value: Value, f: &dyn Fn(&str) -> String) -> Result<Value, String> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .map(|item| leaf(item, f))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, item) in map {
                    out.insert(key, leaf(item, f)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(Value::String(f(&java_string(&other)))),
        }
    }
    collection(input, f)
}

/// The line separator Kestra's indent filters detect: the first of CRLF, LFCR, LF, CR found.
fn line_separator(s: &str) -> &'static str {
    if s.contains("\r\n") {
        "\r\n"
    } else if s.contains("\n\r") {
        "\n\r"
    } else if s.contains('\n') {
        "\n"
    } else if s.contains('\r') {
        "\r"
    } else {
        "\n"
    }
}

fn indent(input: &Value, args: &Args, leading_newline: bool) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let text = java_string(input);
    if text.is_empty() {
        return Ok(Value::String(text));
    }
    let amount = args.int(0)?.ok_or("argument `amount` must not be null")?;
    let amount = usize::try_from(amount)
        .map_err(|_| format!("argument `amount` must be 0 or more, not {amount}"))?;
    let prefix = match args.get(1) {
        None => " ",
        Some(_) => args.str(1)?.unwrap_or("null"),
    };
    let newline = line_separator(&text);
    let padded = format!("{newline}{}", prefix.repeat(amount));
    Ok(Value::String(if leading_newline {
        format!("{newline}{text}").replace(newline, &padded)
    } else {
        text.replace(newline, &padded)
    }))
}

/// Java's `URLDecoder.decode(s, UTF-8)`: `+` is a space, `%xx` bytes are UTF-8; a `%` without
/// two hex digits is an error, as Java's.
pub(crate) fn url_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    if let Some(i) = (0..bytes.len()).find(|&i| {
        bytes[i] == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(format!(
            "illegal escape at byte {i} of \"{s}\" (`%` needs two hex digits)"
        ));
    }
    let spaced = s.replace('+', " ");
    Ok(percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned())
}

fn replace(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let pairs = match args.get(0) {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => return Err("argument `replace_pairs` is required".into()),
        Some(other) => {
            return Err(format!(
                "argument `replace_pairs` must be a map, not {}",
                describe(other)
            ))
        }
    };
    let regexp = args.bool(1)?.unwrap_or(false);
    let mut steps: Vec<(Option<regex::Regex>, String, String)> = Vec::new();
    for (key, value) in pairs {
        let replacement = java_string(value);
        if regexp {
            let pattern =
                regex::Regex::new(key).map_err(|e| format!("invalid pattern `{key}`: {e}"))?;
            let replacement = java_replacement(&replacement, pattern.captures_len() - 1)?;
            steps.push((Some(pattern), String::new(), replacement));
        } else {
            steps.push((None, key.clone(), replacement));
        }
    }
    let apply = |s: &str| -> String {
        let mut data = s.to_string();
        for (pattern, key, replacement) in &steps {
            data = match pattern {
                Some(pattern) => pattern
                    .replace_all(&data, replacement.as_str())
                    .into_owned(),
                None => data.replace(key.as_str(), replacement),
            };
        }
        data
    };
    match input {
        Value::Array(_) | Value::Object(_) => deep_map_strings(input, &apply),
        other => Ok(Value::String(apply(&java_string(&other)))),
    }
}

/// A Java `Matcher.replaceAll` replacement (`$1`, `${name}`, `\$` for a literal) as the
/// `regex` crate spells it (`${1}`, `${name}`, `$$`).
pub(crate) fn java_replacement(java: &str, groups: usize) -> Result<String, String> {
    let mut out = String::with_capacity(java.len());
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => return Err("the replacement ends with a lone `\\`".into()),
            },
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if name.is_empty() {
                        return Err("named group reference `${}` has no name".into());
                    }
                    let _ = write!(out, "${{{name}}}");
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut number = d.to_digit(10).unwrap_or(0) as usize;
                    chars.next();
                    if number > groups {
                        return Err(format!("no group {number} in the pattern"));
                    }
                    // Java takes more digits while the group number stays valid.
                    while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                        let longer = number * 10 + next as usize;
                        if longer > groups {
                            break;
                        }
                        number = longer;
                        chars.next();
                    }
                    let _ = write!(out, "${{{number}}}");
                }
                _ => return Err("illegal group reference: `$` must be followed by a group".into()),
            },
            other => out.push(other),
        }
    }
    Ok(out)
}

#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn number(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let text = match &input {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.as_str(),
        other => {
            return Err(format!(
                "can only be applied to a string, not {}",
                describe(other)
            ))
        }
    };
    let kind = args.str(0)?.unwrap_or("");
    let invalid = || format!("\"{text}\" is not a valid number");
    match kind {
        "INT" => java_decode_int(text)
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Value::from)
            .ok_or_else(invalid),
        "LONG" => java_decode_int(text).map(Value::from).ok_or_else(invalid),
        "FLOAT" => java_float(text)
            .and_then(|f| {
                #[allow(clippy::cast_possible_truncation)]
                let single = f as f32;
                // Java prints a float with its own shortest digits.
                single.to_string().parse::<f64>().ok()
            })
            .map(float)
            .ok_or_else(invalid),
        "DOUBLE" => java_float(text).map(float).ok_or_else(invalid),
        "BIGDECIMAL" | "BIGINTEGER" => {
            let trimmed = text.trim();
            if let Ok(i) = trimmed.parse::<i64>() {
                return Ok(Value::from(i));
            }
            if kind == "BIGINTEGER" {
                return Err(format!("\"{text}\" is not a valid integer"));
            }
            trimmed
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(float)
                .ok_or_else(invalid)
        }
        _ => create_number(text).ok_or_else(invalid),
    }
}

/// Java's `Integer.decode`/`Long.decode`: optional sign, then decimal, `0x`/`#` hex or `0` octal.
fn java_decode_int(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, hex)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['-', '+']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// Java's `Double.valueOf`: surrounding whitespace allowed, an `f`/`d` suffix allowed.
fn java_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let t = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    match t {
        "NaN" | "Infinity" | "+Infinity" | "-Infinity" => None,
        _ => t.parse::<f64>().ok(),
    }
}

/// Commons Lang `NumberUtils.createNumber`, as far as a JSON value can hold the result:
/// integers (decimal, hex, octal) as integers, the rest as doubles.
fn create_number(text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    let unsigned = text.trim_start_matches(['+', '-']);
    if unsigned.starts_with("0x") || unsigned.starts_with("0X") || unsigned.starts_with('#') {
        return java_decode_int(text).map(Value::from);
    }
    let last = text.chars().last()?;
    let typed = !last.is_ascii_digit() && last != '.';
    if typed {
        let numeric = &text[..text.len() - last.len_utf8()];
        return match last {
            'l' | 'L' => java_decode_int(numeric)
                .filter(|_| {
                    numeric
                        .trim_start_matches('-')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .map(Value::from),
            'f' | 'F' | 'd' | 'D' => java_float(numeric).map(float),
            _ => None,
        };
    }
    if !text.contains(['.', 'e', 'E']) {
        if !text
            .trim_start_matches(['+', '-'])
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        return java_decode_int(text).map(Value::from).or_else(|| {
            // Beyond a long: a BigInteger, kept as a double here.
            text.parse::<f64>().ok().map(float)
        });
    }
    java_float(text).filter(|f| f.is_finite()).map(float)
}

/// Kestra's `string` filter: a number (or a numeric string, read as a `BigDecimal`) as text.
#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn string(_: &mut Evaluator, input: Value, _: &Args) -> Result<Value, String> {
    match &input {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::String(number_string(n))),
        Value::String(s) => big_decimal_string(s)
            .map(Value::String)
            .ok_or_else(|| format!("expects a number or a numeric string, not \"{s}\"")),
        other => Err(format!(
            "expects a number or a numeric string, not {}",
            describe(other)
        )),
    }
}

/// `new BigDecimal(s).toString()`: the digits as written (trailing zeros kept), in scientific
/// notation when the exponent is large.
fn big_decimal_string(s: &str) -> Option<String> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let scale = i64::try_from(frac_part.len()).ok()? - exponent;
    let len = i64::try_from(digits.len()).ok()?;
    let adjusted = -scale + (len - 1);
    let mut out = String::new();
    if negative && digits != "0" {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(digits);
    } else if scale > 0 && adjusted >= -6 {
        let scale = usize::try_from(scale).ok()?;
        if digits.len() > scale {
            let (a, b) = digits.split_at(digits.len() - scale);
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat(scale - digits.len()));
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('E');
        if adjusted >= 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Test\t\t\ntest*"), "test-test");
        assert_eq!(slugify("  Héllo, Wörld_2 "), "hello-world-2");
        assert_eq!(slugify("--a--"), "a");
    }

    #[test]
    fn substrings_follow_commons_lang() {
        assert_eq!(substring_before("a.b.c", "."), "a");
        assert_eq!(substring_before("abc", "x"), "abc");
        assert_eq!(substring_after("abc", "x"), "");
        assert_eq!(substring_before_last("abc", "x"), "abc");
        assert_eq!(substring_after_last("a.b.", "."), "");
        assert_eq!(substring_after_last("a.b.c", "."), "c");
    }

    #[test]
    fn java_replacements() {
        assert_eq!(java_replacement("-$1-", 1).unwrap(), "-${1}-");
        assert_eq!(java_replacement("$12", 1).unwrap(), "${1}2");
        assert_eq!(java_replacement("\\$x", 0).unwrap(), "$$x");
        assert!(java_replacement("$2", 1).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(create_number("12.3"), Some(float(12.3)));
        assert_eq!(
            create_number("2147483647"),
            Some(Value::from(2_147_483_647))
        );
        assert_eq!(create_number("0x1F"), Some(Value::from(31)));
        assert_eq!(create_number("10L"), Some(Value::from(10)));
        assert_eq!(create_number("abc"), None);
        assert_eq!(java_decode_int("010"), Some(8));
    }

    #[test]
    fn big_decimals() {
        assert_eq!(big_decimal_string("12.50").as_deref(), Some("12.50"));
        assert_eq!(big_decimal_string("007").as_deref(), Some("7"));
        assert_eq!(big_decimal_string("1e3").as_deref(), Some("1E+3"));
        assert_eq!(big_decimal_string("0.0000001").as_deref(), Some("1E-7"));
        assert_eq!(big_decimal_string("-1.5e1").as_deref(), Some("-15"));
        assert_eq!(big_decimal_string("x"), None);
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("Kestra+rulez+%21").unwrap(), "Kestra rulez !");
        assert_eq!(url_decode("%C3%A9").unwrap(), "é");
        assert!(url_decode("%zz").is_err());
    }
}
