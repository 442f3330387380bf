//! Flow `inputs` and `outputs`: Kestra's `Input` subtypes, one set of keys per `type`.

use super::values::{check, is_duration, is_expression, literal_bool};
use super::{Ctx, IdPattern};
use crate::diag::{Code, Diagnostic};
use crate::model::{FlowOutput, Input, InputType, Spanned};
use crate::plugins::PropType;
use crate::suggest::{did_you_mean, one_of};
use crate::yaml::{Entry, Node, ScalarKind};
use kflow_runtime::formats;

/// Keys every input has (Kestra's `Input` base class).
const COMMON_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "description",
    "displayName",
    "required",
    "defaults",
    "prefill",
    "dependsOn",
];

/// The keys each input type adds to the common ones.
fn type_keys(ty: InputType) -> &'static [&'static str] {
    match ty {
        InputType::String | InputType::Secret => &["validator"],
        InputType::Int | InputType::Float | InputType::Duration => &["min", "max"],
        InputType::Select => &[
            "values",
            "expression",
            "allowCustomValue",
            "isRadio",
            "autoSelectFirst",
        ],
        InputType::Multiselect => &[
            "values",
            "options",
            "expression",
            "itemType",
            "allowCustomValue",
            "autoSelectFirst",
        ],
        InputType::Datetime | InputType::Date | InputType::Time => &["after", "before"],
        InputType::File => &["extension", "allowedFileExtensions"],
        InputType::Array => &["itemType"],
        InputType::Bool | InputType::Json | InputType::Yaml | InputType::Uri | InputType::Email => {
            &[]
        }
    }
}

pub fn inputs(ctx: &mut Ctx, entry: &Entry) -> Vec<Input> {
    ctx.seq_of(entry, &format!("`{}`", entry.key.text))
        .iter()
        .filter_map(|item| input(ctx, item))
        .collect()
}

fn input(ctx: &mut Ctx, node: &Node) -> Option<Input> {
    let entries = ctx.map(node, "an input")?;
    let id = match (node.get("id"), node.get("name")) {
        (Some(id), _) => ctx.id(&id.value, "input id", IdPattern::Dotted),
        (None, Some(name)) => {
            ctx.push(
                Diagnostic::warning(
                    Code::Deprecated,
                    name.key.span,
                    "the input property `name` is deprecated",
                )
                .with_help("rename it to `id`"),
            );
            ctx.id(&name.value, "input id", IdPattern::Dotted)
        }
        (None, None) => {
            ctx.missing_key(
                entries.first().map_or(node.span, |e| e.key.span),
                "this input",
                "id",
            );
            None
        }
    };
    let id = id.unwrap_or_else(|| Spanned::new(String::new(), node.span));
    let ty = input_type(ctx, node, "type", &format!("input `{}`", id.value));
    let mut input = Input {
        id,
        ty: ty
            .clone()
            .unwrap_or_else(|| Spanned::new(InputType::String, node.span)),
        required: true,
        description: None,
        defaults: None,
        min: None,
        max: None,
        validator: None,
        values: None,
        item_type: None,
        allow_custom_value: false,
        depends_on: Vec::new(),
        span: node.span,
    };
    let owner = format!("input `{}`", input.id.value);
    // The deprecated `ENUM` is a SELECT that takes only `values`.
    let spelled_enum = node.get("type").and_then(|e| e.value.as_text()) == Some("ENUM");
    if ty.is_some() && spelled_enum {
        if let Some(t) = &ty {
            ctx.push(
                Diagnostic::warning(
                    Code::Deprecated,
                    t.span,
                    "the input type `ENUM` is deprecated",
                )
                .with_help("use `type: SELECT` with the same `values`"),
            );
        }
    }
    let extra = match &ty {
        Some(_) if spelled_enum => &["values"][..],
        Some(t) => type_keys(t.value),
        None => &[][..],
    };
    for entry in entries {
        let value = &entry.value;
        match entry.key.text.as_str() {
            "id" | "name" | "type" => {}
            "description" => {
                input.description = ctx.text(value, "`description`").map(|t| t.value);
            }
            "displayName" => {
                let _ = ctx.text(value, "`displayName`");
            }
            "expression" | "extension" => {
                let _ = ctx.text(value, &format!("`{}`", entry.key.text));
                ignored(ctx, entry, &owner);
            }
            "required" => input.required = ctx.bool(value, "`required`"),
            "defaults" | "prefill" => input.defaults = Some(value.clone()),
            "dependsOn" => input.depends_on = depends_on(ctx, value),
            "validator" if extra.contains(&"validator") => input.validator = validator(ctx, value),
            "values" | "options" if extra.contains(&entry.key.text.as_str()) => {
                check(
                    ctx,
                    value,
                    &PropType::List(&PropType::String),
                    false,
                    &format!("`{}`", entry.key.text),
                );
                if entry.key.text == "options" {
                    ctx.push(
                        Diagnostic::warning(
                            Code::Deprecated,
                            entry.key.span,
                            "`options` is deprecated",
                        )
                        .with_help("rename it to `values`"),
                    );
                }
                input.values = Some(value.clone());
            }
            "itemType" if extra.contains(&"itemType") => {
                input.item_type = input_type(ctx, node, "itemType", &owner);
            }
            "allowCustomValue" if extra.contains(&"allowCustomValue") => {
                input.allow_custom_value = ctx.bool(value, "`allowCustomValue`");
            }
            "isRadio" | "autoSelectFirst" if extra.contains(&entry.key.text.as_str()) => {
                ctx.bool(value, &format!("`{}`", entry.key.text));
            }
            "min" | "max"
                if extra.contains(&entry.key.text.as_str())
                    && ty.as_ref().is_some_and(|t| t.value != InputType::Duration) =>
            {
                // Jackson reads `"10"` as 10 too.
                #[allow(clippy::cast_precision_loss)]
                let number = value.as_scalar().and_then(|s| match s.kind {
                    ScalarKind::Int(i) => Some(i as f64),
                    ScalarKind::Float(f) => Some(f),
                    _ => s.text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                });
                if let Some(number) = number {
                    if entry.key.text == "min" {
                        input.min = Some(number);
                    } else {
                        input.max = Some(number);
                    }
                } else {
                    ctx.push(Diagnostic::error(
                        Code::InvalidInput,
                        value.span,
                        format!("`{}` of {owner} must be a number", entry.key.text),
                    ));
                }
            }
            "min" | "max" | "after" | "before" | "allowedFileExtensions"
                if extra.contains(&entry.key.text.as_str()) =>
            {
                ignored(ctx, entry, &owner);
            }
            _ => {
                let known: Vec<&str> = COMMON_KEYS.iter().chain(extra).copied().collect();
                let mut renamed: Vec<(&str, &str)> =
                    vec![("default", "defaults"), ("optional", "required")];
                if ty
                    .as_ref()
                    .is_some_and(|t| t.value == InputType::Multiselect)
                {
                    renamed.push(("options", "values"));
                }
                ctx.unknown_key(&entry.key, &owner, &known, &renamed);
            }
        }
    }
    if let Some(ty) = &ty {
        rules(ctx, &input, ty, node.get("expression").is_some(), &owner);
    }
    Some(input)
}

