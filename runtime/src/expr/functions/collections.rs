//! Kestra's collection filters: `chunk`, `flatten`, `keys`, `values`, `distinct`. (Pebble's
//! `first`, `last`, `join`, `length`, `merge`, `reverse`, `slice`, `sort`, `split` are in `core`.)

use serde_json::Value;

use super::super::library::{req, Args, FilterDef, Kind};
use super::super::value::describe;
use super::pure;
use crate::expr::eval::Evaluator;

const LIST: &[Kind] = &[Kind::List];
const MAP: &[Kind] = &[Kind::Map];

pub(in crate::expr) static FILTERS: &[FilterDef] = &[
    FilterDef {
        signature: pure("chunk", &[req("size", Kind::Integer)], LIST, Kind::List),
        run: chunk,
    },
    FilterDef {
        signature: pure("flatten", &[], LIST, Kind::List),
        run: |_, input, _| match input {
            Value::Null => Ok(Value::Null),
            Value::Array(items) => Ok(Value::Array(
                items
                    .into_iter()
                    .flat_map(|item| match item {
                        Value::Array(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            )),
            other => Err(format!(
                "can only be applied to a list, not {}",
                describe(&other)
            )),
        },
    },
    FilterDef {
        signature: pure("keys", &[], &[Kind::Map, Kind::List], Kind::List),
        run: |_, input, _| match input {
            Value::Null => Ok(Value::Null),
            Value::Object(map) => Ok(Value::Array(
                map.into_iter().map(|(k, _)| Value::String(k)).collect(),
            )),
            Value::Array(items) => Ok(Value::Array((0..items.len()).map(Value::from).collect())),
            other => Err(format!(
                "can only be applied to a list or a map, not {}",
                describe(&other)
            )),
        },
    },
    FilterDef {
        signature: pure("values", &[], MAP, Kind::List),
        run: |_, input, _| match input {
            Value::Null => Ok(Value::Null),
            Value::Object(map) => Ok(Value::Array(map.into_iter().map(|(_, v)| v).collect())),
            other => Err(format!(
                "can only be applied to a map, not {}",
                describe(&other)
            )),
        },
    },
    FilterDef {
        signature: pure("distinct", &[], LIST, Kind::List),
        run: |_, input, _| match input {
            // Kestra's DistinctFilter gives the string "null" for a null input.
            Value::Null => Ok(Value::String("null".into())),
            Value::Array(items) => {
                let mut seen: Vec<Value> = Vec::with_capacity(items.len());
                for item in items {
                    if !seen.contains(&item) {
                        seen.push(item);
                    }
                }
                Ok(Value::Array(seen))
            }
            other => Err(format!("input must be a list, not {}", describe(&other))),
        },
    },
];

fn chunk(_: &mut Evaluator, input: Value, args: &Args) -> Result<Value, String> {
    let items = match input {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "can only be applied to a list, not {}",
                describe(&other)
            ))
        }
    };
    let size = args.int(0)?.ok_or("argument `size` must not be null")?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("argument `size` must be greater than 0, not {size}"))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|chunk| Value::Array(chunk.to_vec()))
            .collect(),
    ))
}
