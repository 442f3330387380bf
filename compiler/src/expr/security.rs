//! Script injection: a value anyone can set (a free-text input, a webhook's body, headers or
//! query) printed straight into a shell command or a script's code lets whoever starts the flow
//! run their own commands. Kestra has quoting filters for exactly this; we ask for them.

use kflow_runtime::expr::ast::{Expr, ExprKind, Node, Template};
use kflow_runtime::expr::walk;

use crate::diag::{Code, Severity};
use crate::model::{InputType, Property, Task};

use super::scope::FlowScope;
use super::types::Finding;

/// Filters after which a printed value is quoted, encoded or no longer free text.
const NEUTRALISING_FILTERS: &[&str] = &[
    "escapeChar",
    "toJson",
    "json",
    "number",
    "urlencode",
    "base64encode",
    "slugify",
    "sha1",
    "sha256",
    "sha512",
    "md5",
    "length",
    "abs",
    "date",
    "timestamp",
    "timestampMicro",
    "timestampNano",
    "keys",
    "startsWith",
    "endsWith",
];

enum Language {
    Shell,
    /// Python, Node.js, R, …: `toJson` gives a valid string literal.
    Code,
}

pub fn check(
    scope: &FlowScope<'_>,
    task: &Task,
    property: &Property,
    template: &Template,
    findings: &mut Vec<Finding>,
) {
    let Some(plugin) = task.checked_as else {
        return;
    };
    let is_script = plugin.name.starts_with("io.kestra.plugin.scripts.")
        || plugin.name.starts_with("io.kestra.core.tasks.scripts.");
    if !is_script {
        return;
    }
    let language = match property.name.value.as_str() {
        "commands" | "beforeCommands" => Language::Shell,
        "script" if plugin.name.contains(".shell.") => Language::Shell,
        "script" => Language::Code,
        _ => return,
    };
    let mut printed = Vec::new();
    prints(&template.nodes, &mut printed);
    for expr in printed {
        if neutralised(expr) {
            continue;
        }
        let mut reported = Vec::new();
        walk::expr(expr, &mut |e| {
            // `trigger.body.name` and its part `trigger.body` are one finding.
            if reported.contains(&e.span.start) {
                return;
            }
            if let Some(source) = tainted(scope, e) {
                reported.push(e.span.start);
                let (fix, why) = match language {
                    Language::Shell => (
                        "put it in single quotes and escape them: `'{{ … | escapeChar('shell') }}'`, or pass it through `env:`",
                        "shell command",
                    ),
                    Language::Code => (
                        "print it as a string literal: `{{ … | toJson }}`, or pass it through `env:`",
                        "script",
                    ),
                };
                findings.push(Finding {
                    code: Code::ScriptInjection,
                    severity: Severity::Warning,
                    span: e.span,
                    message: format!("{source} is printed into a {why} unquoted: whoever starts the flow can run their own code"),
                    help: Some(fix.to_string()),
                });
            }
        });
    }
}

fn prints<'t>(nodes: &'t [Node], out: &mut Vec<&'t Expr>) {
    kflow_runtime::expr::deep(|| prints_at(nodes, out));
}

fn prints_at<'t>(nodes: &'t [Node], out: &mut Vec<&'t Expr>) {
    for node in nodes {
        match node {
            Node::Print(expr) => out.push(expr),
            Node::If {
                branches,
                otherwise,
            } => {
                for (_, body) in branches {
                    prints(body, out);
                }
                if let Some(body) = otherwise {
                    prints(body, out);
                }
            }
            Node::For {
                body, otherwise, ..
            } => {
                prints(body, out);
                if let Some(body) = otherwise {
                    prints(body, out);
                }
            }
            Node::Block { body, .. } => prints(body, out),
            Node::FilterBlock { .. } | Node::Text(_) | Node::Set { .. } | Node::Macro { .. } => {}
        }
    }
}

fn neutralised(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Filter(_, call) => NEUTRALISING_FILTERS.contains(&call.name.name.as_str()),
        ExprKind::Test { .. } | ExprKind::Literal(_) => true,
        ExprKind::Binary(op, ..) => !matches!(
            op,
            kflow_runtime::expr::ast::BinaryOp::Concat
                | kflow_runtime::expr::ast::BinaryOp::NullCoalesce
                | kflow_runtime::expr::ast::BinaryOp::UndefinedCoalesce
                | kflow_runtime::expr::ast::BinaryOp::Add
        ),
        _ => false,
    }
}

/// "input `name`" or "the webhook body" when `e` reads a value anyone can set.
fn tainted(scope: &FlowScope<'_>, e: &Expr) -> Option<String> {
    let path = e.path()?;
    match path.as_slice() {
        [("inputs", _), (id, _), ..] if path.len() == 2 => {
            let input = scope.flow.inputs.iter().find(|i| i.id.value == *id)?;
            let free_text = matches!(
                input.ty.value,
                InputType::String
                    | InputType::Email
                    | InputType::Uri
                    | InputType::Json
                    | InputType::Yaml
                    | InputType::Array
            );
            free_text.then(|| format!("input `{id}`"))
        }
        [("trigger", _), (part @ ("body" | "headers" | "parameters"), _), ..] => {
            let webhook = scope
                .flow
                .triggers
                .iter()
                .any(|t| t.checked_as.is_some_and(|p| p.name.ends_with(".Webhook")));
            (webhook && matches!(path.len(), 2 | 3)).then(|| format!("the webhook's `{part}`"))
        }
        _ => None,
    }
}
