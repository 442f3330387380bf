//! Inputs and flow outputs: values given on the command line or in JSON, checked and converted
//! to the declared types as Kestra's `FlowInputOutput` does.
//!
//! [`resolve`] takes `--input ID=VALUE` pairs and the object of `--inputs FILE.json` and returns
//! the execution's `inputs` map, or every problem at once, each naming its input. Decisions
//! where Kestra is silent or lax, written down here:
//! - A value given on the command line wins over the same input in the file. Given twice on
//!   the command line, the last one wins, except for ARRAY and MULTISELECT inputs, whose
//!   values add up (`--input tags=a --input tags=b` is `["a", "b"]`).
//! - An input id the flow does not declare is an error (Kestra ignores it silently).
//! - BOOLEAN takes `true` or `false` in any case; anything else is an error (Java's
//!   `Boolean.valueOf` would read `yes` as false).
//! - INT is a 64-bit integer (Kestra's is 32-bit); FLOAT a double (Kestra's is a float).
//! - Values from the JSON file keep their JSON type when it is the declared one (`42` for an
//!   INT, a list for an ARRAY, anything for JSON); a JSON string is read as the command line's
//!   text would be (`"42"` for an INT, JSON text for a JSON input).
//! - An optional input with neither a value nor `defaults` is `null` in `inputs`, as in Kestra.
//! - Dotted ids nest: `user.name` is `inputs.user.name`. The file may say `{"user.name": ..}`
//!   or `{"user": {"name": ..}}`. Keys of `inputs` are sorted, as Kestra's `TreeMap` sorts them.
//! - DATETIME, TIME and DURATION are normalized to the text Java's `Instant`, `LocalTime` and
//!   `Duration` print (`2024-01-01T08:00:00Z`, `10:30`, `PT1H30M`).
//! - A FILE is a local path that must be a readable file; its value is the `file://` URI of its
//!   absolute path (tasks read it from there until internal storage lands).
//! - `defaults` are converted and validated like given values; a bad default is reported as
//!   such. Defaults holding `{{ }}` are not rendered yet.
//! - The value of a SECRET input is never repeated in an error message.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

use crate::expr::value::{float, to_display_string};
use crate::formats::{
    check_uri, file_uri, is_email, java_duration, parse_date, parse_instant, parse_time, Validator,
};
use crate::plan::{Flow, Input, InputType};
use crate::suggest::did_you_mean;

mod schema;
pub use schema::json_schema;

/// One input that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The input's id as declared (or as given, for an unknown input).
    pub input: String,
    /// What was expected and what was given: `expected an INT, got "abc"`.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.message)
    }
}

impl std::error::Error for InputError {}

/// Kestra's name of a type, as written in flows.
pub fn type_name(ty: InputType) -> &'static str {
    match ty {
        InputType::String => "STRING",
        InputType::Int => "INT",
        InputType::Float => "FLOAT",
        InputType::Bool => "BOOLEAN",
        InputType::Select => "SELECT",
        InputType::Multiselect => "MULTISELECT",
        InputType::Datetime => "DATETIME",
        InputType::Date => "DATE",
        InputType::Time => "TIME",
        InputType::Duration => "DURATION",
        InputType::File => "FILE",
        InputType::Json => "JSON",
        InputType::Yaml => "YAML",
        InputType::Uri => "URI",
        InputType::Secret => "SECRET",
        InputType::Array => "ARRAY",
        InputType::Email => "EMAIL",
    }
}

/// A value as it arrived.
#[derive(Debug, Clone)]
enum Raw {
    /// Text from the command line; several for a list input given more than once.
    Text(Vec<String>),
    /// A value from the JSON file (or `defaults`).
    Json(Value),
}

