//! The typed flow: plain structs that later stages (check, expressions, plan, codegen) read.
//!
//! Type-specific task properties stay YAML nodes checked against the plugin registry's shapes:
//! the registry says what each one is, and the expression checker and codegen read them by name.

use crate::plugins::PluginDef;
use crate::source::Span;
use crate::yaml::Node;

/// A value with the span of the YAML token it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: Spanned<String>,
    pub namespace: Spanned<String>,
    pub description: Option<Spanned<String>>,
    pub labels: Vec<Label>,
    pub inputs: Vec<Input>,
    /// `variables`: free-form values readable as `vars.*`.
    pub variables: Option<Node>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub after_execution: Vec<Task>,
    /// The deprecated `listeners`, each a list of tasks.
    pub listeners: Vec<Branch>,
    pub outputs: Vec<FlowOutput>,
    pub triggers: Vec<Trigger>,
    pub concurrency: Option<Node>,
    /// `sla`: the flow's service-level agreements, checked items.
    pub sla: Option<Node>,
    pub retry: Option<Node>,
    pub disabled: bool,
    pub span: Span,
}

impl Flow {
    /// The top-level task lists an execution runs: `tasks`, `errors`, `finally`,
    /// `afterExecution`.
    pub fn executed_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
    }

    /// All top-level task lists, in document order: the executed ones, then the deprecated
    /// `listeners` (checked, not run).
    pub fn top_level_tasks(&self) -> impl Iterator<Item = &Task> {
        self.executed_tasks()
            .chain(self.listeners.iter().flat_map(|l| &l.tasks))
    }

    /// Every task of the flow, nested ones included, in document order.
    pub fn all_tasks(&self) -> Vec<&Task> {
        let mut out = Vec::new();
        for task in self.top_level_tasks() {
            task.walk(&mut |t| out.push(t));
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Label {
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: Spanned<String>,
    pub type_name: Spanned<String>,
    /// `None` for a type the registry does not know (only with `--allow-unknown-types`).
    pub plugin: Option<&'static PluginDef>,
    /// The registered type the task is checked against: its own, or the one a misspelled type
    /// was taken for (`io.kestra.plugin.http.Request` → core's; the flow then has an error).
    pub checked_as: Option<&'static PluginDef>,
    pub run_if: Option<Node>,
    pub timeout: Option<Node>,
    pub retry: Option<Node>,
    pub disabled: bool,
    pub allow_failure: bool,
    pub allow_warning: bool,
    /// `logLevel`: log lines below it are not kept.
    pub log_level: Option<String>,
    /// Type-specific properties, pluginDefaults merged in, task lists excluded.
    pub properties: Vec<Property>,
    /// Nested task lists of a flowable task (`tasks`, `then`, `cases.<key>`, `errors`, ...).
    pub branches: Vec<Branch>,
    /// `dependsOn` of a task inside a `Dag`.
    pub depends_on: Vec<Spanned<String>>,
    /// A `Pause`'s `onResume`: the inputs a resume gives, declared as flow inputs are.
    pub on_resume: Vec<Input>,
    /// The whole task mapping.
    pub span: Span,
}

impl Task {
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Task)) {
        visit(self);
        for branch in &self.branches {
            for task in &branch.tasks {
                task.walk(visit);
            }
        }
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name.value == name)
    }

    pub fn is_flowable(&self) -> bool {
        self.plugin.is_some_and(|p| p.flowable) || !self.branches.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Property {
    pub name: Spanned<String>,
    pub value: Node,
}

/// One nested list of tasks and the property it came from.
#[derive(Debug, Clone)]
pub struct Branch {
    /// `tasks`, `errors`, `finally`, `then`, `else`, `defaults`, or `cases.<key>` for Switch.
    pub role: String,
    pub span: Span,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub id: Spanned<String>,
    pub type_name: Spanned<String>,
    pub plugin: Option<&'static PluginDef>,
    /// As for tasks: the registered type it is checked against (its own, or the one a
    /// misspelled type was taken for).
    pub checked_as: Option<&'static PluginDef>,
    pub disabled: bool,
    /// Added to the labels of the executions it starts.
    pub labels: Vec<Label>,
    pub properties: Vec<Property>,
    pub span: Span,
}

/// Input types are the runtime's (one definition); flows may also write the deprecated `BOOL`
/// and `ENUM`, read as `BOOLEAN` and `SELECT`.
pub use kflow_runtime::plan::InputType;

/// Every input type name a flow may write, with the type it means.
pub const INPUT_TYPE_NAMES: &[(&str, InputType)] = &[
    ("STRING", InputType::String),
    ("INT", InputType::Int),
    ("FLOAT", InputType::Float),
    ("BOOL", InputType::Bool),
    ("BOOLEAN", InputType::Bool),
    ("SELECT", InputType::Select),
    ("MULTISELECT", InputType::Multiselect),
    ("ENUM", InputType::Select),
    ("DATETIME", InputType::Datetime),
    ("DATE", InputType::Date),
    ("TIME", InputType::Time),
    ("DURATION", InputType::Duration),
    ("FILE", InputType::File),
    ("JSON", InputType::Json),
    ("YAML", InputType::Yaml),
    ("URI", InputType::Uri),
    ("SECRET", InputType::Secret),
    ("ARRAY", InputType::Array),
    ("EMAIL", InputType::Email),
];

/// The input type a flow's name stands for.
pub fn input_type(name: &str) -> Option<InputType> {
    INPUT_TYPE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

#[derive(Debug, Clone)]
pub struct Input {
    /// The id as written; dotted ids (`user.name`) nest under `inputs.user.name`.
    pub id: Spanned<String>,
    pub ty: Spanned<InputType>,
    pub required: bool,
    pub description: Option<String>,
    pub defaults: Option<Node>,
    /// `min`/`max` of INT and FLOAT inputs.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub validator: Option<Spanned<String>>,
    pub values: Option<Node>,
    /// SELECT/MULTISELECT: values outside `values` are accepted too.
    pub allow_custom_value: bool,
    pub item_type: Option<Spanned<InputType>>,
    /// Ids of the inputs this one depends on (`dependsOn.inputs`).
    pub depends_on: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FlowOutput {
    pub id: Spanned<String>,
    pub ty: Spanned<InputType>,
    pub value: Node,
    pub span: Span,
}
