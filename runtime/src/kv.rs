//! The KV store: typed values by namespace and key, with an optional expiry, kept in the
//! flow's state (see [`crate::state::Store`]). `kv()` in templates and the `kv.*` tasks read and
//! write it; values live across executions, as Kestra's KV store does.

use std::time::Duration;

use serde_json::Value;

/// Where KV values live: the state, or nowhere (tests, `kflowc eval`).
pub trait KvStore: Sync {
    /// The value of `key` in `namespace`; `None` when it is missing or expired.
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Value>, String>;
    /// Sets `key`; with `overwrite: false` an existing (unexpired) key is an error.
    fn kv_set(&self, entry: &KvWrite<'_>) -> Result<(), String>;
    /// The unexpired keys of `namespace` that start with `prefix`, sorted.
    fn kv_keys(&self, namespace: &str, prefix: &str) -> Result<Vec<String>, String>;
    /// Deletes `key`; whether it existed (unexpired).
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool, String>;
}

/// One value to write.
#[derive(Debug, Clone, Copy)]
pub struct KvWrite<'a> {
    pub namespace: &'a str,
    pub key: &'a str,
    pub value: &'a Value,
    pub ttl: Option<Duration>,
    pub overwrite: bool,
    pub description: Option<&'a str>,
}

/// No KV store: every call fails, naming why.
pub struct NoKv;

const NO_KV: &str = "the KV store lives in a flow's state, which this run does not have";

impl KvStore for NoKv {
    fn kv_get(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
        Err(NO_KV.into())
    }
    fn kv_set(&self, _: &KvWrite<'_>) -> Result<(), String> {
        Err(NO_KV.into())
    }
    fn kv_keys(&self, _: &str, _: &str) -> Result<Vec<String>, String> {
        Err(NO_KV.into())
    }
    fn kv_delete(&self, _: &str, _: &str) -> Result<bool, String> {
        Err(NO_KV.into())
    }
}

/// The longest key (Kestra stores keys as file names; 255 bytes is what file systems take).
const MAX_KEY: usize = 255;

/// A key as Kestra accepts it: letters, digits, `.`, `_`, `-`, starting with a letter or digit.
pub fn check_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let first_fits = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_fits
        || key.len() > MAX_KEY
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "the KV key `{key}` is not valid: a key has 1 to {MAX_KEY} letters, digits, `.`, `_` or `-` and starts with a letter or digit"
        ));
    }
    Ok(())
}

/// A value converted to a `kvType` (Kestra's `KVType`): STRING, NUMBER, BOOLEAN, DATETIME,
/// DATE, DURATION or JSON. Without a type the value is kept as rendered.
pub fn typed(value: Value, kv_type: Option<&str>) -> Result<Value, String> {
    use crate::expr::value::to_display_string;
    let Some(kv_type) = kv_type else {
        return Ok(value);
    };
    let text = to_display_string(&value);
    let bad = |what: &str| format!("`kvType: {kv_type}` needs {what}, got `{text}`");
    match kv_type {
        "STRING" => Ok(Value::String(text)),
        "NUMBER" => match value {
            Value::Number(_) => Ok(value),
            _ => serde_json::from_str::<serde_json::Number>(text.trim())
                .map(Value::Number)
                .map_err(|_| bad("a number")),
        },
        "BOOLEAN" => match (value, text.trim()) {
            (Value::Bool(b), _) => Ok(Value::Bool(b)),
            (_, "true") => Ok(Value::Bool(true)),
            (_, "false") => Ok(Value::Bool(false)),
            _ => Err(bad("`true` or `false`")),
        },
        "DATETIME" => crate::formats::parse_instant(&text)
            .map(Value::String)
            .map_err(|_| bad("a date-time such as `2024-01-31T13:45:00Z`")),
        "DATE" => crate::formats::parse_date(&text)
            .map(Value::String)
            .map_err(|_| bad("a date such as `2024-01-31`")),
        "DURATION" => match crate::expr::value::parse_java_duration(&text) {
            Some(_) => Ok(Value::String(text)),
            None => Err(bad("a duration such as `PT5M`")),
        },
        "JSON" => match value {
            Value::String(_) => {
                serde_json::from_str(&text).map_err(|e| bad(&format!("JSON ({e})")))
            }
            other => Ok(other),
        },
        other => Err(format!("unknown `kvType` `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_as_kestra_takes_them() {
        assert!(check_key("my_key.v-2").is_ok());
        for bad in ["", "-x", "a/b", "../x", "a b", &"k".repeat(256)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_take_their_kv_type() {
        assert_eq!(typed(json!("42"), Some("NUMBER")).unwrap(), json!(42));
        assert_eq!(typed(json!("1.5"), Some("NUMBER")).unwrap(), json!(1.5));
        assert_eq!(typed(json!("true"), Some("BOOLEAN")).unwrap(), json!(true));
        assert_eq!(typed(json!(7), Some("STRING")).unwrap(), json!("7"));
        assert_eq!(
            typed(json!("{\"a\": [1]}"), Some("JSON")).unwrap(),
            json!({"a": [1]})
        );
        assert_eq!(
            typed(json!("PT5M"), Some("DURATION")).unwrap(),
            json!("PT5M")
        );
        assert!(typed(json!("abc"), Some("NUMBER")).is_err());
        assert!(typed(json!("2024-13-01"), Some("DATE")).is_err());
        assert_eq!(typed(json!({"x": 1}), None).unwrap(), json!({"x": 1}));
    }
}
