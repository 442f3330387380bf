//! The Java methods Pebble lets templates call on values (`text.length`, `list.size`,
//! `text.split(',')`): the common ones of `String`, `List` and `Map`, on our JSON values.

use serde_json::Value;

use super::value::{describe, equals, to_display_string};

/// Call `name` on `target` with `args`; `None` when the value has no such method.
pub fn call(target: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let result = match (target, name, args) {
        (Value::String(s), "length", []) => Ok(Value::from(s.encode_utf16().count())),
        (Value::String(s), "isEmpty" | "empty", []) => Ok(Value::Bool(s.is_empty())),
        (Value::String(s), "isBlank" | "blank", []) => Ok(Value::Bool(s.trim().is_empty())),
        (Value::String(s), "toUpperCase", []) => Ok(Value::String(s.to_uppercase())),
        (Value::String(s), "toLowerCase", []) => Ok(Value::String(s.to_lowercase())),
        (Value::String(s), "trim" | "strip", []) => Ok(Value::String(s.trim().to_string())),
        (Value::String(s), "toString", []) => Ok(Value::String(s.clone())),
        (Value::String(s), "split", [Value::String(pattern)]) => split(s, pattern),
        (Value::String(s), "startsWith", [Value::String(p)]) => {
            Ok(Value::Bool(s.starts_with(p.as_str())))
        }
        (Value::String(s), "endsWith", [Value::String(p)]) => {
            Ok(Value::Bool(s.ends_with(p.as_str())))
        }
        (Value::String(s), "contains", [Value::String(p)]) => {
            Ok(Value::Bool(s.contains(p.as_str())))
        }
        (Value::String(s), "equals", [other]) => {
            Ok(Value::Bool(Value::String(s.clone()) == *other))
        }
        (Value::String(s), "equalsIgnoreCase", [Value::String(o)]) => {
            Ok(Value::Bool(s.to_lowercase() == o.to_lowercase()))
        }
        (Value::String(s), "indexOf", [Value::String(p)]) => {
            Ok(Value::from(s.find(p.as_str()).map_or(-1, |i| {
                i64::try_from(s[..i].encode_utf16().count()).unwrap_or(-1)
            })))
        }
        (Value::String(s), "replace", [Value::String(a), Value::String(b)]) => {
            Ok(Value::String(s.replace(a.as_str(), b)))
        }
        (Value::String(s), "substring", [from, rest @ ..]) if rest.len() <= 1 => {
            substring(s, from, rest.first())
        }
        (Value::Array(items), "size", []) => Ok(Value::from(items.len())),
        (Value::Array(items), "isEmpty" | "empty", []) => Ok(Value::Bool(items.is_empty())),
        (Value::Array(items), "contains", [item]) => {
            Ok(Value::Bool(items.iter().any(|i| equals(i, item))))
        }
        (Value::Array(items), "get", [Value::Number(n)]) => n
            .as_u64()
            .and_then(|i| items.get(usize::try_from(i).ok()?))
            .cloned()
            .ok_or_else(|| format!("index {n} is out of bounds")),
        (Value::Object(map), "size", []) => Ok(Value::from(map.len())),
        (Value::Object(map), "isEmpty", []) => Ok(Value::Bool(map.is_empty())),
        (Value::Object(map), "containsKey", [Value::String(k)]) => {
            Ok(Value::Bool(map.contains_key(k)))
        }
        (Value::Object(map), "get", [Value::String(k)]) => {
            Ok(map.get(k).cloned().unwrap_or(Value::Null))
        }
        (Value::Object(map), "keySet", []) => Ok(Value::Array(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        (Value::Object(map), "values", []) => Ok(Value::Array(map.values().cloned().collect())),
        (Value::Number(_) | Value::Bool(_), "toString", []) => {
            Ok(Value::String(to_display_string(target)))
        }
        _ => return None,
    };
    Some(result)
}

/// A member read without parentheses (`text.length`, `list.size`): Pebble calls the getter.
/// Maps only have their keys.
pub fn property(target: &Value, name: &str) -> Option<Result<Value, String>> {
    if target.is_object() {
        return None;
    }
    call(target, name, &[])
}

/// Java's `String.split(regex)`: trailing empty strings are dropped.
fn split(s: &str, pattern: &str) -> Result<Value, String> {
    let regex = regex::Regex::new(pattern).map_err(|e| format!("invalid pattern: {e}"))?;
    let mut parts: Vec<&str> = regex.split(s).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    Ok(Value::Array(
        parts.into_iter().map(|p| Value::String(p.into())).collect(),
    ))
}

fn substring(s: &str, from: &Value, to: Option<&Value>) -> Result<Value, String> {
    let chars: Vec<char> = s.chars().collect();
    let index = |v: &Value| {
        v.as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .ok_or_else(|| format!("substring needs integer indexes, not {}", describe(v)))
    };
    let from = index(from)?;
    let to = to.map_or(Ok(chars.len()), index)?;
    if from > to || to > chars.len() {
        return Err(format!(
            "substring({from}, {to}) is outside a string of {} characters",
            chars.len()
        ));
    }
    Ok(Value::String(chars[from..to].iter().collect()))
}
