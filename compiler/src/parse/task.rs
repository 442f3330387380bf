//! Tasks, triggers and nested plugin objects (conditions, task runners): the common keys from
//! Kestra's base classes, the rest from the plugin registry.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::values::{check, check_object, deprecated, is_expression};
use super::{defaults, Ctx, IdPattern};
use crate::diag::{Code, Diagnostic};
use crate::model::{Branch, Property, Spanned, Task, Trigger};
use crate::plugins::{self, PluginDef, PluginKind, PropDef, PropType, LOG_LEVELS, STATES};
use crate::source::Span;
use crate::suggest::{did_you_mean, is_close_type_name};
use crate::yaml::{Entry, Node, Value};

const DAG_TYPE: &str = "io.kestra.plugin.core.flow.Dag";
const PAUSE_TYPE: &str = "io.kestra.plugin.core.flow.Pause";

/// Keys every task has (Kestra's `Task` base class).
pub(super) const TASK_KEYS: &[&str] = &[
    "id",
    "type",
    "version",
    "description",
    "retry",
    "timeout",
    "disabled",
    "workerGroup",
    "logLevel",
    "allowFailure",
    "allowWarning",
    "logToFile",
    "runIf",
    "taskCache",
    "assets",
];

/// Keys every trigger has (Kestra's `AbstractTrigger`).
pub(super) const TRIGGER_KEYS: &[&str] = &[
    "id",
    "type",
    "version",
    "description",
    "conditions",
    "disabled",
    "workerGroup",
    "logLevel",
    "minLogLevel",
    "labels",
    "stopAfter",
    "logToFile",
    "failOnTriggerError",
];

/// A list of tasks; every item is parsed even when some are broken.
pub fn tasks(ctx: &mut Ctx, node: &Node, what: &str) -> Vec<Task> {
    ctx.seq(node, what)
        .iter()
        .filter_map(|item| task(ctx, item))
        .collect()
}

/// The list of tasks under a key (`tasks:`, `then:`, ...).
pub fn task_list(ctx: &mut Ctx, entry: &Entry, what: &str) -> Vec<Task> {
    ctx.seq_of(entry, what)
        .iter()
        .filter_map(|item| task(ctx, item))
        .collect()
}

