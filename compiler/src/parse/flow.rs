//! The top level of a flow file.

use super::task::{retry, task_list, tasks, trigger};
use super::values::check;
use super::{defaults, input, Ctx, IdPattern};
use crate::diag::{Code, Diagnostic};
use crate::model::{Branch, Flow, Label, Spanned};
use crate::plugins::{prop, PropDef, PropType};
use crate::yaml::{Node, Value};

/// Keys a flow may have (Kestra's `Flow` and `AbstractFlow`, plus newer `finally`,
/// `afterExecution` and `checks`).
const FLOW_KEYS: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "listeners",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "outputs",
    "retry",
    "sla",
    "checks",
    "disabled",
    "deleted",
    "extend",
];

/// Names people write for flow keys, and Kestra's names.
const RENAMED_FLOW_KEYS: &[(&str, &str)] = &[
    ("name", "id"),
    ("trigger", "triggers"),
    ("input", "inputs"),
    ("task", "tasks"),
    ("steps", "tasks"),
    ("vars", "variables"),
    ("output", "outputs"),
    ("defaults", "pluginDefaults"),
    ("on", "triggers"),
];

pub fn parse_flow(ctx: &mut Ctx, root: &Node) -> Option<Flow> {
    let entries = ctx.map(root, "a flow")?;
    // pluginDefaults apply to every task, wherever they are written, so read them first.
    for key in ["pluginDefaults", "taskDefaults"] {
        if let Some(entry) = root.get(key) {
            if key == "taskDefaults" {
                ctx.push(
                    Diagnostic::warning(
                        Code::Deprecated,
                        entry.key.span,
                        "`taskDefaults` is deprecated",
                    )
                    .with_help("rename it to `pluginDefaults`"),
                );
            }
            defaults::read(ctx, &entry.value);
        }
    }
    let mut flow = Flow {
        id: Spanned::new(String::new(), root.span),
        namespace: Spanned::new(String::new(), root.span),
        description: None,
        labels: Vec::new(),
        inputs: Vec::new(),
        variables: None,
        tasks: Vec::new(),
        errors: Vec::new(),
        finally: Vec::new(),
        after_execution: Vec::new(),
        listeners: Vec::new(),
        outputs: Vec::new(),
        triggers: Vec::new(),
        concurrency: None,
        sla: None,
        retry: None,
        disabled: false,
        span: root.span,
    };
    for entry in entries {
        let value = &entry.value;
        match entry.key.text.as_str() {
            "id" => flow.id = ctx.id(value, "flow id", IdPattern::Flow).unwrap_or(flow.id),
            "namespace" => {
                flow.namespace = ctx
                    .id(value, "namespace", IdPattern::Namespace)
                    .unwrap_or(flow.namespace);
            }
            "description" => flow.description = ctx.text(value, "`description`"),
            "revision" => check(ctx, value, &PropType::Int, false, "`revision`"),
            "labels" => flow.labels = labels(ctx, value),
            "inputs" => flow.inputs = input::inputs(ctx, entry),
            "variables" => {
                if !value.is_null() && ctx.map(value, "`variables`").is_some() {
                    flow.variables = Some(value.clone());
                }
            }
            "tasks" => flow.tasks = task_list(ctx, entry, "`tasks`"),
            "errors" => flow.errors = task_list(ctx, entry, "`errors`"),
            "finally" => flow.finally = task_list(ctx, entry, "`finally`"),
            "afterExecution" => flow.after_execution = task_list(ctx, entry, "`afterExecution`"),
            "listeners" => flow.listeners = listeners(ctx, entry.key.span, value),
            "triggers" => {
                flow.triggers = ctx
                    .seq_of(entry, "`triggers`")
                    .iter()
                    .filter_map(|t| trigger(ctx, t))
                    .collect();
            }
            "pluginDefaults" | "taskDefaults" => {}
            "concurrency" => {
                static CONCURRENCY: &[PropDef] = &[
                    prop("limit", PropType::Int).required().not_dynamic(),
                    prop("behavior", PropType::Enum(&["QUEUE", "CANCEL", "FAIL"])).not_dynamic(),
                ];
                super::values::check_object(ctx, value, CONCURRENCY, "`concurrency`");
                flow.concurrency = Some(value.clone());
            }
            "outputs" => flow.outputs = input::outputs(ctx, entry),
            "retry" => {
                retry(ctx, entry);
                flow.retry = Some(value.clone());
            }
            "sla" => {
                static SLA: &[PropDef] = &[
                    prop("id", PropType::String).required().not_dynamic(),
                    prop(
                        "type",
                        PropType::Enum(&["MAX_DURATION", "EXECUTION_ASSERTION"]),
                    )
                    .required()
                    .not_dynamic(),
                    prop("behavior", PropType::Enum(&["FAIL", "CANCEL", "NONE"])).not_dynamic(),
                    prop("duration", PropType::Duration).not_dynamic(),
                    prop("assert", PropType::String),
                    prop("labels", PropType::Map(&PropType::String)).not_dynamic(),
                ];
                for item in ctx.seq(value, "`sla`") {
                    super::values::check_object(ctx, item, SLA, "an SLA");
                    let kind = item.get("type").and_then(|e| e.value.as_text());
                    let needed = match kind {
                        Some("MAX_DURATION") => Some("duration"),
                        Some("EXECUTION_ASSERTION") => Some("assert"),
                        _ => None,
                    };
                    if let Some(key) = needed.filter(|k| item.get(k).is_none()) {
                        ctx.missing_key(item.span, "this SLA", key);
                    }
                }
                flow.sla = Some(value.clone());
            }
            "checks" => {
                let _ = ctx.seq(value, &format!("`{}`", entry.key.text));
                ctx.push(
                    Diagnostic::warning(
                        Code::Ignored,
                        entry.key.span,
                        format!(
                            "`{}` is not enforced by this version of kflow: the binary ignores it",
                            entry.key.text
                        ),
                    )
                    .with_help("remove it, or accept that it has no effect yet"),
                );
            }
            "disabled" => flow.disabled = ctx.bool(value, "`disabled`"),
            "deleted" => {
                ctx.bool(value, "`deleted`");
            }
            // Metadata of Kestra's blueprint catalogue (title, description, tags); not run.
            "extend" => {
                let _ = ctx.map(value, "`extend`");
            }
            _ => ctx.unknown_key(&entry.key, "the flow", FLOW_KEYS, RENAMED_FLOW_KEYS),
        }
    }
    for key in ["id", "namespace", "tasks"] {
        match root.get(key) {
            None => ctx.missing_key(
                entries.first().map_or(root.span, |e| e.key.span),
                "the flow",
                key,
            ),
            Some(entry) if entry.value.is_null() => {
                ctx.missing_key(entry.value.span, "the flow", key);
            }
            Some(entry)
                if key == "tasks" && entry.value.as_seq().is_some_and(<[Node]>::is_empty) =>
            {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        entry.value.span,
                        "a flow needs at least one task",
                    )
                    .with_help("add a task under `tasks`"),
                );
            }
            Some(_) => {}
        }
    }
    Some(flow)
}

