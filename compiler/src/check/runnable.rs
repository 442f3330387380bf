//! What this version's runtime can do with the flow: properties it would ignore (always a
//! warning), and task types it cannot run (errors for `build` and `check --runnable`).

use crate::diag::{Code, Diagnostic};
use crate::lower::is_runnable;
use crate::model::{Flow, Task};

/// A warning at each property that the checker accepts but the runtime does not act on yet.
pub fn check(flow: &Flow, diagnostics: &mut Vec<Diagnostic>) {
    for task in flow.all_tasks() {
        let Some(definition) = task.plugin.filter(|d| d.runnable) else {
            continue;
        };
        for property in &task.properties {
            if definition
                .property(&property.name.value)
                .is_some_and(|p| p.not_run_yet)
            {
                diagnostics.push(
                    Diagnostic::warning(
                        Code::Ignored,
                        property.name.span,
                        format!(
                            "`{}` of `{}` is not acted on by this version of kflow: the binary ignores it",
                            property.name.value, task.id.value
                        ),
                    )
                    .with_help("remove it, or accept that it has no effect yet"),
                );
            }
        }
    }
}

/// A warning at the `type` of each enabled trigger that `serve` would not run.
pub fn triggers(flow: &Flow, diagnostics: &mut Vec<Diagnostic>) {
    for trigger in flow.triggers.iter().filter(|t| !t.disabled) {
        if let Some(why) = crate::lower::not_served(trigger) {
            diagnostics.push(
                Diagnostic::warning(
                    Code::Ignored,
                    trigger.type_name.span,
                    format!("trigger `{}`: {why}", trigger.id.value),
                )
                .with_help(
                    "`run` still starts executions by hand; the trigger itself does nothing yet",
                ),
            );
        }
        flow_trigger_states(trigger, diagnostics);
    }
}

/// The states a Flow trigger fires on: an upstream execution's end, and in `states` also
/// RUNNING and PAUSED (the states kflow records on the way). Any other (CREATED, QUEUED,
/// RESTARTED, ...) never fires it, nor a state not ended in a precondition (preconditions are
/// met by ended executions).
fn flow_trigger_states(trigger: &crate::model::Trigger, diagnostics: &mut Vec<Diagnostic>) {
    const ENDED: &[&str] = &[
        "SUCCESS",
        "WARNING",
        "FAILED",
        "KILLED",
        "CANCELLED",
        "SKIPPED",
        "RETRIED",
    ];
    if trigger
        .plugin
        .is_none_or(|p| p.name != "io.kestra.plugin.core.trigger.Flow")
    {
        return;
    }
    const ON_THE_WAY: &[&str] = &["RUNNING", "PAUSED"];
    let mut lists: Vec<(&crate::yaml::Node, bool)> = Vec::new();
    for property in &trigger.properties {
        match property.name.value.as_str() {
            "states" => lists.push((&property.value, true)),
            "preconditions" => lists.extend(
                property
                    .value
                    .get("flows")
                    .and_then(|e| e.value.as_seq())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|f| f.get("states").map(|e| (&e.value, false))),
            ),
            _ => {}
        }
    }
    let has_preconditions = trigger
        .properties
        .iter()
        .any(|p| p.name.value == "preconditions");
    for (list, own) in lists {
        let Some(states) = list.as_seq() else {
            continue;
        };
        // The trigger's own `states` are also what its preconditions' flows default to.
        let on_the_way_fires = own && !has_preconditions;
        for state in states {
            let Some(name) = state.as_text() else {
                continue;
            };
            if ENDED.contains(&name) || (on_the_way_fires && ON_THE_WAY.contains(&name)) {
                continue;
            }
            let why = if ON_THE_WAY.contains(&name) {
                "preconditions are met by ended executions, so it never matches"
            } else {
                "kflow's Flow triggers see an upstream execution go RUNNING, PAUSED and end, so it never matches"
            };
            diagnostics.push(
                Diagnostic::warning(
                    Code::Ignored,
                    state.span,
                    format!("trigger `{}`: `{name}`: {why}", trigger.id.value),
                )
                .with_help(
                    "list end states (SUCCESS, WARNING, FAILED, KILLED, CANCELLED), or RUNNING and PAUSED in a trigger without preconditions",
                ),
            );
        }
    }
}

/// An error at the `type` of each enabled task whose type the runtime cannot run: exactly what
/// `kflowc build` refuses.
pub fn not_runnable(flow: &Flow) -> Vec<Diagnostic> {
    let mut refused: Vec<&Task> = Vec::new();
    // Listeners are not run (warned about), so their types do not stop a build.
    for task in flow.executed_tasks() {
        enabled(task, &mut |t| {
            if !is_runnable(t.plugin) {
                refused.push(t);
            }
        });
    }
    let mut types: Vec<&str> = refused.iter().map(|t| type_name(t)).collect();
    types.sort_unstable();
    types.dedup();
    let listed = types
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    refused
        .iter()
        .map(|task| {
            let name = type_name(task);
            let known = if task.plugin.is_some() {
                "is known to the checker, but not runnable in this version of kflow"
            } else {
                "is unknown, so this version of kflow cannot run it"
            };
            Diagnostic::error(
                Code::NotRunnable,
                task.type_name.span,
                format!("task type `{name}` {known}"),
            )
            .with_help(format!(
                "this flow's types that cannot run yet: {listed}; `kflowc check` still checks them, `kflowc check --runnable` lists them without building"
            ))
        })
        .collect()
}

fn type_name(task: &Task) -> &str {
    task.plugin
        .map_or(task.type_name.value.as_str(), |p| p.name)
}

/// The task and its children, skipping disabled tasks (they are not part of the execution).
fn enabled<'a>(task: &'a Task, visit: &mut dyn FnMut(&'a Task)) {
    if task.disabled {
        return;
    }
    visit(task);
    for branch in &task.branches {
        for child in &branch.tasks {
            enabled(child, visit);
        }
    }
}
