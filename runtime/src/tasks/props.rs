//! Reading rendered property values the way every task type reads them: optional text, a
//! boolean, a list of strings. A value of the wrong shape is an error naming the property,
//! never a silent default.

use serde_json::Value;

use crate::expr::value::to_display_string;
use crate::tasks::TaskError;

/// Text, unless the property is unset or null.
pub(crate) fn optional_text(value: Option<&Value>) -> Option<String> {
    value.filter(|v| !v.is_null()).map(to_display_string)
}

/// A boolean: `true`/`false`, or their text; `default` when unset or null.
pub(crate) fn flag(value: Option<&Value>, name: &str, default: bool) -> Result<bool, TaskError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.trim() == "true" => Ok(true),
        Some(Value::String(s)) if s.trim() == "false" => Ok(false),
        Some(other) => Err(format!("`{name}` must be true or false, got {other}").into()),
    }
}

/// A list of strings: a list, JSON text of one, or one string (as Kestra accepts all three);
/// empty when unset or null.
pub(crate) fn list(value: Option<&Value>, name: &str) -> Result<Vec<String>, TaskError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<Value>>(s)
                .map_err(|e| TaskError::from(format!("`{name}` is not a JSON list: {e}")))?
        }
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(other) => {
            return Err(format!("`{name}` must be a list of strings, got {other}").into())
        }
    };
    Ok(items.iter().map(to_display_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_values_read_as_kestra_reads_them() {
        assert!(flag(Some(&json!("true")), "f", false).unwrap());
        assert!(flag(None, "f", true).unwrap());
        assert!(flag(Some(&json!("yes")), "f", true).is_err());
        assert_eq!(list(Some(&json!("[\"a\", 1]")), "l").unwrap(), ["a", "1"]);
        assert_eq!(list(Some(&json!("a")), "l").unwrap(), ["a"]);
        assert_eq!(list(Some(&json!(["a"])), "l").unwrap(), ["a"]);
        assert!(list(Some(&json!({"a": 1})), "l").is_err());
        assert_eq!(optional_text(Some(&Value::Null)), None);
    }
}