/// One task. `None` only when the node is not a mapping at all.
pub fn task(ctx: &mut Ctx, node: &Node) -> Option<Task> {
    let entries = ctx.map(node, "a task")?;
    let type_ref = plugin_type(ctx, node, entries, PluginKind::Task, "task");
    let (type_name, plugin) = (type_ref.name.clone(), type_ref.plugin);
    let id_entry = entries.iter().find(|e| e.key.text == "id");
    let id = if let Some(e) = id_entry {
        ctx.id(&e.value, "task id", IdPattern::Task)
    } else {
        ctx.missing_key(
            type_name.as_ref().map_or(node.span, |t| t.span),
            "this task",
            "id",
        );
        None
    };
    let id = id.unwrap_or_else(|| Spanned::new(String::new(), node.span));
    let owner = type_ref.owner(format!("task `{}`", id.value));
    let merged = merged_entries(ctx, type_name.as_ref(), entries, PluginKind::Task);
    let checked_as = type_ref.checked_as();
    let is_dag = checked_as.is_some_and(|p| p.name == DAG_TYPE);

    let mut task = Task {
        id,
        type_name: type_name.unwrap_or_else(|| Spanned::new(String::new(), node.span)),
        plugin,
        checked_as,
        run_if: None,
        timeout: None,
        retry: None,
        disabled: false,
        allow_failure: false,
        allow_warning: false,
        log_level: None,
        properties: Vec::new(),
        branches: Vec::new(),
        depends_on: Vec::new(),
        on_resume: Vec::new(),
        span: node.span,
    };
    for entry in merged.iter() {
        let value = &entry.value;
        match entry.key.text.as_str() {
            "id" | "type" | "version" | "description" => {
                let _ = ctx.text(value, &format!("`{}`", entry.key.text));
            }
            "retry" => {
                retry(ctx, entry);
                task.retry = Some(value.clone());
            }
            "timeout" => {
                check(ctx, value, &PropType::Duration, true, "`timeout`");
                task.timeout = Some(value.clone());
            }
            "disabled" => task.disabled = ctx.bool(value, "`disabled`"),
            "allowFailure" => task.allow_failure = ctx.bool(value, "`allowFailure`"),
            "allowWarning" => task.allow_warning = ctx.bool(value, "`allowWarning`"),
            "logToFile" => {
                ctx.bool(value, "`logToFile`");
                ignored(ctx, entry);
            }
            "logLevel" => {
                check(ctx, value, &PropType::Enum(LOG_LEVELS), false, "`logLevel`");
                task.log_level = value.as_text().map(str::to_string);
            }
            "runIf" => {
                let _ = ctx.text(value, "`runIf`");
                task.run_if = Some(value.clone());
            }
            "taskCache" => {
                static TASK_CACHE: &[PropDef] = &[
                    plugins::prop("enabled", PropType::Bool),
                    plugins::prop("ttl", PropType::Duration),
                ];
                check_object(ctx, value, TASK_CACHE, "`taskCache`");
                ignored(ctx, entry);
            }
            "workerGroup" => worker_group(ctx, entry),
            // Data-lineage metadata of Kestra 1.x; it does not change how the task runs.
            "assets" => {}
            name => match checked_as {
                None => task.properties.push(Property {
                    name: Spanned::new(name.to_string(), entry.key.span),
                    value: value.clone(),
                }),
                Some(plugin) => match plugin.property(name) {
                    Some(prop) => {
                        deprecated(ctx, prop, entry.key.span, name);
                        typed_property(ctx, &mut task, entry, prop, is_dag);
                    }
                    // A key merged from pluginDefaults was reported where the default is written.
                    None if !contains(node.span, entry.key.span) => {}
                    None => {
                        let known: Vec<&str> = TASK_KEYS
                            .iter()
                            .copied()
                            .chain(plugin.properties.iter().map(|p| p.name))
                            .collect();
                        ctx.unknown_key(&entry.key, &owner, &known, RENAMED_TASK_KEYS);
                        // Kept (the flow has an error and is not compiled) so the templates
                        // in it are still checked.
                        task.properties.push(Property {
                            name: Spanned::new(name.to_string(), entry.key.span),
                            value: value.clone(),
                        });
                    }
                },
            },
        }
    }
    if let Some(plugin) = checked_as {
        required_properties(ctx, plugin, &merged, task.type_name.span, &owner);
    }
    Some(task)
}

/// A key this version's runtime does not act on: a warning, never a silent drop.
fn ignored(ctx: &mut Ctx, entry: &Entry) {
    ctx.push(
        Diagnostic::warning(
            Code::Ignored,
            entry.key.span,
            format!(
                "`{}` is not acted on by this version of kflow: the binary ignores it",
                entry.key.text
            ),
        )
        .with_help("remove it, or accept that it has no effect yet"),
    );
}

