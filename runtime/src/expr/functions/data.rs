//! Data formats: `toJson` (and its deprecated alias `json`), `yaml`, `toIon`, `jq` filters;
//! `fromJson` (and `json`), `fromIon`, `yaml` functions; the `json` test.

use std::fmt::Write as _;

use serde_json::Value;

use super::super::library::{opt, req, Args, FilterDef, FunctionDef, Kind, TestDef};
use super::super::value::{describe, java_double};
use super::{ion, pure, yaml};
use crate::expr::eval::Evaluator;

const ANY: &[Kind] = &[Kind::Any];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("toJson", &[], ANY, Kind::String),
        run: |_, input, _| Ok(Value::String(to_jackson_json(&input))),
    },
    FilterDef {
        signature: pure("json", &[], ANY, Kind::String),
        run: |_, input, _| Ok(Value::String(to_jackson_json(&input))),
    },
    FilterDef {
        signature: pure("yaml", &[], ANY, Kind::String),
        run: |_, input, _| {
            Ok(Value::String(if input.is_null() {
                "null".into()
            } else {
                yaml::emit(&input)
            }))
        },
    },
    FilterDef {
        signature: pure("toIon", &[], ANY, Kind::String),
        run: |_, input, _| {
            let mut out = String::new();
            write_ion(&input, &mut out);
            Ok(Value::String(out))
        },
    },
    FilterDef {
        signature: pure("jq", &[req("expression", Kind::String)], ANY, Kind::List),
        run: jq,
    },
];

pub(in crate::expr) static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        signature: pure("fromJson", &[req("json", Kind::String)], &[], Kind::Any),
        run: |_, args| from_json(args, "json"),
    },
    FunctionDef {
        signature: pure("json", &[req("json", Kind::String)], &[], Kind::Any),
        run: |_, args| from_json(args, "json"),
    },
    FunctionDef {
        // `allRows` (Kestra 1.0): every top-level value, as a list, instead of the first.
        signature: pure(
            "fromIon",
            &[req("ion", Kind::String), opt("allRows", Kind::Boolean)],
            &[],
            Kind::Any,
        ),
        run: |_, args| match args.get(0) {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(Value::String(text)) if args.bool(1)?.unwrap_or(false) => {
                ion::parse_all(text).map_err(|e| format!("invalid Ion: {e}"))
            }
            Some(Value::String(text)) => ion::parse(text).map_err(|e| format!("invalid Ion: {e}")),
            Some(other) => Err(format!(
                "argument `ion` must be a string, not {}",
                describe(other)
            )),
        },
    },
    FunctionDef {
        signature: pure("yaml", &[req("yaml", Kind::String)], &[], Kind::Any),
        run: |_, args| match args.get(0) {
            Some(Value::String(text)) => {
                yaml::parse(text).map_err(|e| format!("invalid YAML: {e}"))
            }
            Some(other) => Err(format!(
                "argument `yaml` must be a string, not {}",
                describe(other)
            )),
            None => Err("argument `yaml` is required".into()),
        },
    },
];

pub(in crate::expr) static TESTS: &[TestDef] = &[TestDef {
    signature: pure("json", &[], &[Kind::String], Kind::Boolean),
    run: |input, _| match input {
        Some(Value::String(s)) => Ok(is_json(s)),
        Some(other) => Err(format!("needs a string, not {}", describe(other))),
        None => Err("the value is not defined".into()),
    },
}];

/// Compact JSON as Kestra's Jackson mapper writes it (`toJson` keeps null values).
pub(crate) fn to_jackson_json(value: &Value) -> String {
    let mut out = String::new();
    super::super::value::write_json(value, false, &mut out);
    out
}

/// Jackson's `readTree` accepts empty input and ignores what follows the first value.
fn is_json(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    matches!(stream.next(), Some(Ok(_)))
}

