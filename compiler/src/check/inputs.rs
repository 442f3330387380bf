//! `dependsOn.inputs` names inputs that exist, declared before this one.

use crate::diag::{Code, Diagnostic};
use crate::model::Flow;
use crate::suggest::did_you_mean;

pub fn check(flow: &Flow, out: &mut Vec<Diagnostic>) {
    for (index, input) in flow.inputs.iter().enumerate() {
        for dep in &input.depends_on {
            match flow.inputs.iter().position(|i| i.id.value == dep.value) {
                Some(position) if position < index => {}
                Some(_) => out.push(
                    Diagnostic::error(
                        Code::UnknownReference,
                        dep.span,
                        format!(
                            "input `{}` depends on `{}`, which is declared after it",
                            input.id.value, dep.value
                        ),
                    )
                    .with_help("declare the inputs in dependency order"),
                ),
                None => {
                    let mut d = Diagnostic::error(
                        Code::UnknownReference,
                        dep.span,
                        format!(
                            "input `{}` depends on an unknown input `{}`",
                            input.id.value, dep.value
                        ),
                    );
                    if let Some(best) =
                        did_you_mean(&dep.value, flow.inputs.iter().map(|i| i.id.value.as_str()))
                    {
                        d = d.with_help(format!("did you mean `{best}`?"));
                    }
                    out.push(d);
                }
            }
        }
    }
}