/// Every problem with the inputs on one line (`a: ...; b: ...`), for a log line or an answer.
pub fn describe(errors: &[InputError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The execution's `inputs`: every declared input converted to its type, from the command line
/// (`given`, in order), the `--inputs` file, or `defaults`.
pub fn resolve(
    flow: &Flow,
    given: Vec<(String, String)>,
    file: Option<Map<String, Value>>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let declared: HashMap<&str, &Input> = flow.inputs.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut errors = Vec::new();
    let mut raw: HashMap<String, Raw> = HashMap::new();

    if let Some(file) = file {
        flatten_file(flow, &declared, "", file, &mut raw, &mut errors);
    }
    let mut from_cli: HashMap<String, Vec<String>> = HashMap::new();
    for (id, text) in given {
        match declared.get(id.as_str()) {
            Some(input) => {
                let texts = from_cli.entry(id).or_default();
                if !is_list(input.ty) {
                    texts.clear();
                }
                texts.push(text);
            }
            None => errors.push(unknown(flow, &id)),
        }
    }
    for (id, texts) in from_cli {
        raw.insert(id, Raw::Text(texts));
    }

    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for input in &flow.inputs {
        let value = match raw.remove(&input.id) {
            Some(Raw::Json(Value::Null)) | None => match &input.defaults {
                Some(default) if !default.is_null() => {
                    match coerce(input, Raw::Json(default.clone())) {
                        Ok(value) => value,
                        Err(message) => {
                            errors.push(InputError {
                                input: input.id.clone(),
                                message: format!("its `defaults` are not valid: {message}"),
                            });
                            continue;
                        }
                    }
                }
                _ if input.required => {
                    errors.push(InputError {
                        input: input.id.clone(),
                        message: format!(
                            "missing required input: expected {} (give it with --input {}=VALUE)",
                            expectation(input),
                            input.id
                        ),
                    });
                    continue;
                }
                _ => Value::Null,
            },
            Some(raw) => match coerce(input, raw) {
                Ok(value) => value,
                Err(message) => {
                    errors.push(InputError {
                        input: input.id.clone(),
                        message,
                    });
                    continue;
                }
            },
        };
        values.insert(input.id.clone(), value);
    }
    if errors.is_empty() {
        Ok(nest(values))
    } else {
        Err(errors)
    }
}

/// `--inputs FILE.json` keys: declared ids, or prefixes of dotted ids holding objects.
fn flatten_file(
    flow: &Flow,
    declared: &HashMap<&str, &Input>,
    prefix: &str,
    object: Map<String, Value>,
    raw: &mut HashMap<String, Raw>,
    errors: &mut Vec<InputError>,
) {
    for (key, value) in object {
        let id = format!("{prefix}{key}");
        if declared.contains_key(id.as_str()) {
            raw.insert(id, Raw::Json(value));
            continue;
        }
        let group = format!("{id}.");
        let is_group = flow.inputs.iter().any(|i| i.id.starts_with(&group));
        match value {
            Value::Object(inner) if is_group => {
                flatten_file(flow, declared, &group, inner, raw, errors);
            }
            _ if is_group => errors.push(InputError {
                input: id.clone(),
                message: format!(
                    "expected an object holding the inputs {}",
                    list_ids(flow.inputs.iter().filter(|i| i.id.starts_with(&group)))
                ),
            }),
            _ => errors.push(unknown(flow, &id)),
        }
    }
}

fn unknown(flow: &Flow, id: &str) -> InputError {
    let message = if flow.inputs.is_empty() {
        "this flow has no inputs".to_string()
    } else {
        let ids = flow.inputs.iter().map(|i| i.id.as_str());
        match did_you_mean(id, ids) {
            Some(best) => format!("not an input of this flow; did you mean `{best}`?"),
            None => format!(
                "not an input of this flow, whose inputs are {}",
                list_ids(flow.inputs.iter())
            ),
        }
    };
    InputError {
        input: id.to_string(),
        message,
    }
}

fn list_ids<'a>(inputs: impl Iterator<Item = &'a Input>) -> String {
    inputs
        .map(|i| format!("`{}`", i.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Dotted ids become nested maps: `{"user.name": x}` → `{"user": {"name": x}}`.
fn nest(values: BTreeMap<String, Value>) -> Map<String, Value> {
    let mut tree = Tree::default();
    for (id, value) in values {
        let mut node = &mut tree;
        let mut parts = id.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.children.entry(part.to_string()).or_default().value = Some(value);
                break;
            }
            node = node.children.entry(part.to_string()).or_default();
        }
    }
    tree.into_map()
}

#[derive(Default)]
struct Tree {
    value: Option<Value>,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn into_map(self) -> Map<String, Value> {
        self.children
            .into_iter()
            .map(|(key, node)| {
                // An input `a` and an input `a.b` both declared: the group wins, as in Kestra.
                let value = if node.children.is_empty() {
                    node.value.unwrap_or(Value::Null)
                } else {
                    Value::Object(node.into_map())
                };
                (key, value)
            })
            .collect()
    }
}

fn is_list(ty: InputType) -> bool {
    matches!(ty, InputType::Array | InputType::Multiselect)
}

/// What an input takes, for messages: "an INT", "one of `a`, `b`", "an ARRAY of INT".
fn expectation(input: &Input) -> String {
    match input.ty {
        InputType::Select if !input.values.is_empty() => {
            format!("one of {}", quoted_list(&input.values))
        }
        InputType::Multiselect if !input.values.is_empty() => {
            format!("a list of values from {}", quoted_list(&input.values))
        }
        InputType::Array => format!(
            "an ARRAY of {}",
            type_name(input.item_type.unwrap_or(InputType::String))
        ),
        ty => article(ty),
    }
}

fn article(ty: InputType) -> String {
    let name = type_name(ty);
    match ty {
        InputType::Int | InputType::Array | InputType::Email | InputType::Uri => format!("an {name}"),
        InputType::Datetime => "a DATETIME (an ISO-8601 instant such as 2024-01-01T10:00:00Z or 2024-01-01T12:00:00+02:00)".into(),
        InputType::Date => "a DATE (yyyy-mm-dd)".into(),
        InputType::Time => "a TIME (hh:mm or hh:mm:ss)".into(),
        InputType::Duration => "a DURATION (ISO-8601 such as PT30S, PT1H30M or P1D)".into(),
        InputType::File => "a FILE (a path to a readable local file)".into(),
        InputType::Json => "JSON".into(),
        InputType::Yaml => "YAML".into(),
        _ => format!("a {name}"),
    }
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a given value is shown in a message: text quoted, long text cut.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let cut: String = s.chars().take(60).collect();
            if cut.len() < s.len() {
                format!(
                    "{}…",
                    serde_json::to_string(&cut)
                        .unwrap_or_default()
                        .trim_end_matches('"')
                )
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// A given value converted to the input's type and validated.
fn coerce(input: &Input, raw: Raw) -> Result<Value, String> {
    let value = match raw {
        Raw::Text(texts) if is_list(input.ty) => {
            let mut items = Vec::new();
            for text in texts {
                items.extend(
                    split_list(&text)
                        .map_err(|e| mismatch(input, &Value::String(text.clone()), &e))?,
                );
            }
            typed_items(input, items)?
        }
        Raw::Text(mut texts) => {
            let text = texts.pop().unwrap_or_default();
            from_text(input.ty, &text).map_err(|e| mismatch(input, &Value::String(text), &e))?
        }
        Raw::Json(value) if is_list(input.ty) => {
            let items = match value {
                Value::Array(items) => items,
                Value::String(text) => split_list(&text)
                    .map_err(|e| mismatch(input, &Value::String(text.clone()), &e))?,
                other => return Err(mismatch(input, &other, "")),
            };
            typed_items(input, items)?
        }
        Raw::Json(value) => from_json(input.ty, &value).map_err(|e| mismatch(input, &value, &e))?,
    };
    validate(input, &value)?;
    Ok(value)
}

/// `expected an INT, got "abc"` (plus a detail when there is one).
fn mismatch(input: &Input, given: &Value, detail: &str) -> String {
    let got = if input.ty == InputType::Secret || input.item_type == Some(InputType::Secret) {
        "a value that is not one".to_string()
    } else {
        shown(given)
    };
    let mut message = format!("expected {}, got {got}", expectation(input));
    if !detail.is_empty() {
        message.push_str(" (");
        message.push_str(detail);
        message.push(')');
    }
    message
}

/// A list given as text: JSON (`["a", "b"]`) or comma-separated (`a, b`).
fn split_list(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("not a JSON list".into()),
            Err(e) => Err(format!("not a JSON list: {e}")),
        };
    }
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(trimmed
        .split(',')
        .map(|item| Value::String(item.trim().to_string()))
        .collect())
}

/// The items of an ARRAY (by `itemType`) or MULTISELECT (strings from `values`).
fn typed_items(input: &Input, items: Vec<Value>) -> Result<Value, String> {
    let item_type = match input.ty {
        InputType::Multiselect => InputType::String,
        _ => input.item_type.unwrap_or(InputType::String),
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let typed = from_json(item_type, &item).map_err(|detail| {
            let mut message = format!(
                "expected {}, but item {} is not {}: got {}",
                expectation(input),
                index + 1,
                article(item_type),
                if item_type == InputType::Secret {
                    "a value that is not one".into()
                } else {
                    shown(&item)
                },
            );
            if !detail.is_empty() {
                let _ = write!(message, " ({detail})");
            }
            message
        })?;
        out.push(typed);
    }
    Ok(Value::Array(out))
}

/// A JSON value of the input's type: kept when its JSON type fits, read as text when it is a
/// string. The error is a detail to add to the mismatch message (often empty).
fn from_json(ty: InputType, value: &Value) -> Result<Value, String> {
    match (ty, value) {
        (_, Value::String(text)) => from_text(ty, text),
        (InputType::Json | InputType::Yaml, other) => Ok(other.clone()),
        (InputType::Int, Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Value::from(i))
            } else {
                match n.as_f64() {
                    #[allow(clippy::cast_possible_truncation)]
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Value::from(f as i64)),
                    _ => Err(String::new()),
                }
            }
        }
        (InputType::Float, Value::Number(n)) => n.as_f64().map(float).ok_or_default(),
        (InputType::Bool, Value::Bool(b)) => Ok(Value::Bool(*b)),
        (
            InputType::String
            | InputType::Select
            | InputType::Secret
            | InputType::Email
            | InputType::Uri,
            Value::Number(_) | Value::Bool(_),
        ) => from_text(ty, &to_display_string(value)),
        _ => Err(String::new()),
    }
}

