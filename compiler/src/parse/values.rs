//! Checking a property's YAML value against the shape the registry declares for it.

use super::{task, Ctx};
use crate::diag::{Code, Diagnostic};
use crate::plugins::{PropDef, PropType};
use crate::suggest::{did_you_mean, one_of};
use crate::yaml::{Node, ScalarKind, Value};

/// Text that Kestra renders as a Pebble template.
pub fn is_expression(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// `true`/`false`, or those words as a string (Jackson coerces them).
pub fn literal_bool(node: &Node) -> Option<bool> {
    let scalar = node.as_scalar()?;
    match scalar.kind {
        ScalarKind::Bool(b) => Some(b),
        ScalarKind::Str => match scalar.text.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// ISO-8601 durations as `java.time.Duration.parse` reads them (`PT10S`, `P1DT2H`, `-PT0.5S`).
pub fn is_duration(text: &str) -> bool {
    kflow_runtime::expr::value::parse_java_duration(text).is_some()
}

/// Checks `node` against `ty`, reporting every mismatch. `dynamic` properties may hold an
/// expression in place of a typed literal; it is rendered (and type-checked) later.
pub fn check(ctx: &mut Ctx, node: &Node, ty: &PropType, dynamic: bool, what: &str) {
    if node.is_null() {
        return;
    }
    let expression = node.as_str().is_some_and(is_expression);
    match ty {
        PropType::Any => {}
        PropType::String => {
            if node.as_scalar().is_some() {
            } else if dynamic {
                // Kestra's `Property<String>` accepts any YAML and passes it on as JSON text.
                ctx.push(
                    Diagnostic::warning(Code::WrongType, node.span, format!("{what} should be a string, found {}", node.describe()))
                        .with_help("Kestra passes a list or mapping here on as its JSON text; write the string you mean (a `|` block for several lines)"),
                );
            } else {
                mismatch(ctx, node, what, "a string");
            }
        }
        PropType::Int => {
            if !(matches!(scalar_kind(node), Some(ScalarKind::Int(_)))
                || (dynamic && expression)
                || numeric_text(node, false))
            {
                mismatch(ctx, node, what, "an integer");
            }
        }
        PropType::Number => {
            if !(matches!(
                scalar_kind(node),
                Some(ScalarKind::Int(_) | ScalarKind::Float(_))
            ) || (dynamic && expression)
                || numeric_text(node, true))
            {
                mismatch(ctx, node, what, "a number");
            }
        }
        PropType::Bool => {
            if literal_bool(node).is_none() && !(dynamic && expression) {
                mismatch(ctx, node, what, "`true` or `false`");
            }
        }
        PropType::Duration => check_duration(ctx, node, dynamic && expression, what),
        PropType::Enum(values) => check_enum(ctx, node, values, dynamic && expression, what),
        PropType::List(item) => match &node.value {
            Value::Seq(items) => {
                for child in items {
                    check(ctx, child, item, dynamic, what);
                }
            }
            _ if expression && dynamic => {}
            _ => mismatch(ctx, node, what, "a list"),
        },
        PropType::Map(value) => match &node.value {
            Value::Map(entries) => {
                for entry in entries {
                    check(
                        ctx,
                        &entry.value,
                        value,
                        dynamic,
                        &format!("`{}`", entry.key.text),
                    );
                }
            }
            _ if expression && dynamic => {}
            _ => mismatch(ctx, node, what, "a mapping"),
        },
        PropType::Object(props) => match &node.value {
            Value::Map(_) => check_object(ctx, node, props, what),
            _ if expression && dynamic => {}
            _ => mismatch(ctx, node, what, "a mapping"),
        },
        PropType::Tasks => {
            // Task lists nested inside other values are still typed, though not placed in the plan.
            let _ = task::tasks(ctx, node, what);
        }
        PropType::TaskMap => {
            if let Some(entries) = ctx.map(node, what) {
                for entry in entries {
                    let _ = task::tasks(ctx, &entry.value, &format!("case `{}`", entry.key.text));
                }
            }
        }
        PropType::Plugin(kind) => task::plugin_object(ctx, node, *kind, what),
        PropType::OneOf(choices) => {
            let fitting = choices
                .iter()
                .find(|choice| shape_fits(node, choice, dynamic))
                .or(choices.first());
            if let Some(choice) = fitting {
                check(ctx, node, choice, dynamic, what);
            }
        }
    }
}

/// Whether the top-level shape of `node` (scalar, list, mapping) is what `ty` wants.
fn shape_fits(node: &Node, ty: &PropType, dynamic: bool) -> bool {
    match (ty, &node.value) {
        (PropType::List(_) | PropType::Tasks, Value::Seq(_))
        | (
            PropType::Map(_) | PropType::Object(_) | PropType::TaskMap | PropType::Plugin(_),
            Value::Map(_),
        )
        | (PropType::Any, _) => true,
        (PropType::List(_) | PropType::Map(_) | PropType::Object(_), Value::Scalar(s)) => {
            dynamic && s.kind == ScalarKind::Str && is_expression(&s.text)
        }
        (PropType::Int, Value::Scalar(s)) => matches!(s.kind, ScalarKind::Int(_)),
        (PropType::Number, Value::Scalar(s)) => {
            matches!(s.kind, ScalarKind::Int(_) | ScalarKind::Float(_))
        }
        (PropType::Bool, Value::Scalar(s)) => matches!(s.kind, ScalarKind::Bool(_)),
        (PropType::OneOf(choices), _) => choices.iter().any(|c| shape_fits(node, c, dynamic)),
        (PropType::String | PropType::Duration | PropType::Enum(_), Value::Scalar(_)) => true,
        _ => false,
    }
}

/// A nested object with known keys: strict keys, required ones present, each value checked.
pub fn check_object(ctx: &mut Ctx, node: &Node, props: &[PropDef], what: &str) {
    let Some(entries) = ctx.map(node, what) else {
        return;
    };
    let known: Vec<&str> = props.iter().map(|p| p.name).collect();
    for entry in entries {
        match props.iter().find(|p| p.name == entry.key.text) {
            Some(prop) => {
                deprecated(ctx, prop, entry.key.span, &entry.key.text);
                check(
                    ctx,
                    &entry.value,
                    &prop.ty,
                    prop.dynamic,
                    &format!("`{}`", entry.key.text),
                );
            }
            None => ctx.unknown_key(&entry.key, what, &known, &[]),
        }
    }
    for prop in props.iter().filter(|p| p.required) {
        if entries
            .iter()
            .all(|e| e.key.text != prop.name || e.value.is_null())
        {
            ctx.missing_key(node.span, what, prop.name);
        }
    }
}

pub fn deprecated(ctx: &mut Ctx, prop: &PropDef, span: crate::source::Span, name: &str) {
    if let Some(why) = prop.deprecated {
        ctx.push(
            Diagnostic::warning(Code::Deprecated, span, format!("`{name}` is deprecated"))
                .with_help(why),
        );
    }
}

fn scalar_kind(node: &Node) -> Option<ScalarKind> {
    node.as_scalar().map(|s| s.kind)
}

/// Quoted numbers are accepted, as Jackson coerces them.
fn numeric_text(node: &Node, float: bool) -> bool {
    node.as_str().is_some_and(|t| {
        if float {
            t.trim().parse::<f64>().is_ok()
        } else {
            t.trim().parse::<i64>().is_ok()
        }
    })
}

fn mismatch(ctx: &mut Ctx, node: &Node, what: &str, expected: &str) {
    ctx.push(Diagnostic::error(
        Code::WrongType,
        node.span,
        format!("{what} must be {expected}, found {}", node.describe()),
    ));
}

fn check_duration(ctx: &mut Ctx, node: &Node, expression: bool, what: &str) {
    if expression || matches!(scalar_kind(node), Some(ScalarKind::Int(_))) {
        return;
    }
    match node.as_str() {
        Some(text) if is_duration(text) => {}
        Some(text) => ctx.push(
            Diagnostic::error(
                Code::InvalidValue,
                node.span,
                format!("{what}: `{text}` is not an ISO-8601 duration"),
            )
            .with_help("write durations like `PT30S`, `PT5M`, `PT1H30M` or `P1D`"),
        ),
        None => mismatch(ctx, node, what, "an ISO-8601 duration such as `PT30S`"),
    }
}

fn check_enum(ctx: &mut Ctx, node: &Node, values: &[&str], expression: bool, what: &str) {
    if expression {
        return;
    }
    let Some(text) = node.as_text() else {
        mismatch(ctx, node, what, &one_of(values));
        return;
    };
    if values.iter().any(|v| v.eq_ignore_ascii_case(text)) {
        return;
    }
    let help = match did_you_mean(text, values.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? Allowed: {}", one_of(values)),
        None => format!("allowed: {}", one_of(values)),
    };
    ctx.push(
        Diagnostic::error(
            Code::InvalidValue,
            node.span,
            format!("{what}: `{text}` is not an allowed value"),
        )
        .with_help(help),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_java() {
        for ok in [
            "PT10S", "PT1H30M", "P1D", "P2DT3H", "PT0.5S", "-PT6H", "pt5m",
        ] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["P", "PT", "10s", "PT10", "P1M", "1h", "P1W"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
