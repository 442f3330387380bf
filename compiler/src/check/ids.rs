//! Task ids are unique across the whole flow (nested tasks, `errors`, `finally` included);
//! trigger, input and output ids are unique among their kind.

use std::collections::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::model::{Flow, Spanned};

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    let tasks = flow.all_tasks();
    unique("task", tasks.iter().map(|t| &t.id), out);
    unique("trigger", flow.triggers.iter().map(|t| &t.id), out);
    unique("input", flow.inputs.iter().map(|i| &i.id), out);
    unique("output", flow.outputs.iter().map(|o| &o.id), out);
}

fn unique<'a>(
    kind: &str,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let mut first: HashMap<&str, &Spanned<String>> = HashMap::new();
    for id in ids {
        // An empty id is a missing one, reported where it was parsed.
        if id.value.is_empty() {
            continue;
        }
        match first.get(id.value.as_str()) {
            Some(original) => out.push(
                Diagnostic::error(
                    Code::DuplicateId,
                    id.span,
                    format!("duplicate {kind} id `{}`", id.value),
                )
                .with_label(original.span, "first used here")
                .with_help(format!(
                    "{kind} ids must be unique in a flow; rename one of them"
                )),
            ),
            None => {
                first.insert(&id.value, id);
            }
        }
    }
}
