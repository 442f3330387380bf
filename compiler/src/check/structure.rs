//! What may go where: `WorkingDirectory` runs only runnable tasks; a Switch needs a case or defaults.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;

const WORKING_DIRECTORY: &str = "io.kestra.plugin.core.flow.WorkingDirectory";
const SWITCH: &str = "io.kestra.plugin.core.flow.Switch";

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    for task in flow.all_tasks() {
        let Some(plugin) = task.plugin else { continue };
        if plugin.name == WORKING_DIRECTORY {
            for child in task
                .branches
                .iter()
                .filter(|b| b.role == "tasks")
                .flat_map(|b| &b.tasks)
            {
                if child.is_flowable() {
                    out.push(
                        Diagnostic::error(Code::InvalidChild, child.type_name.span, format!("`{}` cannot run inside the WorkingDirectory `{}`", child.id.value, task.id.value))
                            .with_label(task.id.span, "the WorkingDirectory")
                            .with_help("a WorkingDirectory runs tasks one after another in one folder; flowable tasks (Pause, Parallel, If, ...) go outside it"),
                    );
                }
            }
        }
        if plugin.name == SWITCH {
            let has_case = task.branches.iter().any(|b| {
                (b.role.starts_with("cases.") || b.role == "defaults") && !b.tasks.is_empty()
            });
            if !has_case {
                let span = task
                    .branches
                    .iter()
                    .find(|b| b.role.starts_with("cases."))
                    .map_or(task.id.span, |b| b.span);
                out.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        span,
                        format!(
                            "the Switch `{}` has no task in any case nor in `defaults`",
                            task.id.value
                        ),
                    )
                    .with_help("add tasks under `cases.<value>` or `defaults`"),
                );
            }
        }
    }
}