trait OkOrDefault<T> {
    fn ok_or_default(self) -> Result<T, String>;
}

impl<T> OkOrDefault<T> for Option<T> {
    fn ok_or_default(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

/// Text (from the command line, or a JSON string) read as the type.
fn from_text(ty: InputType, text: &str) -> Result<Value, String> {
    match ty {
        InputType::String | InputType::Select | InputType::Secret => {
            Ok(Value::String(text.to_string()))
        }
        InputType::Email => {
            let text = text.trim();
            if is_email(text) {
                Ok(Value::String(text.to_string()))
            } else {
                Err(String::new())
            }
        }
        InputType::Uri => check_uri(text.trim()).map(|()| Value::String(text.trim().to_string())),
        InputType::Int => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "out of the 64-bit range".into()
                }
                _ => String::new(),
            }),
        InputType::Float => match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(float(f)),
            _ => Err(String::new()),
        },
        InputType::Bool => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(String::new()),
        },
        InputType::Datetime => parse_instant(text.trim()).map(Value::String),
        InputType::Date => parse_date(text.trim()).map(Value::String),
        InputType::Time => parse_time(text.trim()).map(Value::String),
        InputType::Duration => crate::expr::value::parse_java_duration(text.trim())
            .map(|nanos| Value::String(java_duration(nanos)))
            .ok_or_default(),
        InputType::File => file_uri(text).map(Value::String),
        InputType::Json => serde_json::from_str(text).map_err(|e| format!("not JSON: {e}")),
        InputType::Yaml => crate::expr::parse_yaml(text).map_err(|e| format!("not YAML: {e}")),
        InputType::Array | InputType::Multiselect => {
            let items = split_list(text)?;
            Ok(Value::Array(items))
        }
    }
}