fn contains(outer: Span, inner: Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Keys people carry over from other tools, and what Kestra calls them.
const RENAMED_TASK_KEYS: &[(&str, &str)] = &[
    ("name", "id"),
    ("if", "runIf"),
    ("when", "runIf"),
    ("condition", "runIf"),
];

fn typed_property(ctx: &mut Ctx, task: &mut Task, entry: &Entry, prop: &PropDef, is_dag: bool) {
    let name = entry.key.text.as_str();
    let what = format!("`{name}`");
    match &prop.ty {
        PropType::Tasks => {
            let tasks = task_list(ctx, entry, &what);
            task.branches.push(Branch {
                role: name.to_string(),
                span: entry.key.span,
                tasks,
            });
        }
        PropType::TaskMap => {
            if entry.value.is_null() {
                return;
            }
            if let Some(cases) = ctx.map(&entry.value, &what) {
                for case in cases {
                    let tasks = tasks(ctx, &case.value, &format!("case `{}`", case.key.text));
                    task.branches.push(Branch {
                        role: format!("cases.{}", case.key.text),
                        span: case.key.span,
                        tasks,
                    });
                }
            }
        }
        _ if is_dag && name == "tasks" => dag_tasks(ctx, task, entry),
        // One task, checked and run as a branch of its own.
        _ if name == "onPause" && task.checked_as.is_some_and(|p| p.name == PAUSE_TYPE) => {
            let tasks = self::task(ctx, &entry.value).into_iter().collect();
            task.branches.push(Branch {
                role: name.to_string(),
                span: entry.key.span,
                tasks,
            });
        }
        // Checked as the flow's inputs are; the values a resume gives are validated by them.
        _ if name == "onResume" && task.checked_as.is_some_and(|p| p.name == PAUSE_TYPE) => {
            task.on_resume = super::input::inputs(ctx, entry);
        }
        ty => {
            check(ctx, &entry.value, ty, prop.dynamic, &what);
            task.properties.push(Property {
                name: Spanned::new(name.to_string(), entry.key.span),
                value: entry.value.clone(),
            });
        }
    }
}

/// `Dag.tasks`: a list of `{task: <task>, dependsOn: [ids]}`.
fn dag_tasks(ctx: &mut Ctx, task: &mut Task, entry: &Entry) {
    let mut children = Vec::new();
    for item in ctx.seq(&entry.value, "`tasks`") {
        let Some(fields) = ctx.map(item, "a Dag task") else {
            continue;
        };
        let mut child = None;
        let mut depends_on = Vec::new();
        for field in fields {
            match field.key.text.as_str() {
                "task" => child = self::task(ctx, &field.value),
                "dependsOn" => {
                    for dep in ctx.seq(&field.value, "`dependsOn`") {
                        if let Some(id) = ctx.text(dep, "a `dependsOn` entry") {
                            depends_on.push(id);
                        }
                    }
                }
                _ => ctx.unknown_key(&field.key, "a Dag task", &["task", "dependsOn"], &[]),
            }
        }
        if fields.iter().all(|f| f.key.text != "task") {
            ctx.missing_key(item.span, "this Dag entry", "task");
        }
        if let Some(mut child) = child {
            child.depends_on = depends_on;
            children.push(child);
        }
    }
    task.branches.push(Branch {
        role: "tasks".to_string(),
        span: entry.key.span,
        tasks: children,
    });
}

/// Required properties missing (reported at the plugin's `type`), null, or an empty task list.
fn required_properties(
    ctx: &mut Ctx,
    plugin: &PluginDef,
    entries: &[Entry],
    anchor: Span,
    owner: &str,
) {
    for prop in plugin.properties.iter().filter(|p| p.required) {
        match entries.iter().find(|e| e.key.text == prop.name) {
            None => ctx.missing_key(anchor, owner, prop.name),
            Some(e) if e.value.is_null() => ctx.missing_key(e.value.span, owner, prop.name),
            Some(e)
                if matches!(prop.ty, PropType::Tasks)
                    && e.value.as_seq().is_some_and(<[Node]>::is_empty) =>
            {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        e.value.span,
                        format!("`{}` of {owner} must not be empty", prop.name),
                    )
                    .with_help("add at least one task"),
                );
            }
            Some(_) => {}
        }
    }
}

/// `workerGroup` is accepted by the model but refused: Kestra reserves it for its Enterprise
/// Edition, and a kflow binary runs every task itself.
fn worker_group(ctx: &mut Ctx, entry: &Entry) {
    ctx.push(
        Diagnostic::error(Code::Unsupported, entry.key.span, "worker groups are not supported")
            .with_help("worker groups are a Kestra Enterprise feature; a kflow binary runs every task in its own process, so remove `workerGroup`"),
    );
}