fn from_json(args: &Args, name: &str) -> Result<Value, String> {
    match args.get(0) {
        None => Err(format!("argument `{name}` is required")),
        Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(text)) => {
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => Ok(value),
                Some(Err(e)) => Err(format!("invalid JSON: {e}")),
                None => Err("invalid JSON: no content".into()),
            }
        }
        Some(other) => Err(format!(
            "argument `{name}` must be a string, not {}",
            describe(other)
        )),
    }
}

type JqFilter = jaq_core::Filter<jaq_core::data::JustLut<jaq_json::Val>>;

thread_local! {
    /// Compiled jq programs: compiling jq's standard definitions costs milliseconds.
    static JQ_PROGRAMS: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<JqFilter>>> =
        std::cell::RefCell::default();
}

fn jq_program(program: &str) -> Result<std::rc::Rc<JqFilter>, String> {
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::Compiler;

    if let Some(filter) = JQ_PROGRAMS.with(|cache| cache.borrow().get(program).cloned()) {
        return Ok(filter);
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|errors| {
            format!(
                "invalid jq expression '{program}': {}",
                load_errors(&errors)
            )
        })?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<String> = errors
                .iter()
                .flat_map(|(_, errs)| errs.iter().map(|(name, _)| format!("`{name}`")))
                .collect();
            format!(
                "invalid jq expression '{program}': undefined {}",
                names.join(", ")
            )
        })?;
    let filter = std::rc::Rc::new(filter);
    JQ_PROGRAMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(program.to_string(), filter.clone());
    });
    Ok(filter)
}

/// Kestra's `jq` (jackson-jq, jq 1.6): the input (a JSON string is parsed first) through the
/// program; the result is always the list of every output. Like jackson-jq, a computed number
/// that is integral is an integer (`4 / 2` is `2`), while doubles of the input stay doubles.
#[allow(clippy::needless_pass_by_value)] // every filter takes its input by value
fn jq(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    use jaq_core::{data, unwrap_valr, Ctx, Vars};

    if input.is_null() {
        return Ok(Value::Null);
    }
    let program = args
        .str(0)?
        .ok_or("argument `expression` must not be null")?;
    let input = match &input {
        Value::String(text) => {
            let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => value,
                _ => {
                    return Err(format!(
                        "the input string is not JSON: {}",
                        describe(&input)
                    ))
                }
            }
        }
        other => other.clone(),
    };
    let value = jaq_json::read::parse_single(to_jackson_json(&input).as_bytes())
        .map_err(|e| format!("cannot read the input as JSON: {e:?}"))?;
    let mut input_doubles = std::collections::HashSet::new();
    integral_doubles(&input, &mut input_doubles);

    let filter = jq_program(program)?;
    let ctx = Ctx::<data::JustLut<jaq_json::Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for result in filter.id.run((ctx, value)).map(unwrap_valr) {
        let val = result.map_err(|e| format!("jq expression '{program}' failed: {e}"))?;
        let text = val.to_string();
        let mut value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("jq gave a value that is not JSON ({text}): {e}"))?;
        normalize_numbers(&mut value, &input_doubles);
        out.push(value);
    }
    Ok(Value::Array(out))
}

/// The integral doubles of a value (`2.0`), by their bits.
fn integral_doubles(value: &Value, found: &mut std::collections::HashSet<u64>) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) {
                found.insert(f.to_bits());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| integral_doubles(i, found)),
        Value::Object(map) => map.values().for_each(|i| integral_doubles(i, found)),
        _ => {}
    }
}

/// jackson-jq's `asNumericNode`: integral results of arithmetic are integers.
fn normalize_numbers(value: &mut Value, input_doubles: &std::collections::HashSet<u64>) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                let integral = f.fract() == 0.0 && f.abs() < 9.2e18;
                if integral && !input_doubles.contains(&f.to_bits()) {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    *value = Value::from(i);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| normalize_numbers(i, input_doubles)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|i| normalize_numbers(i, input_doubles)),
        _ => {}
    }
}