/// A key Kestra has that this version's runtime does not enforce: a warning, never a silent drop.
fn ignored(ctx: &mut Ctx, entry: &Entry, owner: &str) {
    ctx.push(
        Diagnostic::warning(
            Code::Ignored,
            entry.key.span,
            format!(
                "`{}` of {owner} is not enforced by this version of kflow",
                entry.key.text
            ),
        )
        .with_help(
            "the binary accepts any value here; remove the key, or check the value in a task",
        ),
    );
}

/// Reads `key` of an input as an input type, with a suggestion for unknown ones.
fn input_type(ctx: &mut Ctx, node: &Node, key: &str, owner: &str) -> Option<Spanned<InputType>> {
    let Some(entry) = node.get(key) else {
        if key == "type" {
            ctx.missing_key(
                node.get("id").map_or(node.span, |e| e.value.span),
                owner,
                "type",
            );
        }
        return None;
    };
    let text = ctx.text(&entry.value, &format!("`{key}`"))?;
    if let Some(ty) = crate::model::input_type(&text.value) {
        Some(Spanned::new(ty, text.span))
    } else {
        let names: Vec<&str> = crate::model::INPUT_TYPE_NAMES
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let help = match did_you_mean(&text.value, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("input types are {}", one_of(&names)),
        };
        ctx.push(
            Diagnostic::error(
                Code::InvalidInput,
                text.span,
                format!("unknown input type `{}`", text.value),
            )
            .with_help(help),
        );
        None
    }
}

fn depends_on(ctx: &mut Ctx, node: &Node) -> Vec<Spanned<String>> {
    let mut ids = Vec::new();
    let Some(entries) = ctx.map(node, "`dependsOn`") else {
        return ids;
    };
    for entry in entries {
        match entry.key.text.as_str() {
            "inputs" => {
                for item in ctx.seq(&entry.value, "`dependsOn.inputs`") {
                    if let Some(id) = ctx.text(item, "an input id") {
                        ids.push(id);
                    }
                }
            }
            "condition" => {
                let _ = ctx.text(&entry.value, "`dependsOn.condition`");
            }
            _ => ctx.unknown_key(&entry.key, "`dependsOn`", &["inputs", "condition"], &[]),
        }
    }
    ids
}

