//! Diagnostics: the one type every stage reports with, rendered only at the edge (the CLI).

mod render;

pub use render::{
    render_diagnostic, render_github, render_human, render_json, render_sarif, Color, FileReport,
};

use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A secondary location with its own message ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// The exact token at fault.
    pub span: Span,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            span,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $summary:literal;)*) => {
        /// Every kind of diagnostic, with a stable code. `docs/diagnostics.md` has one section per code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code printed in every format, e.g. `KF101`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name, e.g. `unknown-key`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// One sentence on what the rule catches (SARIF rule descriptions, docs).
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    // The file itself.
    Io = "KF001", "unreadable-file", "The file could not be read or is not UTF-8 text.";
    YamlSyntax = "KF002", "yaml-syntax", "The file is not valid YAML.";
    DuplicateKey = "KF003", "duplicate-key", "A mapping has the same key twice.";
    UnsupportedYaml = "KF004", "unsupported-yaml", "A YAML feature a flow cannot use (several documents, custom tags, complex keys, alias bombs).";
    // The flow's structure.
    UnknownKey = "KF101", "unknown-key", "A key that the flow, task, trigger or input does not have.";
    MissingKey = "KF102", "missing-key", "A required key is missing.";
    WrongType = "KF103", "wrong-type", "A value has the wrong shape (a list where a string is expected, ...).";
    InvalidValue = "KF104", "invalid-value", "A value outside what the key accepts (an unknown enum constant, a bad duration, an empty list).";
    InvalidId = "KF105", "invalid-id", "An id or namespace that does not match Kestra's pattern.";
    DuplicateId = "KF106", "duplicate-id", "Two tasks, triggers, inputs or outputs share one id.";
    UnknownType = "KF107", "unknown-type", "A task, trigger, condition or task-runner type that is not in the plugin registry.";
    Deprecated = "KF108", "deprecated", "A deprecated key, type or input property; the help names the replacement.";
    ReservedLabel = "KF109", "reserved-label", "A label in the `system.` prefix, which Kestra reserves.";
    Unsupported = "KF110", "unsupported", "A Kestra feature this compiler does not support.";
    NotRunnable = "KF111", "not-runnable", "A task type the checker knows but this version's runtime cannot run: `build` refuses it, `check --runnable` reports it.";
    Ignored = "KF112", "ignored", "A property the checker accepts but this version's runtime does not act on: the binary would ignore it.";
    // References between parts of the flow.
    UnknownReference = "KF201", "unknown-reference", "A reference to a task or input that does not exist.";
    Cycle = "KF202", "cycle", "Dependencies that form a cycle.";
    RecursiveSubflow = "KF203", "recursive-subflow", "A flow that starts itself as a subflow.";
    InvalidChild = "KF204", "invalid-child", "A task that cannot be placed inside its parent.";
    UnknownFlow = "KF205", "unknown-flow", "A Subflow or Flow trigger names a flow that is not among the flows checked or built together.";
    SubflowInput = "KF206", "subflow-input", "A Subflow's inputs do not match the inputs its target flow declares.";
    DuplicateFlow = "KF207", "duplicate-flow", "Two files define the same flow (namespace and id).";
    // Inputs.
    InvalidInput = "KF301", "invalid-input", "An input declaration Kestra rejects (bad validator, defaults of the wrong type, ...).";
    // Expressions.
    ExpressionSyntax = "KF401", "expression-syntax", "A template that does not parse: an unclosed `{{`, a stray operator, an unknown tag.";
    UnknownVariable = "KF402", "unknown-variable", "A top-level name that does not exist at this position (`namespace` instead of `flow.namespace`).";
    UnknownAttribute = "KF403", "unknown-attribute", "A field the value does not have: an undeclared input, a task or output that does not exist.";
    Unavailable = "KF404", "unavailable", "A value that certainly does not exist here: a task that runs later, in parallel or in another branch; `taskrun.value` outside a loop.";
    MaybeUnavailable = "KF405", "maybe-unavailable", "A task output that exists only on some paths (an `If` branch, a `runIf`).";
    UnknownFilter = "KF406", "unknown-filter", "A filter, function or test that Kestra does not have.";
    WrongArguments = "KF407", "wrong-arguments", "Too many, unknown, missing or wrongly typed arguments to a filter, function or test.";
    TypeMismatch = "KF408", "type-mismatch", "An operation the value's type cannot support (an attribute of a string, arithmetic on a list).";
    ScriptInjection = "KF409", "script-injection", "A value anyone can set printed unquoted into a shell command or script.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        codes.sort_unstable();
        names.sort_unstable();
        codes.dedup();
        names.dedup();
        assert_eq!(codes.len(), Code::ALL.len());
        assert_eq!(names.len(), Code::ALL.len());
    }
}

#[cfg(test)]
mod docs_tests {
    use super::Code;

    /// `docs/diagnostics.md` has a section for every code, so a new code cannot go undocumented.
    #[test]
    fn every_code_is_documented() {
        let docs = include_str!("../../../docs/diagnostics.md");
        for code in Code::ALL {
            let heading = format!("## {} {}", code.as_str(), code.name());
            assert!(
                docs.contains(&heading),
                "docs/diagnostics.md lacks `{heading}`"
            );
        }
    }
}