fn load_errors<E: std::fmt::Debug>(errors: &[(jaq_core::load::File<&str, ()>, E)]) -> String {
    errors
        .iter()
        .map(|(_, e)| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value as Ion text, as Kestra's Jackson Ion mapper writes it (one line).
pub fn to_ion(value: &Value) -> String {
    let mut out = String::new();
    write_ion(value, &mut out);
    out
}

/// Ion text as Kestra's Jackson Ion mapper writes it: `{key:"text",n:1,f:1.5e0}`.
fn write_ion(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u)) => {
                let _ = write!(out, "{u}");
            }
            _ => out.push_str(&ion_float(n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => ion_quoted(s, '"', out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ion(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ion_symbol(key, out);
                out.push(':');
                write_ion(item, out);
            }
            out.push('}');
        }
    }
}

/// Ion floats: Java's digits, `e0` when Java gives no exponent, `2e0` for `2.0`.
fn ion_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0e0" } else { "0e0" }.into();
    }
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+inf" } else { "-inf" }.into();
    }
    let java = java_double(f);
    if let Some(whole) = java.strip_suffix(".0") {
        format!("{whole}e0")
    } else if java.contains('E') {
        java
    } else {
        format!("{java}e0")
    }
}

fn ion_symbol(name: &str, out: &mut String) {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    let keyword = matches!(name, "null" | "true" | "false" | "nan")
        || (name.starts_with('$')
            && name.len() > 1
            && name[1..].bytes().all(|b| b.is_ascii_digit()));
    if identifier && !keyword {
        out.push_str(name);
    } else {
        ion_quoted(name, '\'', out);
    }
}

fn ion_quoted(s: &str, quote: char, out: &mut String) {
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ion_text() {
        let value: Value = serde_json::from_str(
            r#"{"string":"string","int":1,"float":1.123,"empty_object":{},"l":[2.0,1e20],"null":null}"#,
        )
        .unwrap();
        let mut out = String::new();
        write_ion(&value, &mut out);
        assert_eq!(
            out,
            r#"{string:"string",int:1,float:1.123e0,empty_object:{},l:[2e0,1.0E20],'null':null}"#
        );
    }

    #[test]
    fn jackson_json_numbers() {
        let value: Value = serde_json::from_str(r#"[1, 1.5, 1e20, "a\"b"]"#).unwrap();
        assert_eq!(to_jackson_json(&value), r#"[1,1.5,1.0E20,"a\"b"]"#);
    }

    #[test]
    fn json_test_is_lenient_like_jackson() {
        assert!(is_json(""));
        assert!(is_json("{\"a\": 1} trailing"));
        assert!(!is_json("{not json"));
    }
}

#[cfg(test)]
mod jq_tests {
    fn jq(program: &str) -> String {
        let vars: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"v": {"a": [1, 2, 3], "b": {"x": 1.5, "y": "s", "z": 2.0}, "n": 4}}"#,
        )
        .unwrap();
        let template = format!("{{{{ v | jq('{program}') }}}}");
        crate::expr::render_str(&template, &vars, &crate::expr::NoHost)
            .unwrap_or_else(|e| format!("error: {}", e.message))
    }

    #[test]
    fn jq_programs() {
        assert_eq!(jq(".a | map(. * 2)"), "[[2,4,6]]");
        assert_eq!(jq(".n / 4"), "[1]");
        assert_eq!(jq(".b.x + 1.5"), "[3]");
        assert_eq!(jq(".n / 3"), "[1.3333333333333333]");
        assert_eq!(jq(".b.z"), "[2.0]");
        assert_eq!(jq(".a[] | select(. > 1)"), "[2,3]");
        assert_eq!(jq(".missing // \"d\""), "[\"d\"]");
        assert_eq!(jq(".b | keys"), "[[\"x\",\"y\",\"z\"]]");
        assert_eq!(jq(".a[10]"), "[null]");
        assert!(jq("error(\"boom\")").contains("boom"));
        assert!(jq("nope(1)").contains("undefined"));
    }
}
