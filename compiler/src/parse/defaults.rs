//! `pluginDefaults`: values merged into every plugin (task, trigger, condition, task runner)
//! whose type equals or starts with the default's `type`, before the plugin is typed.
//!
//! Merge rules follow Kestra's `PluginDefaultService`: the flow's own values win unless the
//! default is `forced`; mappings merge key by key; lists are concatenated (defaults first).

use std::borrow::Cow;

use super::task::{TASK_KEYS, TRIGGER_KEYS};
use super::Ctx;
use crate::plugins::{self, PluginKind};
use crate::yaml::{Entry, Node, Value};

#[derive(Debug, Clone)]
pub struct PluginDefault {
    pub type_name: String,
    pub forced: bool,
    pub values: Vec<Entry>,
}

/// Reads `pluginDefaults` (or the deprecated `taskDefaults`) into `ctx.defaults`.
pub fn read(ctx: &mut Ctx, node: &Node) {
    for item in ctx.seq(node, "`pluginDefaults`") {
        let Some(entries) = ctx.map(item, "a plugin default") else {
            continue;
        };
        let mut default = PluginDefault {
            type_name: String::new(),
            forced: false,
            values: Vec::new(),
        };
        for entry in entries {
            match entry.key.text.as_str() {
                "type" => {
                    default.type_name = ctx
                        .text(&entry.value, "`type`")
                        .map(|s| s.value)
                        .unwrap_or_default();
                }
                "forced" => default.forced = ctx.bool(&entry.value, "`forced`"),
                "values" => {
                    if !entry.value.is_null() {
                        default.values = ctx
                            .map(&entry.value, "`values`")
                            .map(<[Entry]>::to_vec)
                            .unwrap_or_default();
                    }
                }
                _ => ctx.unknown_key(
                    &entry.key,
                    "a plugin default",
                    &["type", "forced", "values"],
                    &[],
                ),
            }
        }
        check_keys(ctx, &default);
        if entries.iter().all(|e| e.key.text != "type") {
            ctx.missing_key(item.span, "this plugin default", "type");
        } else if !default.type_name.is_empty() {
            ctx.defaults.push(default);
        }
    }
}

/// Kestra's `PluginDefaultValidator`: when `type` names one plugin (not a package prefix),
/// every key of `values` must be one of its properties.
fn check_keys(ctx: &mut Ctx, default: &PluginDefault) {
    let kinds = [
        PluginKind::Task,
        PluginKind::Trigger,
        PluginKind::Condition,
        PluginKind::TaskRunner,
    ];
    let Some(plugin) = kinds
        .into_iter()
        .find_map(|k| plugins::lookup(k, &default.type_name))
    else {
        return;
    };
    let common: &[&str] = match plugin.kind {
        PluginKind::Task => TASK_KEYS,
        PluginKind::Trigger => TRIGGER_KEYS,
        PluginKind::Condition | PluginKind::TaskRunner => &["type"],
    };
    let known: Vec<&str> = common
        .iter()
        .copied()
        .chain(plugin.properties.iter().map(|p| p.name))
        .collect();
    for entry in &default.values {
        if !known.contains(&entry.key.text.as_str()) {
            let owner = format!("the defaults of `{}`", default.type_name);
            ctx.unknown_key(&entry.key, &owner, &known, &[]);
        }
    }
}

/// `entries` of a plugin of type `type_name` with the matching defaults merged in.
pub fn apply<'e>(
    defaults: &[PluginDefault],
    type_name: &str,
    kind: PluginKind,
    entries: &'e [Entry],
) -> Cow<'e, [Entry]> {
    let canonical = |name: &str| plugins::lookup(kind, name).map(|p| p.name);
    let matches = |d: &&PluginDefault| {
        type_name == d.type_name
            || type_name.starts_with(&d.type_name)
            || canonical(type_name).is_some_and(|c| Some(c) == canonical(&d.type_name))
    };
    if !defaults.iter().any(|d| matches(&d)) {
        return Cow::Borrowed(entries);
    }
    let mut result = entries.to_vec();
    for default in defaults.iter().filter(|d| !d.forced).filter(matches) {
        result = merge(&default.values, &result);
    }
    for default in defaults.iter().rev().filter(|d| d.forced).filter(matches) {
        result = merge(&result, &default.values);
    }
    Cow::Owned(result)
}

/// Kestra's `MapUtils.merge(a, b)`: `b` wins, mappings merge, lists concatenate.
fn merge(a: &[Entry], b: &[Entry]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(a.len() + b.len());
    for entry in b {
        let merged = match a.iter().find(|e| e.key.text == entry.key.text) {
            None => entry.clone(),
            Some(original) => Entry {
                key: entry.key.clone(),
                value: merge_values(&original.value, &entry.value),
            },
        };
        out.push(merged);
    }
    for entry in a {
        if b.iter().all(|e| e.key.text != entry.key.text) {
            out.push(entry.clone());
        }
    }
    out
}

fn merge_values(a: &Node, b: &Node) -> Node {
    match (&a.value, &b.value) {
        (_, _) if b.is_null() => a.clone(),
        (Value::Map(x), Value::Map(y)) => Node {
            span: b.span,
            value: Value::Map(merge(x, y)),
        },
        (Value::Seq(x), Value::Seq(y)) => Node {
            span: b.span,
            value: Value::Seq(x.iter().chain(y).cloned().collect()),
        },
        _ => b.clone(),
    }
}