/// A plugin's `type` as written and what the registry says of it.
struct TypeRef {
    name: Option<Spanned<String>>,
    /// The registered plugin of that name.
    plugin: Option<&'static PluginDef>,
    /// For an unknown name close to a registered one: the plugin its properties are checked
    /// against, so one run reports the misspelled type and the mistakes under it.
    assumed: Option<&'static PluginDef>,
}

impl TypeRef {
    fn checked_as(&self) -> Option<&'static PluginDef> {
        self.plugin.or(self.assumed)
    }

    /// "task `x`", or "task `x` (checked as `io.kestra...`)" when the type was guessed.
    fn owner(&self, owner: String) -> String {
        match self.assumed {
            Some(p) if self.plugin.is_none() => format!("{owner} (checked as `{}`)", p.name),
            _ => owner,
        }
    }
}

/// The `type` of a task, trigger, condition or task runner, looked up in the registry.
fn plugin_type(
    ctx: &mut Ctx,
    node: &Node,
    entries: &[Entry],
    kind: PluginKind,
    what: &str,
) -> TypeRef {
    let none = TypeRef {
        name: None,
        plugin: None,
        assumed: None,
    };
    let Some(entry) = entries.iter().find(|e| e.key.text == "type") else {
        ctx.missing_key(
            entries.first().map_or(node.span, |e| e.key.span),
            &format!("this {what}"),
            "type",
        );
        return none;
    };
    let Some(name) = ctx.text(&entry.value, &format!("the {what} type")) else {
        ctx.missing_key(entry.value.span, &format!("this {what}"), "type");
        return none;
    };
    let plugin = plugins::lookup(kind, &name.value);
    let mut assumed = None;
    match plugin {
        Some(plugin) => {
            if let Some(why) = plugin.deprecated {
                ctx.push(
                    Diagnostic::warning(
                        Code::Deprecated,
                        name.span,
                        format!("`{}` is deprecated", name.value),
                    )
                    .with_help(why),
                );
            }
        }
        // Check the properties against the suggestion when it is the same class in another
        // package (`io.kestra.plugin.http.Request`), or a misspelling inside Kestra's core
        // (`core.log.Logg`), whose types the registry has all of. Elsewhere a different class
        // name may be a real plugin kflow lacks (`aws.s3.Downloads` beside `aws.s3.Download`).
        None => {
            assumed = unknown_type(ctx, &name, kind, what)
                .filter(|p| same_class(p, &name.value) || both_core(p, &name.value));
        }
    }
    TypeRef {
        name: Some(name),
        plugin,
        assumed,
    }
}

fn both_core(plugin: &PluginDef, name: &str) -> bool {
    const CORE: &str = "io.kestra.plugin.core.";
    name.starts_with(CORE) && plugin.name.starts_with(CORE)
}

fn same_class(plugin: &PluginDef, name: &str) -> bool {
    let class = |n: &str| n.rsplit('.').next().unwrap_or(n).to_ascii_lowercase();
    std::iter::once(plugin.name)
        .chain(plugin.aliases.iter().copied())
        .any(|n| class(n) == class(name))
}

/// Reports an unknown type; returns the registered plugin it most likely meant.
fn unknown_type(
    ctx: &mut Ctx,
    name: &Spanned<String>,
    kind: PluginKind,
    what: &str,
) -> Option<&'static PluginDef> {
    let message = format!("unknown {what} type `{}`", name.value);
    let mut diagnostic = if ctx.options.allow_unknown_types {
        Diagnostic::warning(Code::UnknownType, name.span, message)
    } else {
        Diagnostic::error(Code::UnknownType, name.span, message)
    };
    let best = suggest_type(&name.value, kind);
    diagnostic = match best {
        Some(best) => diagnostic.with_help(format!("did you mean `{}`?", best.name)),
        None if ctx.options.allow_unknown_types => diagnostic.with_help("its properties and outputs are not checked"),
        None => diagnostic.with_help("this type is not in kflow's plugin registry; `--allow-unknown-types` makes this a warning"),
    };
    ctx.push(diagnostic);
    best
}

