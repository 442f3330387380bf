//! A flow that starts itself as a subflow would recurse without end.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;

const SUBFLOW_TYPES: &[&str] = &[
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.plugin.core.flow.ForEachItem",
];

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    for task in flow.all_tasks() {
        if !task.plugin.is_some_and(|p| SUBFLOW_TYPES.contains(&p.name)) {
            continue;
        }
        let (Some(flow_id), Some(namespace)) =
            (task.property("flowId"), task.property("namespace"))
        else {
            continue;
        };
        if flow_id.value.as_text() == Some(flow.id.value.as_str())
            && namespace.value.as_text() == Some(flow.namespace.value.as_str())
        {
            out.push(
                Diagnostic::error(
                    Code::RecursiveSubflow,
                    flow_id.value.span,
                    format!(
                        "task `{}` starts this same flow as a subflow",
                        task.id.value
                    ),
                )
                .with_label(flow.id.span, "this flow")
                .with_help("a flow cannot call itself; it would start executions without end"),
            );
        }
    }
}