/// `labels`: a mapping (`team: data`) or a list of `{key, value}`.
pub fn labels(ctx: &mut Ctx, node: &Node) -> Vec<Label> {
    let mut labels = Vec::new();
    match &node.value {
        Value::Map(entries) => {
            for entry in entries {
                if let Some(value) =
                    ctx.text(&entry.value, &format!("the label `{}`", entry.key.text))
                {
                    labels.push(Label {
                        key: Spanned::new(entry.key.text.clone(), entry.key.span),
                        value,
                    });
                }
            }
        }
        Value::Seq(items) => {
            for item in items {
                let Some(entries) = ctx.map(item, "a label") else {
                    continue;
                };
                let key = item
                    .get("key")
                    .and_then(|e| ctx.text(&e.value, "a label key"));
                let value = item
                    .get("value")
                    .and_then(|e| ctx.text(&e.value, "a label value"));
                for entry in entries
                    .iter()
                    .filter(|e| e.key.text != "key" && e.key.text != "value")
                {
                    ctx.unknown_key(&entry.key, "a label", &["key", "value"], &[]);
                }
                match (key, value) {
                    (Some(key), Some(value)) => labels.push(Label { key, value }),
                    (None, _) => ctx.missing_key(item.span, "this label", "key"),
                    (_, None) => ctx.missing_key(item.span, "this label", "value"),
                }
            }
        }
        Value::Scalar(_) if node.is_null() => {}
        Value::Scalar(_) => ctx.push(Diagnostic::error(
            Code::WrongType,
            node.span,
            format!(
                "`labels` must be a mapping or a list of `key`/`value` pairs, found {}",
                node.describe()
            ),
        )),
    }
    labels
}

/// The deprecated `listeners`: each a list of tasks (run after the execution) with conditions.
fn listeners(ctx: &mut Ctx, key_span: crate::source::Span, node: &Node) -> Vec<Branch> {
    ctx.push(
        Diagnostic::warning(
            Code::Deprecated,
            key_span,
            "`listeners` are deprecated, and this version of kflow does not run them",
        )
        .with_help("move the tasks to `afterExecution` and use `runIf` for their conditions"),
    );
    let mut branches = Vec::new();
    for item in ctx.seq(node, "`listeners`") {
        let Some(entries) = ctx.map(item, "a listener") else {
            continue;
        };
        let mut branch = Branch {
            role: "listeners".to_string(),
            span: item.span,
            tasks: Vec::new(),
        };
        for entry in entries {
            match entry.key.text.as_str() {
                "description" => {
                    let _ = ctx.text(&entry.value, "`description`");
                }
                "conditions" => {
                    for condition in ctx.seq(&entry.value, "`conditions`") {
                        super::task::plugin_object(
                            ctx,
                            condition,
                            crate::plugins::PluginKind::Condition,
                            "a condition",
                        );
                    }
                }
                "tasks" => {
                    branch.tasks = tasks(ctx, &entry.value, "`tasks`");
                    if branch.tasks.is_empty()
                        && entry.value.as_seq().is_some_and(<[Node]>::is_empty)
                    {
                        ctx.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                entry.value.span,
                                "a listener needs at least one task",
                            )
                            .with_help("add a task, or remove the listener"),
                        );
                    }
                }
                _ => ctx.unknown_key(
                    &entry.key,
                    "a listener",
                    &["description", "conditions", "tasks"],
                    &[],
                ),
            }
        }
        if item.get("tasks").is_none_or(|e| e.value.is_null()) {
            ctx.missing_key(item.span, "this listener", "tasks");
        }
        branches.push(branch);
    }
    branches
}