/// The registered plugin closest to a misspelled type name (aliases count, the canonical name
/// is suggested).
fn suggest_type(name: &str, kind: PluginKind) -> Option<&'static PluginDef> {
    // The same unknown types recur across a folder of flows; compare each against the registry once.
    type Cache = HashMap<(PluginKind, String), Option<&'static PluginDef>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(found) = cache
        .lock()
        .ok()
        .and_then(|c| c.get(&(kind, name.to_string())).copied())
    {
        return found;
    }
    let found = closest_type(name, kind);
    if let Ok(mut c) = cache.lock() {
        c.insert((kind, name.to_string()), found);
    }
    found
}

fn closest_type(name: &str, kind: PluginKind) -> Option<&'static PluginDef> {
    let close: Vec<&str> = plugins::names(kind)
        .filter(|candidate| is_close_type_name(name, candidate))
        .collect();
    let best = did_you_mean(name, close.iter().copied()).or_else(|| close.first().copied())?;
    plugins::lookup(kind, best)
}

/// The entries with matching `pluginDefaults` merged in (the flow's own values win unless forced).
fn merged_entries<'e>(
    ctx: &Ctx,
    type_name: Option<&Spanned<String>>,
    entries: &'e [Entry],
    kind: PluginKind,
) -> Cow<'e, [Entry]> {
    match type_name {
        Some(name) => defaults::apply(&ctx.defaults, &name.value, kind, entries),
        None => Cow::Borrowed(entries),
    }
}

/// A trigger: common keys, then the registry's properties for its type.
pub fn trigger(ctx: &mut Ctx, node: &Node) -> Option<Trigger> {
    let entries = ctx.map(node, "a trigger")?;
    let type_ref = plugin_type(ctx, node, entries, PluginKind::Trigger, "trigger");
    let (type_name, plugin) = (type_ref.name.clone(), type_ref.plugin);
    let checked_as = type_ref.checked_as();
    let id = if let Some(e) = entries.iter().find(|e| e.key.text == "id") {
        ctx.id(&e.value, "trigger id", IdPattern::Task)
    } else {
        ctx.missing_key(
            type_name.as_ref().map_or(node.span, |t| t.span),
            "this trigger",
            "id",
        );
        None
    };
    let id = id.unwrap_or_else(|| Spanned::new(String::new(), node.span));
    let owner = type_ref.owner(format!("trigger `{}`", id.value));
    let merged = merged_entries(ctx, type_name.as_ref(), entries, PluginKind::Trigger);
    let mut trigger = Trigger {
        id,
        type_name: type_name.unwrap_or_else(|| Spanned::new(String::new(), node.span)),
        plugin,
        checked_as,
        disabled: false,
        labels: Vec::new(),
        properties: Vec::new(),
        span: node.span,
    };
    for entry in merged.iter() {
        let value = &entry.value;
        match entry.key.text.as_str() {
            "id" | "type" | "version" | "description" => {
                let _ = ctx.text(value, &format!("`{}`", entry.key.text));
            }
            "conditions" => {
                for condition in ctx.seq(value, "`conditions`") {
                    plugin_object(ctx, condition, PluginKind::Condition, "a condition");
                }
                // Kept for the expression checker (conditions render templates).
                trigger.properties.push(Property {
                    name: Spanned::new("conditions".to_string(), entry.key.span),
                    value: value.clone(),
                });
            }
            "disabled" => trigger.disabled = ctx.bool(value, "`disabled`"),
            "workerGroup" => worker_group(ctx, entry),
            "logLevel" | "minLogLevel" => {
                check(ctx, value, &PropType::Enum(LOG_LEVELS), false, "`logLevel`");
            }
            "labels" => trigger.labels = super::flow::labels(ctx, value),
            "stopAfter" => {
                check(
                    ctx,
                    value,
                    &PropType::List(&PropType::Enum(STATES)),
                    false,
                    "`stopAfter`",
                );
                trigger.properties.push(Property {
                    name: Spanned::new("stopAfter".to_string(), entry.key.span),
                    value: value.clone(),
                });
            }
            "logToFile" | "failOnTriggerError" => {
                ctx.bool(value, &format!("`{}`", entry.key.text));
            }
            name => match checked_as {
                None => trigger.properties.push(Property {
                    name: Spanned::new(name.to_string(), entry.key.span),
                    value: value.clone(),
                }),
                Some(plugin) => match plugin.property(name) {
                    Some(prop) => {
                        deprecated(ctx, prop, entry.key.span, name);
                        check(ctx, value, &prop.ty, prop.dynamic, &format!("`{name}`"));
                        trigger.properties.push(Property {
                            name: Spanned::new(name.to_string(), entry.key.span),
                            value: value.clone(),
                        });
                    }
                    None if !contains(node.span, entry.key.span) => {}
                    None => {
                        let known: Vec<&str> = TRIGGER_KEYS
                            .iter()
                            .copied()
                            .chain(plugin.properties.iter().map(|p| p.name))
                            .collect();
                        ctx.unknown_key(&entry.key, &owner, &known, &[]);
                    }
                },
            },
        }
    }
    if let Some(plugin) = checked_as {
        required_properties(ctx, plugin, &merged, trigger.type_name.span, &owner);
    }
    Some(trigger)
}