/// A `validator` regex. Java and Rust regexes differ in look-around and backreferences, which
/// Rust's engine lacks: those validators are accepted unchecked rather than falsely rejected.
fn validator(ctx: &mut Ctx, node: &Node) -> Option<Spanned<String>> {
    let text = ctx.text(node, "`validator`")?;
    // Compiled as the binary compiles it: what `check` accepts, the binary runs.
    if let Err(err) = formats::Validator::new(&text.value) {
        let reason = err
            .lines()
            .last()
            .unwrap_or("invalid pattern")
            .trim_start_matches("error: ")
            .to_string();
        ctx.push(
            Diagnostic::error(
                Code::InvalidInput,
                node.span,
                format!("`validator` is not a valid regular expression: {reason}"),
            )
            .with_help(
                "the validator is a Java regular expression that must match the whole value",
            ),
        );
        return None;
    }
    Some(text)
}

/// Kestra's per-type rules: `defaults` of the right type, ARRAY item types, SELECT values.
fn rules(ctx: &mut Ctx, input: &Input, ty: &Spanned<InputType>, has_expression: bool, owner: &str) {
    match ty.value {
        InputType::Array if input.item_type.is_none() => {
            ctx.missing_key(ty.span, owner, "itemType");
        }
        InputType::Array => {
            // Kestra's ArrayInputValidation: no arrays of arrays.
            if let Some(item) = input
                .item_type
                .as_ref()
                .filter(|i| i.value == InputType::Array)
            {
                ctx.push(
                    Diagnostic::error(Code::InvalidInput, item.span, "the `itemType` of an ARRAY input cannot be `ARRAY`")
                        .with_help("use a scalar item type such as STRING, INT, FLOAT, BOOL, DATETIME, or JSON for nested data"),
                );
            }
        }
        InputType::Select if input.values.is_none() && !has_expression => {
            ctx.missing_key(ty.span, owner, "values");
        }
        _ => {}
    }
    match &input.defaults {
        // Kestra's FileInputValidation: a FILE input is uploaded with each execution.
        Some(defaults) if ty.value == InputType::File && !defaults.is_null() => ctx.push(
            Diagnostic::error(
                Code::InvalidInput,
                defaults.span,
                format!("{owner} is of type FILE, which cannot have `defaults`"),
            )
            .with_help("remove `defaults`; a FILE input is uploaded with each execution"),
        ),
        Some(defaults) => default_fits(ctx, input, ty.value, defaults, owner),
        None => {}
    }
}

/// Does a literal `defaults` value fit the input's type? Expressions are checked later.
fn default_fits(ctx: &mut Ctx, input: &Input, ty: InputType, value: &Node, owner: &str) {
    if value.is_null() || value.as_str().is_some_and(is_expression) {
        return;
    }
    let kind = value.as_scalar().map(|s| s.kind);
    let text = value.as_text().unwrap_or("");
    let expected: Option<&str> = match ty {
        InputType::Int
            if !matches!(kind, Some(ScalarKind::Int(_))) && text.parse::<i64>().is_err() =>
        {
            Some("an integer")
        }
        InputType::Float
            if !matches!(kind, Some(ScalarKind::Int(_) | ScalarKind::Float(_)))
                && text.parse::<f64>().is_err() =>
        {
            Some("a number")
        }
        InputType::Bool if literal_bool(value).is_none() => Some("`true` or `false`"),
        InputType::Duration if !is_duration(text) => Some("an ISO-8601 duration such as `PT5M`"),
        InputType::Date if !is_date(text) => Some("a date such as `2024-01-31`"),
        InputType::Time if !is_time(text) => Some("a time such as `13:45:00`"),
        InputType::Datetime if !is_datetime(text) => {
            Some("an ISO-8601 date-time such as `2024-01-31T13:45:00Z`")
        }
        InputType::Uri if !has_uri_scheme(text) => {
            Some("a URI such as `nsfile:///data.csv` or `kestra:///...`")
        }
        InputType::Email if !formats::is_email(text) => Some("an email address"),
        InputType::Array | InputType::Multiselect if value.as_seq().is_none() => Some("a list"),
        InputType::String | InputType::Secret | InputType::Select
            if value.as_scalar().is_none() =>
        {
            Some("a string")
        }
        _ => None,
    };
    if let Some(expected) = expected {
        ctx.push(Diagnostic::error(
            Code::InvalidInput,
            value.span,
            format!(
                "the default of {owner} must be {expected}, found {}",
                describe_value(value)
            ),
        ));
        return;
    }
    // Kestra's SELECT and MULTISELECT take only their `values` (unless `allowCustomValue`):
    // a default outside them fails every execution that does not give the input.
    if matches!(ty, InputType::Select | InputType::Multiselect) && !input.allow_custom_value {
        let choices: Option<Vec<&str>> = input
            .values
            .as_ref()
            .and_then(Node::as_seq)
            .map(|items| items.iter().filter_map(Node::as_text).collect());
        let given: Vec<&Node> = match value.as_seq() {
            Some(items) => items.iter().collect(),
            None => vec![value],
        };
        for item in given {
            let Some((choices, text)) = choices.as_ref().zip(item.as_text()) else {
                continue;
            };
            if !choices.contains(&text) {
                let mut diagnostic = Diagnostic::error(
                    Code::InvalidInput,
                    item.span,
                    format!("the default `{text}` of {owner} is not one of its `values`"),
                );
                diagnostic = match did_you_mean(text, choices.iter().copied()) {
                    Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
                    None => diagnostic.with_help(format!(
                        "use one of {}, or set `allowCustomValue: true`",
                        choices
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                ctx.push(diagnostic);
            }
        }
    }
    if let (Some(validator), Some(text)) = (&input.validator, value.as_text()) {
        if let Ok(validator_regex) = formats::Validator::new(&validator.value) {
            if validator_regex.matches(text) == Ok(false) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidInput,
                        value.span,
                        format!("the default of {owner} does not match its validator"),
                    )
                    .with_label(validator.span, "the validator"),
                );
            }
        }
    }
}

