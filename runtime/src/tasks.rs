//! Helpers the runnable core tasks share: their outcome, durations, labels.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::execution::State;
use crate::expr::value::{describe, to_display_string};

/// How an attempt ended, when it did not fail.
pub struct Outcome {
    pub state: State,
    pub outputs: Option<Value>,
}

impl Outcome {
    pub fn success(outputs: Option<Value>) -> Outcome {
        Outcome {
            state: State::Success,
            outputs,
        }
    }
}

/// An ISO-8601 duration (`PT1M30S`, `P1D`, `PT0.5S`), as Kestra's `Duration` properties take.
pub fn duration(value: &Value) -> Result<Duration, String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        other => {
            return Err(format!(
                "a duration must be ISO-8601 text like PT10S, not {}",
                describe(other)
            ))
        }
    };
    crate::expr::value::parse_iso_duration(&text)
        .ok_or_else(|| format!("`{text}` is not an ISO-8601 duration (PT10S, PT1M, P1D)"))
}

/// `execution.Labels.labels`: a map, a list of `{key, value}`, or JSON text of either.
pub fn labels(value: Value) -> Result<Map<String, Value>, String> {
    let value = match value {
        Value::String(text) => serde_json::from_str(&text).map_err(|_| {
            format!("labels must be a map or a list of {{key, value}}, not `{text}`")
        })?,
        other => other,
    };
    let mut out = Map::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k, Value::String(to_display_string(&v)));
            }
        }
        Value::Array(items) => {
            for item in items {
                let key = item.get("key").map(to_display_string);
                let value = item.get("value").map(to_display_string);
                match (key, value) {
                    (Some(k), Some(v)) => {
                        out.insert(k, Value::String(v));
                    }
                    _ => return Err("each label in a list needs `key` and `value`".into()),
                }
            }
        }
        other => {
            return Err(format!(
                "labels must be a map or a list, not {}",
                describe(&other)
            ))
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::expr::value::parse_iso_duration;
    use std::time::Duration;

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso_duration("PT10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse_iso_duration("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse_iso_duration("P1D"), Some(Duration::from_secs(86_400)));
        assert_eq!(
            parse_iso_duration("PT0.5S"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_iso_duration("PT"), None);
        assert_eq!(parse_iso_duration("10S"), None);
    }
}