/// A nested object whose `type` selects its keys: a condition or a task runner.
pub fn plugin_object(ctx: &mut Ctx, node: &Node, kind: PluginKind, what: &str) {
    if let Value::Scalar(s) = &node.value {
        if is_expression(&s.text) {
            return;
        }
    }
    let Some(entries) = ctx.map(node, what) else {
        return;
    };
    let noun = match kind {
        PluginKind::Condition => "condition",
        PluginKind::TaskRunner => "task runner",
        PluginKind::Task => "task",
        PluginKind::Trigger => "trigger",
    };
    let type_ref = plugin_type(ctx, node, entries, kind, noun);
    let Some(plugin) = type_ref.checked_as() else {
        return;
    };
    let type_name = type_ref.name.clone();
    let merged = merged_entries(ctx, type_name.as_ref(), entries, kind);
    let owner = type_ref.owner(format!(
        "{noun} `{}`",
        plugin.name.rsplit('.').next().unwrap_or(plugin.name)
    ));
    let known: Vec<&str> = std::iter::once("type")
        .chain(plugin.properties.iter().map(|p| p.name))
        .collect();
    for entry in merged.iter().filter(|e| e.key.text != "type") {
        match plugin.property(&entry.key.text) {
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
            None if !contains(node.span, entry.key.span) => {}
            None => ctx.unknown_key(&entry.key, &owner, &known, &[]),
        }
    }
    let anchor = type_name.map_or(node.span, |t| t.span);
    required_properties(ctx, plugin, &merged, anchor, &owner);
}

