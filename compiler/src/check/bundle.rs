//! Rules between flows checked or built together (`kflowc check flows/`, `kflowc build a.yml
//! b.yml -o bundle`): two files may not define the same flow; a `Subflow`'s `inputs` must be
//! inputs the target declares, of their types, with every required one given; a Flow
//! trigger's upstream flows must exist. What a Subflow's `outputs.<task>.outputs.<id>` may read
//! is typed from the target's declared outputs by the expression checker (see
//! [`crate::expr::FlowScope`]).
//!
//! `check` knows only the files it was given: a target that is not among them may be deployed
//! elsewhere and is not an error. `build` makes one binary of its flows, so there every flow a
//! Subflow or Flow trigger names must be one of them ([`Neighbours::complete`]).

use crate::diag::{Code, Diagnostic};
use crate::model::{Flow, InputType, Property, Task};
use crate::suggest::did_you_mean;
use crate::yaml::{Node, ScalarKind};

/// What the other flows declare: enough to check what one flow says of another.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Which of the files checked together defines it.
    pub file: usize,
    pub namespace: String,
    pub id: String,
    pub inputs: Vec<InputSignature>,
    pub outputs: Vec<(String, InputType)>,
}

#[derive(Debug, Clone)]
pub struct InputSignature {
    pub id: String,
    pub ty: InputType,
    /// Required, without a default: a caller must give it.
    pub needed: bool,
}

/// The flows checked or built together.
#[derive(Debug, Default)]
pub struct Neighbours {
    pub flows: Vec<Signature>,
    /// Every flow the others may name is here (`build`): a missing one is an error.
    pub complete: bool,
}

impl Neighbours {
    /// The signatures of `flows` (with the index of their file).
    pub fn of<'a>(flows: impl IntoIterator<Item = (usize, &'a Flow)>, complete: bool) -> Self {
        let flows = flows
            .into_iter()
            .map(|(file, flow)| Signature {
                file,
                namespace: flow.namespace.value.clone(),
                id: flow.id.value.clone(),
                inputs: flow
                    .inputs
                    .iter()
                    .map(|i| InputSignature {
                        id: i.id.value.clone(),
                        ty: i.ty.value,
                        needed: i.required && i.defaults.as_ref().is_none_or(Node::is_null),
                    })
                    .collect(),
                outputs: flow
                    .outputs
                    .iter()
                    .map(|o| (o.id.value.clone(), o.ty.value))
                    .collect(),
            })
            .collect();
        Neighbours { flows, complete }
    }

    /// The flow `namespace.id`.
    pub fn find(&self, namespace: &str, id: &str) -> Option<&Signature> {
        self.flows
            .iter()
            .find(|s| s.namespace == namespace && s.id == id)
    }
}