fn describe_value(node: &Node) -> String {
    match node.as_text() {
        Some(text) => format!("`{text}`"),
        None => node.describe().to_string(),
    }
}

// The binary's own rules (`kflow_runtime::formats`): a default `check` accepts is one the
// binary takes.
fn has_uri_scheme(text: &str) -> bool {
    formats::check_uri(text).is_ok()
}

fn is_date(text: &str) -> bool {
    formats::parse_date(text).is_ok()
}

fn is_time(text: &str) -> bool {
    formats::parse_time(text).is_ok()
}

fn is_datetime(text: &str) -> bool {
    formats::parse_instant(text).is_ok()
}

/// Flow `outputs`: `id`, `type`, `value`, plus descriptions.
pub fn outputs(ctx: &mut Ctx, entry: &Entry) -> Vec<FlowOutput> {
    let mut outputs = Vec::new();
    if let Some(map) = entry.value.as_map() {
        ctx.push(
            Diagnostic::error(Code::WrongType, entry.key.span, "flow `outputs` must be a list, found a mapping")
                .with_help("write each output as a list item: `- id: name`, `type: STRING`, `value: \"{{ ... }}\"`"),
        );
        // Read `name: value` as the outputs that were meant (the flow has an error and is not
        // compiled), so the expressions in the values are still checked.
        return map
            .iter()
            .map(|e| FlowOutput {
                id: Spanned::new(e.key.text.clone(), e.key.span),
                ty: Spanned::new(InputType::String, e.key.span),
                value: e.value.clone(),
                span: e.key.span,
            })
            .collect();
    }
    for item in ctx.seq_of(entry, "`outputs`") {
        let Some(entries) = ctx.map(item, "a flow output") else {
            continue;
        };
        let id = if let Some(e) = item.get("id") {
            ctx.id(&e.value, "output id", IdPattern::Dotted)
        } else {
            ctx.missing_key(
                entries.first().map_or(item.span, |e| e.key.span),
                "this output",
                "id",
            );
            None
        };
        let id = id.unwrap_or_else(|| Spanned::new(String::new(), item.span));
        let owner = format!("output `{}`", id.value);
        let ty = input_type(ctx, item, "type", &owner);
        for entry in entries {
            match entry.key.text.as_str() {
                "id" | "type" | "value" => {}
                "description" | "displayName" => {
                    let _ = ctx.text(&entry.value, &format!("`{}`", entry.key.text));
                }
                "required" => {
                    ctx.bool(&entry.value, "`required`");
                }
                _ => ctx.unknown_key(
                    &entry.key,
                    &owner,
                    &[
                        "id",
                        "type",
                        "value",
                        "description",
                        "displayName",
                        "required",
                    ],
                    &[],
                ),
            }
        }
        let value = match item.get("value") {
            Some(e) if !e.value.is_null() => e.value.clone(),
            _ => {
                ctx.missing_key(id.span, &owner, "value");
                continue;
            }
        };
        if let Some(ty) = ty {
            outputs.push(FlowOutput {
                id,
                ty,
                value,
                span: item.span,
            });
        }
    }
    outputs
}
