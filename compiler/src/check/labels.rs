//! Labels in the `system.` prefix are Kestra's own (correlation ids, restarts, ...); a flow may
//! set only `system.readOnly`.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    for label in &flow.labels {
        if label.key.value.starts_with("system.") && label.key.value != "system.readOnly" {
            out.push(
                Diagnostic::error(Code::ReservedLabel, label.key.span, format!("the label `{}` uses the reserved prefix `system.`", label.key.value))
                    .with_help("labels starting with `system.` are set by the orchestrator; choose another key"),
            );
        }
    }
}