/// The rules for `flow`, the one defined by file `file`.
pub fn check(flow: &Flow, file: usize, neighbours: &Neighbours, out: &mut Vec<Diagnostic>) {
    if neighbours.flows.is_empty() {
        return;
    }
    if let Some(first) = neighbours
        .flows
        .iter()
        .find(|s| s.file < file && s.namespace == flow.namespace.value && s.id == flow.id.value)
    {
        out.push(
            Diagnostic::error(
                Code::DuplicateFlow,
                flow.id.span,
                format!(
                    "the flow `{}.{}` is defined twice",
                    first.namespace, first.id
                ),
            )
            .with_help("a namespace and id name one flow: rename one of them"),
        );
    }
    for task in flow.all_tasks() {
        if task.plugin.is_some_and(|p| {
            matches!(
                p.name,
                "io.kestra.plugin.core.flow.Subflow" | "io.kestra.plugin.core.flow.ForEachItem"
            )
        }) {
            subflow(flow, task, neighbours, out);
        }
    }
    for trigger in &flow.triggers {
        if trigger
            .plugin
            .is_none_or(|p| p.name != "io.kestra.plugin.core.trigger.Flow")
        {
            continue;
        }
        for property in &trigger.properties {
            match property.name.value.as_str() {
                "preconditions" => {
                    let flows = property
                        .value
                        .get("flows")
                        .and_then(|e| e.value.as_seq())
                        .unwrap_or_default();
                    for upstream in flows {
                        upstream_flow(flow, upstream, neighbours, out);
                    }
                }
                "conditions" => {
                    for condition in property.value.as_seq().unwrap_or_default() {
                        let kind = condition
                            .get("type")
                            .and_then(|e| e.value.as_text())
                            .unwrap_or_default();
                        if kind.ends_with(".ExecutionFlow") {
                            upstream_flow(flow, condition, neighbours, out);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// A literal text value: `None` for a template or another shape.
fn literal(node: &Node) -> Option<&str> {
    node.as_text()
        .filter(|t| !kflow_runtime::expr::is_template(t))
}

/// The flow a `namespace`/`flowId` pair names, or the diagnostic that it is not there.
fn target<'n>(
    own: &Flow,
    namespace: &Node,
    flow_id: &Node,
    neighbours: &'n Neighbours,
    what: &str,
    starts_it: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<&'n Signature> {
    let (Some(ns), Some(id)) = (literal(namespace), literal(flow_id)) else {
        return None;
    };
    if let Some(found) = neighbours.find(ns, id) {
        return Some(found);
    }
    // The flow that names it is no candidate.
    let ids: Vec<&str> = neighbours
        .flows
        .iter()
        .filter(|s| {
            s.namespace == ns && !(s.namespace == own.namespace.value && s.id == own.id.value)
        })
        .map(|s| s.id.as_str())
        .collect();
    let close = did_you_mean(id, ids.iter().copied());
    let message = format!("{what} names the flow `{ns}.{id}`, which is not among the flows given");
    let diagnostic = match (neighbours.complete, close) {
        (true, Some(close)) => Diagnostic::error(Code::UnknownFlow, flow_id.span, message)
            .with_help(format!("did you mean `{close}`?")),
        // A Subflow would fail at run time; a Flow trigger would never fire.
        (true, None) if starts_it => Diagnostic::error(Code::UnknownFlow, flow_id.span, message)
            .with_help(
                "a binary runs the flows it was built from: give that flow's file to `kflowc build` too",
            ),
        (true, None) => Diagnostic::warning(Code::UnknownFlow, flow_id.span, message).with_help(
            "the trigger never fires in this binary: build the upstream flow's file with it",
        ),
        // `check` cannot tell a typo from a flow deployed elsewhere: a close name is a warning.
        (false, Some(close)) => Diagnostic::warning(Code::UnknownFlow, flow_id.span, message)
            .with_help(format!(
                "did you mean `{close}`? (if `{ns}.{id}` is deployed elsewhere, ignore this)"
            )),
        (false, None) => return None,
    };
    out.push(diagnostic);
    None
}

/// A `Subflow`: its target exists, and its `inputs` are the target's.
fn subflow(own: &Flow, task: &Task, neighbours: &Neighbours, out: &mut Vec<Diagnostic>) {
    let (Some(namespace), Some(flow_id)) = (task.property("namespace"), task.property("flowId"))
    else {
        return;
    };
    let what = format!("subflow task `{}`", task.id.value);
    let Some(target) = target(
        own,
        &namespace.value,
        &flow_id.value,
        neighbours,
        &what,
        true,
        out,
    ) else {
        return;
    };
    let given: &[crate::yaml::Entry] = task
        .property("inputs")
        .and_then(|p: &Property| p.value.as_map())
        .unwrap_or_default();
    for entry in given {
        let key = entry.key.text.as_str();
        let Some(input) = target.inputs.iter().find(|i| i.id == key) else {
            // A map for dotted ids (`user: {name: ...}` for `user.name`) is not checked here.
            if target
                .inputs
                .iter()
                .any(|i| i.id.starts_with(&format!("{key}.")))
            {
                continue;
            }
            let ids: Vec<&str> = target.inputs.iter().map(|i| i.id.as_str()).collect();
            let help = match did_you_mean(key, ids.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if ids.is_empty() => "it declares no inputs".to_string(),
                None => format!("its inputs: {}", ids.join(", ")),
            };
            out.push(
                Diagnostic::error(
                    Code::SubflowInput,
                    entry.key.span,
                    format!(
                        "the flow `{}.{}` has no input `{key}`",
                        target.namespace, target.id
                    ),
                )
                .with_help(help),
            );
            continue;
        };
        if let Some(problem) = wrong_literal(&entry.value, input.ty) {
            out.push(
                Diagnostic::error(
                    Code::SubflowInput,
                    entry.value.span,
                    format!(
                        "input `{key}` of `{}.{}` is {}: {problem}",
                        target.namespace,
                        target.id,
                        kflow_runtime_type_name(input.ty)
                    ),
                )
                .with_help("give a value of the input's type, or an expression"),
            );
        }
    }
    for input in target.inputs.iter().filter(|i| i.needed) {
        let given_here = given
            .iter()
            .any(|e| e.key.text == input.id || input.id.starts_with(&format!("{}.", e.key.text)));
        if !given_here {
            let span = task
                .property("inputs")
                .map_or(task.id.span, |p| p.name.span);
            out.push(
                Diagnostic::error(
                    Code::SubflowInput,
                    span,
                    format!(
                        "subflow task `{}` does not give `{}.{}` its required input `{}`",
                        task.id.value, target.namespace, target.id, input.id
                    ),
                )
                .with_help(format!("add `{}: ...` to its `inputs`", input.id)),
            );
        }
    }
}

/// Why a literal cannot be a value of an input of type `ty` (`None`: it can, or it is not a
/// literal the checker reads).
fn wrong_literal(node: &Node, ty: InputType) -> Option<String> {
    let scalar = node.as_scalar()?;
    if kflow_runtime::expr::is_template(&scalar.text) || matches!(scalar.kind, ScalarKind::Null) {
        return None;
    }
    let text = scalar.text.trim();
    match ty {
        InputType::Int if text.parse::<i64>().is_err() => {
            Some(format!("`{text}` is not a whole number"))
        }
        InputType::Float if text.parse::<f64>().is_err() => {
            Some(format!("`{text}` is not a number"))
        }
        InputType::Bool if !matches!(text, "true" | "false") => {
            Some(format!("`{text}` is not true or false"))
        }
        _ => None,
    }
}

fn kflow_runtime_type_name(ty: InputType) -> String {
    serde_json::to_value(ty)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A Flow trigger's upstream flow (`preconditions.flows[]`, an `ExecutionFlow` condition).
fn upstream_flow(own: &Flow, node: &Node, neighbours: &Neighbours, out: &mut Vec<Diagnostic>) {
    let (Some(namespace), Some(flow_id)) = (node.get("namespace"), node.get("flowId")) else {
        return;
    };
    target(
        own,
        &namespace.value,
        &flow_id.value,
        neighbours,
        "this Flow trigger",
        false,
        out,
    );
}
