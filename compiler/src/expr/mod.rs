//! The `expr` stage: every template the flow renders is parsed with the runtime's Pebble parser
//! (the same one the binaries evaluate with) and type-checked against the typed context of its
//! position. Findings point at the exact token inside the YAML string.

pub(crate) mod offsets;
mod scope;
mod security;
mod types;

use kflow_runtime::expr::{self as pebble, ast};

use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{Flow, Property};
use crate::plugins::PluginDef;
use crate::source::{SourceFile, Span};
use crate::yaml::{Node, Value as YamlValue};

pub use scope::{FlowScope, Site};
pub use types::{Finding, Ty};

/// Check every rendered template of `flow`.
pub fn check(flow: &Flow, source: &SourceFile) -> Vec<Diagnostic> {
    check_with(flow, source, &crate::check::bundle::Neighbours::default())
}

/// [`check`], with the flows checked together: a Subflow's `outputs` are typed from what its
/// target declares.
pub fn check_with(
    flow: &Flow,
    source: &SourceFile,
    neighbours: &crate::check::bundle::Neighbours,
) -> Vec<Diagnostic> {
    let scope = FlowScope::new(flow).with_neighbours(neighbours);
    let mut run = Run {
        scope: &scope,
        source,
        diagnostics: Vec::new(),
    };
    for index in 0..scope.tasks.len() {
        let task = scope.tasks[index].task;
        // Everything of the task that may hold a template.
        let templates = || {
            task.properties
                .iter()
                .map(|p| &p.value)
                .chain(task.run_if.iter())
                .chain(task.timeout.iter())
                .chain(task.retry.iter())
        };
        if !templates().any(has_template) {
            continue;
        }
        // Building a position's context costs a walk over the flow: only where it is needed,
        // and `outputs` only for templates that mention it.
        let reads_outputs = templates().any(|n| mentions(n, "outputs"));
        let root = scope.root_reading(Site::Task(index), reads_outputs);
        for property in &task.properties {
            if !rendered(task.checked_as, property) || renders_elsewhere(task, property) {
                continue;
            }
            if is_loop_condition(task, property) {
                let root = scope.root(Site::LoopCondition(index));
                run.node(&property.value, &root, Some((task, property)));
            } else {
                run.node(&property.value, &root, Some((task, property)));
            }
        }
        for node in [&task.run_if, &task.timeout, &task.retry]
            .into_iter()
            .flatten()
        {
            run.node(node, &root, None);
        }
    }
    if !flow.outputs.is_empty() {
        let root = scope.root(Site::FlowOutput);
        for output in &flow.outputs {
            run.node(&output.value, &root, None);
        }
    }
    for (index, trigger) in flow.triggers.iter().enumerate() {
        let root = scope.root(Site::Trigger(index));
        let conditions_root = scope.root(Site::TriggerCondition(index));
        for property in &trigger.properties {
            let is_condition =
                matches!(property.name.value.as_str(), "conditions" | "preconditions");
            let root = if is_condition {
                &conditions_root
            } else {
                &root
            };
            if is_condition || rendered(trigger.checked_as, property) {
                run.node(&property.value, root, None);
            }
        }
    }
    // SLA assertions render at the end of the execution, as the flow's outputs do.
    if let Some(sla) = flow.sla.as_ref().filter(|s| has_template(s)) {
        let root = scope.root(Site::FlowOutput);
        run.node(sla, &root, None);
    }
    // A flow-level `retry` renders in each task it applies to; checked once, with what every
    // task sees.
    if let Some(retry) = flow.retry.as_ref().filter(|r| has_template(r)) {
        let root = scope.root(Site::FlowOutput);
        run.node(retry, &root, None);
    }
    if let Some(variables) = &flow.variables {
        let root = scope.root(Site::Variables);
        run.node(variables, &root, None);
    }
    run.diagnostics
}

