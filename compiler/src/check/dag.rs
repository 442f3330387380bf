//! `Dag` tasks: every `dependsOn` names a sibling in the same Dag, and the dependencies have no cycle.

use std::collections::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::model::{Flow, Task};
use crate::suggest::did_you_mean;

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    for task in flow.all_tasks() {
        if task
            .plugin
            .is_some_and(|p| p.name == "io.kestra.plugin.core.flow.Dag")
        {
            for branch in task.branches.iter().filter(|b| b.role == "tasks") {
                check_dag(&branch.tasks, out);
            }
        }
    }
}

fn check_dag(tasks: &[Task], out: &mut Vec<Diagnostic>) {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.value.as_str(), i))
        .collect();
    for task in tasks {
        for dep in &task.depends_on {
            if !index.contains_key(dep.value.as_str()) {
                let mut d = Diagnostic::error(
                    Code::UnknownReference,
                    dep.span,
                    format!(
                        "task `{}` depends on `{}`, which is not a task of this Dag",
                        task.id.value, dep.value
                    ),
                );
                if let Some(best) =
                    did_you_mean(&dep.value, tasks.iter().map(|t| t.id.value.as_str()))
                {
                    d = d.with_help(format!("did you mean `{best}`?"));
                }
                out.push(d);
            }
        }
    }
    // Depth-first search; a grey node met again closes a cycle, printed `a -> b -> a`.
    let mut color = vec![0u8; tasks.len()];
    let mut reported = false;
    for start in 0..tasks.len() {
        let mut path = Vec::new();
        if !reported && visit(start, tasks, &index, &mut color, &mut path, out) {
            reported = true;
        }
    }
}

fn visit(
    node: usize,
    tasks: &[Task],
    index: &HashMap<&str, usize>,
    color: &mut [u8],
    path: &mut Vec<usize>,
    out: &mut Vec<Diagnostic>,
) -> bool {
    match color[node] {
        2 => return false,
        1 => {
            let start = path.iter().position(|&n| n == node).unwrap_or(0);
            let mut names: Vec<&str> = path[start..]
                .iter()
                .map(|&n| tasks[n].id.value.as_str())
                .collect();
            names.push(tasks[node].id.value.as_str());
            // Point at the dependsOn entry that closes the cycle.
            let closer = &tasks[*path.last().unwrap_or(&node)];
            let span = closer
                .depends_on
                .iter()
                .find(|d| d.value == tasks[node].id.value)
                .map_or(closer.id.span, |d| d.span);
            out.push(
                Diagnostic::error(
                    Code::Cycle,
                    span,
                    format!(
                        "the Dag's dependencies form a cycle: {}",
                        names.join(" -> ")
                    ),
                )
                .with_help("remove one of these `dependsOn` entries"),
            );
            return true;
        }
        _ => {}
    }
    color[node] = 1;
    path.push(node);
    for dep in &tasks[node].depends_on {
        if let Some(&next) = index.get(dep.value.as_str()) {
            if visit(next, tasks, index, color, path, out) {
                return true;
            }
        }
    }
    path.pop();
    color[node] = 2;
    false
}