/// The value of input `id` in resolved inputs, where dotted ids nest (`a.b` is `inputs.a.b`).
pub(crate) fn value_mut<'a>(inputs: &'a mut Map<String, Value>, id: &str) -> Option<&'a mut Value> {
    let (first, rest) = match id.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (id, None),
    };
    let value = inputs.get_mut(first)?;
    match rest {
        None => Some(value),
        Some(rest) => value_mut(value.as_object_mut()?, rest),
    }
}

/// The checks on a converted value: `values`, `validator`, `min`/`max`.
fn validate(input: &Input, value: &Value) -> Result<(), String> {
    match input.ty {
        InputType::Select | InputType::Multiselect if input.allow_custom_value => {}
        InputType::Select if !input.values.is_empty() => {
            let text = value.as_str().unwrap_or_default();
            if !input.values.iter().any(|v| v == text) {
                let mut message = format!(
                    "expected one of {}, got {}",
                    quoted_list(&input.values),
                    shown(value)
                );
                if let Some(best) = did_you_mean(text, input.values.iter().map(String::as_str)) {
                    let _ = write!(message, "; did you mean `{best}`?");
                }
                return Err(message);
            }
        }
        InputType::Multiselect if !input.values.is_empty() => {
            for item in value.as_array().into_iter().flatten() {
                let text = item.as_str().unwrap_or_default();
                if !input.values.iter().any(|v| v == text) {
                    let mut message = format!(
                        "expected values from {}, got {} in the list",
                        quoted_list(&input.values),
                        shown(item)
                    );
                    if let Some(best) = did_you_mean(text, input.values.iter().map(String::as_str))
                    {
                        let _ = write!(message, "; did you mean `{best}`?");
                    }
                    return Err(message);
                }
            }
        }
        InputType::String | InputType::Secret => {
            if let (Some(pattern), Some(text)) = (&input.validator, value.as_str()) {
                let validator = Validator::new(pattern).map_err(|e| {
                    format!("its `validator` is not a valid regular expression: {e}")
                })?;
                let matched = validator
                    .matches(text)
                    .map_err(|e| format!("its `validator` could not be applied: {e}"))?;
                if !matched {
                    let got = if input.ty == InputType::Secret {
                        "a value that does not".to_string()
                    } else {
                        shown(value)
                    };
                    return Err(format!(
                        "expected a value matching the pattern `{pattern}`, got {got}"
                    ));
                }
            }
        }
        InputType::Int | InputType::Float => {
            let number = value.as_f64().unwrap_or(f64::NAN);
            let bound = |b: f64| {
                to_display_string(&if input.ty == InputType::Int && b.fract() == 0.0 {
                    #[allow(clippy::cast_possible_truncation)]
                    Value::from(b as i64)
                } else {
                    float(b)
                })
            };
            match (input.min, input.max) {
                (Some(min), Some(max)) if number < min || number > max => {
                    return Err(format!(
                        "expected {} between {} and {}, got {}",
                        article(input.ty),
                        bound(min),
                        bound(max),
                        shown(value)
                    ))
                }
                (Some(min), _) if number < min => {
                    return Err(format!(
                        "expected {} of at least {}, got {}",
                        article(input.ty),
                        bound(min),
                        shown(value)
                    ))
                }
                (_, Some(max)) if number > max => {
                    return Err(format!(
                        "expected {} of at most {}, got {}",
                        article(input.ty),
                        bound(max),
                        shown(value)
                    ))
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

// ---- JSON input values ------------------------------------------------------------------------

/// A JSON object of input values (`--inputs FILE.json`, a request body), read strictly: a key
/// given twice in any object is an error naming it (serde would keep the last one silently).
/// Nesting is bounded by `serde_json`'s recursion limit.
pub fn parse_json_object(text: &str) -> Result<Map<String, Value>, String> {
    let describe = |e: serde_json::Error| {
        if e.is_data() {
            e.to_string()
        } else {
            format!("not JSON: {e}")
        }
    };
    serde_json::from_str::<UniqueKeys>(text).map_err(describe)?;
    match serde_json::from_str::<Value>(text).map_err(describe)? {
        Value::Object(map) => Ok(map),
        other => Err(format!(
            "expected a JSON object of input values, got {}",
            match other {
                Value::Array(_) => "a list",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )),
    }
}

/// Any JSON value whose objects have no key twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` is given twice"
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

// ---- flow outputs -------------------------------------------------------------------------------

/// A rendered flow output converted to its declared type.
pub fn coerce_output(ty: InputType, value: Value) -> Result<Value, String> {
    match (ty, value) {
        (InputType::Int, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("`{s}` is not an INT")),
        (InputType::Float, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(float)
            .map_err(|_| format!("`{s}` is not a FLOAT")),
        (InputType::Bool, Value::String(s)) => match s.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(format!("`{other}` is not a BOOLEAN")),
        },
        (InputType::Json | InputType::Array | InputType::Multiselect, Value::String(s)) => {
            serde_json::from_str(&s).map_err(|e| format!("not JSON: {e}"))
        }
        (InputType::String | InputType::Select | InputType::Email | InputType::Uri, other)
            if !other.is_string() =>
        {
            Ok(Value::String(to_display_string(&other)))
        }
        (_, value) => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(id: &str, ty: InputType) -> Input {
        Input::new(id, ty)
    }

    fn flow(inputs: Vec<Input>) -> Flow {
        Flow {
            inputs,
            ..Flow::new("hello", "company.team")
        }
    }

    fn cli(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    /// The one value of a single-input flow given `text` on the command line.
    fn one(input: Input, text: &str) -> Result<Value, String> {
        let id = input.id.clone();
        resolve(&flow(vec![input]), cli(&[(&id, text)]), None)
            .map(|mut m| m.remove(&id).unwrap())
            .map_err(|e| {
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    }

    fn one_json(input: Input, value: Value) -> Result<Value, String> {
        let id = input.id.clone();
        let mut file = Map::new();
        file.insert(id.clone(), value);
        resolve(&flow(vec![input]), Vec::new(), Some(file))
            .map(|mut m| m.remove(&id).unwrap())
            .map_err(|e| {
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    }

    #[test]
    fn scalars_from_the_command_line() {
        assert_eq!(
            one(input("s", InputType::String), " a b "),
            Ok(json!(" a b "))
        );
        assert_eq!(one(input("n", InputType::Int), " 42 "), Ok(json!(42)));
        assert_eq!(one(input("n", InputType::Int), "-7"), Ok(json!(-7)));
        assert_eq!(one(input("f", InputType::Float), "1.5"), Ok(json!(1.5)));
        assert_eq!(one(input("f", InputType::Float), "2"), Ok(json!(2.0)));
        assert_eq!(one(input("b", InputType::Bool), "TRUE"), Ok(json!(true)));
        assert_eq!(one(input("b", InputType::Bool), "false"), Ok(json!(false)));
        assert_eq!(
            one(input("k", InputType::Secret), "hunter2"),
            Ok(json!("hunter2"))
        );
        assert_eq!(
            one(input("e", InputType::Email), "a.b+c@example.com"),
            Ok(json!("a.b+c@example.com"))
        );
        assert_eq!(
            one(input("u", InputType::Uri), "https://example.com/a?b=c#d"),
            Ok(json!("https://example.com/a?b=c#d"))
        );
        assert_eq!(
            one(input("j", InputType::Json), r#"{"a": [1, 2]}"#),
            Ok(json!({"a": [1, 2]}))
        );
        assert_eq!(
            one(input("y", InputType::Yaml), "a: 1\nb: [x, true]"),
            Ok(json!({"a": 1, "b": ["x", true]}))
        );
    }

    #[test]
    fn wrong_scalars_name_the_input_and_the_type() {
        assert_eq!(
            one(input("count", InputType::Int), "abc"),
            Err("input `count`: expected an INT, got \"abc\"".into())
        );
        assert_eq!(
            one(input("count", InputType::Int), "1.5"),
            Err("input `count`: expected an INT, got \"1.5\"".into())
        );
        assert!(one(input("count", InputType::Int), "99999999999999999999")
            .unwrap_err()
            .contains("out of the 64-bit range"));
        assert_eq!(
            one(input("ratio", InputType::Float), "NaN"),
            Err("input `ratio`: expected a FLOAT, got \"NaN\"".into())
        );
        assert_eq!(
            one(input("flag", InputType::Bool), "yes"),
            Err("input `flag`: expected a BOOLEAN, got \"yes\"".into())
        );
        assert_eq!(
            one(input("mail", InputType::Email), "nobody"),
            Err("input `mail`: expected an EMAIL, got \"nobody\"".into())
        );
        assert!(one(input("site", InputType::Uri), "example.com")
            .unwrap_err()
            .contains("expected an URI"));
        assert!(one(input("site", InputType::Uri), "https://a b")
            .unwrap_err()
            .contains("' ' is not allowed"));
        assert!(one(input("site", InputType::Uri), "https://a/%zz")
            .unwrap_err()
            .contains("escape"));
        assert!(one(input("doc", InputType::Json), "{oops")
            .unwrap_err()
            .starts_with("input `doc`: expected JSON, got \"{oops\" (not JSON: "));
    }

    #[test]
    fn dates_times_and_durations_are_normalized_as_java_prints_them() {
        let dt = |t: &str| one(input("at", InputType::Datetime), t);
        assert_eq!(
            dt("2024-01-01T10:00:00Z"),
            Ok(json!("2024-01-01T10:00:00Z"))
        );
        assert_eq!(
            dt("2024-01-01T10:00:00+02:00"),
            Ok(json!("2024-01-01T08:00:00Z"))
        );
        assert_eq!(
            dt("2024-01-01T10:00:00.5Z"),
            Ok(json!("2024-01-01T10:00:00.500Z"))
        );
        assert_eq!(
            dt("2024-01-01T10:00:00.123456Z"),
            Ok(json!("2024-01-01T10:00:00.123456Z"))
        );
        assert!(dt("2024-01-01T10:00:00")
            .unwrap_err()
            .contains("add `Z` for UTC"));
        assert!(dt("yesterday")
            .unwrap_err()
            .starts_with("input `at`: expected a DATETIME"));

        let date = |t: &str| one(input("d", InputType::Date), t);
        assert_eq!(date("2024-02-29"), Ok(json!("2024-02-29")));
        assert!(date("2023-02-29").unwrap_err().contains("no such day"));
        assert!(date("2024-2-9").is_err());
        assert!(date("2024-01-01T00:00").is_err());

        let time = |t: &str| one(input("t", InputType::Time), t);
        assert_eq!(time("10:30"), Ok(json!("10:30")));
        assert_eq!(time("10:30:00"), Ok(json!("10:30")));
        assert_eq!(time("10:30:05"), Ok(json!("10:30:05")));
        assert_eq!(time("10:30:05.1"), Ok(json!("10:30:05.100")));
        assert!(time("24:00").is_err());
        assert!(time("9:30").is_err());

        let duration = |t: &str| one(input("p", InputType::Duration), t);
        assert_eq!(duration("PT30S"), Ok(json!("PT30S")));
        assert_eq!(duration("PT90M"), Ok(json!("PT1H30M")));
        assert_eq!(duration("P1D"), Ok(json!("PT24H")));
        assert_eq!(duration("P1DT0.5S"), Ok(json!("PT24H0.5S")));
        assert_eq!(duration("pt1m"), Ok(json!("PT1M")));
        assert_eq!(duration("PT0S"), Ok(json!("PT0S")));
        assert_eq!(duration("-PT1.5S"), Ok(json!("PT-1.5S")));
        assert_eq!(duration("PT-0.5S"), Ok(json!("PT-0.5S")));
        assert!(duration("P1W").is_err(), "Java's Duration has no weeks");
        assert!(duration("PT").is_err());
        assert!(duration("P").is_err());
        assert!(duration("30s").is_err());
    }

    #[test]
    fn select_and_multiselect_take_declared_values() {
        let mut select = input("env", InputType::Select);
        select.values = vec!["dev".into(), "prod".into()];
        assert_eq!(one(select.clone(), "prod"), Ok(json!("prod")));
        assert_eq!(
            one(select, "prd"),
            Err(
                "input `env`: expected one of `dev`, `prod`, got \"prd\"; did you mean `prod`?"
                    .into()
            )
        );

        let mut multi = input("regions", InputType::Multiselect);
        multi.values = vec!["eu".into(), "us".into(), "ap".into()];
        assert_eq!(one(multi.clone(), "eu, us"), Ok(json!(["eu", "us"])));
        assert_eq!(one(multi.clone(), r#"["ap"]"#), Ok(json!(["ap"])));
        assert_eq!(
            one_json(multi.clone(), json!(["us", "eu"])),
            Ok(json!(["us", "eu"]))
        );
        assert!(one(multi.clone(), "eu,mars")
            .unwrap_err()
            .contains("got \"mars\" in the list"));
        // Repeated on the command line: the values add up.
        let f = flow(vec![multi]);
        let got = resolve(&f, cli(&[("regions", "eu"), ("regions", "us,ap")]), None).unwrap();
        assert_eq!(got["regions"], json!(["eu", "us", "ap"]));
    }

    #[test]
    fn arrays_convert_each_item() {
        let mut ints = input("ids", InputType::Array);
        ints.item_type = Some(InputType::Int);
        assert_eq!(one(ints.clone(), "1, 2,3"), Ok(json!([1, 2, 3])));
        assert_eq!(one(ints.clone(), "[4, \"5\"]"), Ok(json!([4, 5])));
        assert_eq!(one(ints.clone(), ""), Ok(json!([])));
        assert_eq!(one_json(ints.clone(), json!([7, 8])), Ok(json!([7, 8])));
        assert_eq!(one_json(ints.clone(), json!("9,10")), Ok(json!([9, 10])));
        assert_eq!(
            one(ints.clone(), "1,x"),
            Err(
                "input `ids`: expected an ARRAY of INT, but item 2 is not an INT: got \"x\"".into()
            )
        );
        assert!(one(ints.clone(), "[1,")
            .unwrap_err()
            .contains("not a JSON list"));
        assert!(one_json(ints, json!({"a": 1}))
            .unwrap_err()
            .contains("got an object"));

        let mut dates = input("days", InputType::Array);
        dates.item_type = Some(InputType::Date);
        assert_eq!(
            one(dates, "2024-01-01,2024-01-02"),
            Ok(json!(["2024-01-01", "2024-01-02"]))
        );
    }

    #[test]
    fn json_file_values_keep_their_type_or_are_read_as_text() {
        assert_eq!(one_json(input("n", InputType::Int), json!(5)), Ok(json!(5)));
        assert_eq!(
            one_json(input("n", InputType::Int), json!("6")),
            Ok(json!(6))
        );
        assert_eq!(
            one_json(input("n", InputType::Int), json!(7.0)),
            Ok(json!(7))
        );
        assert!(one_json(input("n", InputType::Int), json!(7.5))
            .unwrap_err()
            .contains("got 7.5"));
        assert_eq!(
            one_json(input("f", InputType::Float), json!(3)),
            Ok(json!(3.0))
        );
        assert_eq!(
            one_json(input("b", InputType::Bool), json!(true)),
            Ok(json!(true))
        );
        assert!(one_json(input("b", InputType::Bool), json!(1)).is_err());
        assert_eq!(
            one_json(input("s", InputType::String), json!(12)),
            Ok(json!("12"))
        );
        assert!(one_json(input("s", InputType::String), json!([1]))
            .unwrap_err()
            .contains("got a list"));
        assert_eq!(
            one_json(input("j", InputType::Json), json!({"a": 1})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            one_json(input("j", InputType::Json), json!("[1]")),
            Ok(json!([1]))
        );
        assert_eq!(
            one_json(input("j", InputType::Json), json!(3)),
            Ok(json!(3))
        );
        assert_eq!(
            one_json(input("y", InputType::Yaml), json!({"a": 1})),
            Ok(json!({"a": 1}))
        );
        assert_eq!(
            one_json(input("y", InputType::Yaml), json!("x: [1]")),
            Ok(json!({"x": [1]}))
        );
    }

    #[test]
    fn validator_and_bounds() {
        let mut code = input("code", InputType::String);
        code.validator = Some("[A-Z]{3}".into());
        assert_eq!(one(code.clone(), "ABC"), Ok(json!("ABC")));
        // The whole value must match, as Java's `matches`.
        assert_eq!(
            one(code, "ABCD"),
            Err(
                "input `code`: expected a value matching the pattern `[A-Z]{3}`, got \"ABCD\""
                    .into()
            )
        );
        let mut alternation = input("x", InputType::String);
        alternation.validator = Some("a|b".into());
        assert!(one(alternation, "ab").is_err());
        // Java's look-around, backreferences and possessive quantifiers run too.
        let mut password = input("p", InputType::String);
        password.validator = Some("(?=.*[0-9])(?!.*admin)[a-z0-9]{6,}".into());
        assert!(one(password.clone(), "abc123").is_ok());
        assert!(one(password.clone(), "abcdef").is_err());
        assert!(one(password, "admin123").is_err());
        let mut twice = input("t", InputType::String);
        twice.validator = Some(r"(\w+)-\1".into());
        assert!(one(twice.clone(), "ab-ab").is_ok());
        assert!(one(twice, "ab-cd").is_err());
        let mut possessive = input("q", InputType::String);
        possessive.validator = Some("a*+b".into());
        assert!(one(possessive, "aaab").is_ok());
        // A pattern that backtracks without end fails clearly instead of hanging.
        let mut runaway = input("r", InputType::String);
        runaway.validator = Some(r"(a|aa)+\1b".into());
        let error = one(runaway, &"a".repeat(40)).unwrap_err();
        assert!(error.contains("could not be applied"), "{error}");

        let mut count = input("count", InputType::Int);
        count.min = Some(1.0);
        count.max = Some(10.0);
        assert_eq!(one(count.clone(), "10"), Ok(json!(10)));
        assert_eq!(
            one(count.clone(), "0"),
            Err("input `count`: expected an INT between 1 and 10, got 0".into())
        );
        count.max = None;
        assert_eq!(
            one(count, "0"),
            Err("input `count`: expected an INT of at least 1, got 0".into())
        );
        let mut ratio = input("ratio", InputType::Float);
        ratio.max = Some(0.5);
        assert_eq!(
            one(ratio, "0.75"),
            Err("input `ratio`: expected a FLOAT of at most 0.5, got 0.75".into())
        );
    }

    #[test]
    fn secrets_are_never_repeated_in_errors() {
        let mut secret = input("token", InputType::Secret);
        secret.validator = Some("tok_[a-z]+".into());
        let error = one(secret, "hunter2-very-secret").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.starts_with("input `token`: expected a value matching the pattern"));
    }

    #[test]
    fn defaults_required_and_optional() {
        let mut with_default = input("greeting", InputType::String);
        with_default.defaults = Some(json!("hello"));
        let mut duration_default = input("wait", InputType::Duration);
        duration_default.defaults = Some(json!("PT60S"));
        let mut optional = input("note", InputType::String);
        optional.required = false;
        let required = input("name", InputType::String);
        let f = flow(vec![with_default, duration_default, optional, required]);

        let got = resolve(&f, cli(&[("name", "Ada")]), None).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"greeting": "hello", "name": "Ada", "note": null, "wait": "PT1M"})
        );
        let errors = resolve(&f, Vec::new(), None).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["input `name`: missing required input: expected a STRING (give it with --input name=VALUE)"]
        );
        // A null in the file counts as not given.
        let mut file = Map::new();
        file.insert("greeting".into(), Value::Null);
        file.insert("name".into(), json!("Bo"));
        assert_eq!(
            resolve(&f, Vec::new(), Some(file)).unwrap()["greeting"],
            json!("hello")
        );
    }

    #[test]
    fn bad_defaults_are_reported_as_defaults() {
        let mut n = input("n", InputType::Int);
        n.defaults = Some(json!("many"));
        let errors = resolve(&flow(vec![n]), Vec::new(), None).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "input `n`: its `defaults` are not valid: expected an INT, got \"many\""
        );
    }

    #[test]
    fn unknown_inputs_are_errors_with_suggestions() {
        let f = flow(vec![
            input("name", InputType::String),
            input("count", InputType::Int),
        ]);
        let errors = resolve(
            &f,
            cli(&[("nme", "x"), ("name", "y"), ("count", "1"), ("zzz", "1")]),
            None,
        )
        .unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "input `nme`: not an input of this flow; did you mean `name`?",
                "input `zzz`: not an input of this flow, whose inputs are `name`, `count`",
            ]
        );
        let none = resolve(&flow(Vec::new()), cli(&[("x", "1")]), None).unwrap_err();
        assert_eq!(none[0].to_string(), "input `x`: this flow has no inputs");
    }

    #[test]
    fn all_errors_at_once() {
        let f = flow(vec![
            input("a", InputType::Int),
            input("b", InputType::Bool),
            input("c", InputType::String),
        ]);
        let errors = resolve(&f, cli(&[("a", "x"), ("b", "y")]), None).unwrap_err();
        let inputs: Vec<&str> = errors.iter().map(|e| e.input.as_str()).collect();
        assert_eq!(inputs, ["a", "b", "c"]);
    }

    #[test]
    fn command_line_wins_over_the_file_and_last_wins() {
        let f = flow(vec![input("n", InputType::Int)]);
        let mut file = Map::new();
        file.insert("n".into(), json!(1));
        let got = resolve(&f, cli(&[("n", "2"), ("n", "3")]), Some(file)).unwrap();
        assert_eq!(got["n"], json!(3));
    }

    #[test]
    fn dotted_ids_nest() {
        let mut age = input("user.age", InputType::Int);
        age.required = false;
        let f = flow(vec![
            input("user.name", InputType::String),
            age,
            input("zone", InputType::String),
        ]);
        let got = resolve(&f, cli(&[("user.name", "Ada"), ("zone", "eu")]), None).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"user": {"age": null, "name": "Ada"}, "zone": "eu"})
        );

        let file = json!({"user": {"name": "Bo", "age": "41"}, "zone": "us"});
        let got = resolve(&f, Vec::new(), file.as_object().cloned()).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"user": {"age": 41, "name": "Bo"}, "zone": "us"})
        );

        let file = json!({"user.name": "Cy", "zone": "ap"});
        let got = resolve(&f, Vec::new(), file.as_object().cloned()).unwrap();
        assert_eq!(got["user"]["name"], json!("Cy"));

        let file = json!({"user": {"nmae": "x"}, "zone": "ap", "user.name": "y"});
        let errors = resolve(&f, Vec::new(), file.as_object().cloned()).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "input `user.nmae`: not an input of this flow; did you mean `user.name`?"
        );
        let file = json!({"user": 3, "zone": "ap"});
        let errors = resolve(&f, Vec::new(), file.as_object().cloned()).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "input `user`: expected an object holding the inputs `user.name`, `user.age`"
        );
    }

    #[test]
    fn files_become_file_uris_of_absolute_paths() {
        let dir = std::env::temp_dir().join(format!("kflow-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("my data#1.csv");
        std::fs::write(&path, "a,b\n").unwrap();
        let got = one(input("data", InputType::File), path.to_str().unwrap()).unwrap();
        let uri = got.as_str().unwrap();
        assert!(uri.starts_with("file:///"), "{uri}");
        assert!(uri.ends_with("/my%20data%231.csv"), "{uri}");
        // The URI reads back to the same file.
        assert_eq!(one(input("data", InputType::File), uri), Ok(got.clone()));

        let missing = one(input("data", InputType::File), "/no/such/file.csv").unwrap_err();
        assert_eq!(
            missing,
            "input `data`: expected a FILE (a path to a readable local file), got \"/no/such/file.csv\" (no such file)"
        );
        assert!(one(input("data", InputType::File), dir.to_str().unwrap())
            .unwrap_err()
            .contains("it is a directory"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn suggestions_allow_a_swap() {
        let ids = ["name", "count", "user.name"];
        assert_eq!(did_you_mean("nmae", ids.iter().copied()), Some("name"));
        assert_eq!(did_you_mean("cuont", ids.iter().copied()), Some("count"));
        assert_eq!(
            did_you_mean("user.nam", ids.iter().copied()),
            Some("user.name")
        );
        assert_eq!(did_you_mean("xyz", ids.iter().copied()), None);
    }

    #[test]
    fn java_duration_printing() {
        assert_eq!(java_duration(0), "PT0S");
        assert_eq!(java_duration(1_000_000_000 * 3_661), "PT1H1M1S");
        assert_eq!(java_duration(1_000_000), "PT0.001S");
        assert_eq!(java_duration(-1_000_000_000 * 60), "PT-1M");
        assert_eq!(java_duration(-1_500_000_000), "PT-1.5S");
    }

    #[test]
    fn schema_describes_every_input() {
        let mut count = input("count", InputType::Int);
        count.min = Some(1.0);
        count.defaults = Some(json!("3"));
        count.description = Some("How many".into());
        let mut env = input("env", InputType::Select);
        env.values = vec!["dev".into(), "prod".into()];
        let mut tags = input("tags", InputType::Array);
        tags.item_type = Some(InputType::Int);
        tags.required = false;
        let mut code = input("code", InputType::String);
        code.validator = Some("[A-Z]+".into());
        let mut f = flow(vec![
            count,
            env,
            tags,
            code,
            input("when", InputType::Datetime),
            input("token", InputType::Secret),
        ]);
        f.description = Some("Says hello".into());
        let schema = json_schema(&f);
        assert_eq!(
            schema,
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "Inputs of company.team.hello",
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "minimum": 1, "x-kestra-type": "INT", "description": "How many", "default": 3},
                    "env": {"type": "string", "enum": ["dev", "prod"], "x-kestra-type": "SELECT"},
                    "tags": {"type": "array", "items": {"type": "integer"}, "x-kestra-type": "ARRAY"},
                    "code": {"type": "string", "pattern": "^(?:[A-Z]+)$", "x-kestra-type": "STRING"},
                    "when": {"type": "string", "format": "date-time", "x-kestra-type": "DATETIME"},
                    "token": {"type": "string", "writeOnly": true, "x-kestra-type": "SECRET"},
                },
                "required": ["env", "code", "when", "token"],
                "additionalProperties": false,
                "description": "Says hello",
            })
        );
    }

    #[test]
    fn outputs_are_coerced() {
        assert_eq!(coerce_output(InputType::Int, json!("5")), Ok(json!(5)));
        assert_eq!(coerce_output(InputType::String, json!(5)), Ok(json!("5")));
        assert!(coerce_output(InputType::Bool, json!("maybe")).is_err());
    }
}