/// `retry`: the keys depend on `type` (constant, exponential, random), as in Kestra's `AbstractRetry`.
pub fn retry(ctx: &mut Ctx, entry: &Entry) {
    let node = &entry.value;
    use crate::plugins::prop;
    static BEHAVIOR: PropType = PropType::Enum(&["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"]);
    // Durations may be templates, rendered when the retry applies (an extension of Kestra's
    // fixed durations that kflow's lowering carries to the binary).
    static CONSTANT: &[PropDef] = &[prop("interval", PropType::Duration).required()];
    static EXPONENTIAL: &[PropDef] = &[
        prop("interval", PropType::Duration).required(),
        prop("maxInterval", PropType::Duration).required(),
        prop("delayFactor", PropType::Number).not_dynamic(),
    ];
    static RANDOM: &[PropDef] = &[
        prop("minInterval", PropType::Duration).required(),
        prop("maxInterval", PropType::Duration).required(),
    ];
    let Some(entries) = ctx.map(node, "`retry`") else {
        return;
    };
    let kind = entries.iter().find(|e| e.key.text == "type");
    let specific: &[PropDef] = match kind.and_then(|e| e.value.as_text()) {
        Some("constant") => CONSTANT,
        Some("exponential") => EXPONENTIAL,
        Some("random") => RANDOM,
        Some(other) => {
            let node = &kind.map_or(node, |e| &e.value);
            check(
                ctx,
                node,
                &PropType::Enum(&["constant", "exponential", "random"]),
                false,
                "the retry `type`",
            );
            let _ = other;
            return;
        }
        None => {
            ctx.push(
                Diagnostic::error(Code::MissingKey, entry.key.span, "`retry` is missing the required key `type`")
                    .with_help("add `type: constant` (with `interval`), `type: exponential` (with `interval` and `maxInterval`) or `type: random` (with `minInterval` and `maxInterval`)"),
            );
            &[]
        }
    };
    let common: [(&str, &PropType); 4] = [
        ("maxAttempt", &PropType::Int),
        ("maxDuration", &PropType::Duration),
        ("warningOnRetry", &PropType::Bool),
        ("behavior", &BEHAVIOR),
    ];
    let known: Vec<&str> = ["type"]
        .into_iter()
        .chain(common.iter().map(|(n, _)| *n))
        .chain(specific.iter().map(|p| p.name))
        .collect();
    for entry in entries.iter().filter(|e| e.key.text != "type") {
        let name = entry.key.text.as_str();
        if let Some((_, ty)) = common.iter().find(|(n, _)| *n == name) {
            let dynamic = name == "maxDuration";
            check(ctx, &entry.value, ty, dynamic, &format!("`{name}`"));
        } else if let Some(prop) = specific.iter().find(|p| p.name == name) {
            check(
                ctx,
                &entry.value,
                &prop.ty,
                prop.dynamic,
                &format!("`{name}`"),
            );
        } else {
            let renamed: &[(&str, &str)] = &[
                (
                    "delay",
                    if specific.iter().any(|p| p.name == "minInterval") {
                        "minInterval"
                    } else {
                        "interval"
                    },
                ),
                ("maxDelay", "maxInterval"),
                ("maxAttempts", "maxAttempt"),
                ("attempts", "maxAttempt"),
                ("backoff", "delayFactor"),
            ];
            ctx.unknown_key(&entry.key, "`retry`", &known, renamed);
        }
    }
    if !specific.is_empty() {
        for prop in specific.iter().filter(|p| p.required) {
            if entries.iter().all(|e| e.key.text != prop.name) {
                ctx.missing_key(
                    kind.map_or(entry.key.span, |e| e.value.span),
                    "this retry",
                    prop.name,
                );
            }
        }
    }
    first_wait_within_max_duration(ctx, entries);
}

/// A retry whose first wait (`interval`, or `minInterval` for `random`) is longer than its
/// `maxDuration` never retries: Kestra stops at `maxDuration` before the first new attempt.
fn first_wait_within_max_duration(ctx: &mut Ctx, entries: &[Entry]) {
    let fixed = |name: &str| {
        entries
            .iter()
            .find(|e| e.key.text == name)
            .and_then(|e| Some((e, e.value.as_text()?)))
            .and_then(|(e, text)| Some((e, kflow_runtime::expr::value::parse_java_duration(text)?)))
    };
    let Some((max, max_nanos)) = fixed("maxDuration") else {
        return;
    };
    let Some((first, first_nanos)) = fixed("interval").or_else(|| fixed("minInterval")) else {
        return;
    };
    if first_nanos > max_nanos {
        ctx.push(
            Diagnostic::error(
                Code::InvalidValue,
                first.value.span,
                format!(
                    "`{}` is longer than `maxDuration`: this retry would never run",
                    first.key.text
                ),
            )
            .with_label(max.value.span, "the retry stops here")
            .with_help(format!(
                "make `maxDuration` longer than `{}`, or the wait shorter",
                first.key.text
            )),
        );
    }
}