/// Whether a string inside `node` contains `word` (an over-approximation of "a template here
/// reads the variable `word`").
fn mentions(node: &Node, word: &str) -> bool {
    match &node.value {
        YamlValue::Scalar(s) => s.text.contains(word),
        YamlValue::Seq(items) => items.iter().any(|n| mentions(n, word)),
        YamlValue::Map(entries) => entries.iter().any(|e| mentions(&e.value, word)),
    }
}

fn has_template(node: &Node) -> bool {
    match &node.value {
        YamlValue::Scalar(s) => is_template(&s.text),
        YamlValue::Seq(items) => items.iter().any(has_template),
        YamlValue::Map(entries) => entries.iter().any(|e| has_template(&e.value)),
    }
}

use kflow_runtime::expr::is_template;

/// A Subflow's `outputs` are rendered in the subflow's execution, not in this flow.
fn renders_elsewhere(task: &crate::model::Task, property: &Property) -> bool {
    property.name.value == "outputs"
        && task
            .checked_as
            .is_some_and(|p| p.name.ends_with(".flow.Subflow") || p.name.ends_with(".flows.Flow"))
}

fn is_loop_condition(task: &crate::model::Task, property: &Property) -> bool {
    property.name.value == "condition"
        && task
            .checked_as
            .is_some_and(|p| p.name.ends_with(".flow.LoopUntil"))
}

/// Whether Kestra renders this property: the registry says so; unknown types are assumed to.
fn rendered(plugin: Option<&'static PluginDef>, property: &Property) -> bool {
    plugin
        .and_then(|p| p.property(&property.name.value))
        .is_none_or(|p| p.dynamic)
}

struct Run<'s, 'f> {
    scope: &'s FlowScope<'f>,
    source: &'s SourceFile,
    diagnostics: Vec<Diagnostic>,
}

impl Run<'_, '_> {
    /// Check every string scalar under `node` that contains a template.
    fn node(&mut self, node: &Node, root: &Ty, property: Option<(&crate::model::Task, &Property)>) {
        match &node.value {
            YamlValue::Scalar(scalar) => {
                let text = &scalar.text;
                if is_template(text) {
                    self.template(node, text, scalar.style, root, property);
                }
            }
            YamlValue::Seq(items) => {
                for item in items {
                    self.node(item, root, property);
                }
            }
            YamlValue::Map(entries) => {
                for entry in entries {
                    self.node(&entry.value, root, property);
                }
            }
        }
    }

    fn template(
        &mut self,
        node: &Node,
        text: &str,
        style: crate::yaml::Style,
        root: &Ty,
        property: Option<(&crate::model::Task, &Property)>,
    ) {
        let mut findings = Vec::new();
        match pebble::parse(text) {
            Err(error) => findings.push(Finding {
                code: Code::ExpressionSyntax,
                severity: Severity::Error,
                span: error.span,
                message: format!("expression syntax: {}", error.message),
                help: error.help,
            }),
            Ok(template) => {
                let mut checker = types::Checker::new(root);
                checker.template(&template);
                findings = checker.findings;
                if let Some((task, property)) = property {
                    security::check(self.scope, task, property, &template, &mut findings);
                }
            }
        }
        if findings.is_empty() {
            return;
        }
        let map =
            offsets::decoded_to_file(self.source.text(), node.span.start as usize, style, text);
        for finding in findings {
            let span = file_span(self.source.text(), &map, finding.span);
            let mut diagnostic = match finding.severity {
                Severity::Error => Diagnostic::error(finding.code, span, finding.message),
                Severity::Warning => Diagnostic::warning(finding.code, span, finding.message),
            };
            diagnostic.help = finding.help;
            self.diagnostics.push(diagnostic);
        }
    }
}

fn file_span(text: &str, map: &[usize], span: ast::Span) -> Span {
    let last = map.len().saturating_sub(1);
    let start = map[span.start.min(last)];
    let end = if span.end > span.start {
        let at = map[(span.end - 1).min(last)];
        at + text
            .get(at..)
            .and_then(|t| t.chars().next())
            .map_or(1, char::len_utf8)
    } else {
        start
    };
    Span::new(start, end.max(start))
}
