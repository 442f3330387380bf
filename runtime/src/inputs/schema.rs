//! The flow's inputs as a JSON Schema (`./<flow> inputs`).

use serde_json::{json, Map, Value};

use super::{coerce, type_name, Raw};
use crate::expr::value::float;
use crate::plan::{Flow, Input, InputType};

/// The flow's inputs as a JSON Schema (draft 2020-12) of the `--inputs FILE.json` object: one
/// property per input id (dotted ids as they are written), with its type, `enum`, `default`,
/// `description`, bounds and pattern, and `required` for inputs that must be given. Each
/// property also carries `x-kestra-type`, the declared type.
pub fn json_schema(flow: &Flow) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for input in &flow.inputs {
        let mut schema = type_schema(input.ty, input);
        if let Some(object) = schema.as_object_mut() {
            object.insert(
                "x-kestra-type".into(),
                Value::String(type_name(input.ty).into()),
            );
            if let Some(description) = &input.description {
                object.insert("description".into(), Value::String(description.clone()));
            }
            if let Some(default) = input.defaults.as_ref().filter(|d| !d.is_null()) {
                let typed =
                    coerce(input, Raw::Json(default.clone())).unwrap_or_else(|_| default.clone());
                object.insert("default".into(), typed);
            }
        }
        let has_default = input.defaults.as_ref().is_some_and(|d| !d.is_null());
        if input.required && !has_default {
            required.push(Value::String(input.id.clone()));
        }
        properties.insert(input.id.clone(), schema);
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("Inputs of {}.{}", flow.namespace, flow.id),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    if let Some(description) = &flow.description {
        schema["description"] = Value::String(description.clone());
    }
    schema
}

fn type_schema(ty: InputType, input: &Input) -> Value {
    let string_format = |format: &str| json!({ "type": "string", "format": format });
    match ty {
        InputType::String | InputType::Secret => {
            let mut schema = json!({ "type": "string" });
            if let Some(pattern) = &input.validator {
                schema["pattern"] = Value::String(format!("^(?:{pattern})$"));
            }
            if ty == InputType::Secret {
                schema["writeOnly"] = Value::Bool(true);
            }
            schema
        }
        InputType::Int | InputType::Float => {
            let mut schema =
                json!({ "type": if ty == InputType::Int { "integer" } else { "number" } });
            let bound = |b: f64| {
                if ty == InputType::Int && b.fract() == 0.0 && b.abs() < 9.0e15 {
                    #[allow(clippy::cast_possible_truncation)]
                    Value::from(b as i64)
                } else {
                    float(b)
                }
            };
            if let Some(min) = input.min {
                schema["minimum"] = bound(min);
            }
            if let Some(max) = input.max {
                schema["maximum"] = bound(max);
            }
            schema
        }
        InputType::Bool => json!({ "type": "boolean" }),
        InputType::Select => {
            if input.values.is_empty() || input.allow_custom_value {
                json!({ "type": "string" })
            } else {
                json!({ "type": "string", "enum": input.values })
            }
        }
        InputType::Multiselect => {
            let items = if input.values.is_empty() || input.allow_custom_value {
                json!({ "type": "string" })
            } else {
                json!({ "type": "string", "enum": input.values })
            };
            json!({ "type": "array", "items": items })
        }
        InputType::Array => {
            let item_type = input.item_type.unwrap_or(InputType::String);
            let plain = Input {
                validator: None,
                values: Vec::new(),
                min: None,
                max: None,
                ..input.clone()
            };
            json!({ "type": "array", "items": type_schema(item_type, &plain) })
        }
        InputType::Datetime => string_format("date-time"),
        InputType::Date => string_format("date"),
        InputType::Time => {
            json!({ "type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$" })
        }
        InputType::Duration => string_format("duration"),
        InputType::File => json!({ "type": "string", "description": "a path to a local file" }),
        InputType::Json | InputType::Yaml => json!({}),
        InputType::Uri => string_format("uri"),
        InputType::Email => string_format("email"),
    }
}
