//! The plan a generated binary runs: the flow's tasks as typed data, every template parsed once
//! when the plan is built. `kflowc emit` writes Rust code that constructs exactly this.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::expr::{self, Template};

/// A property as written in the flow: literal JSON whose strings may be templates. Templates
/// are parsed when the plan is built and rendered when the task runs.
#[derive(Debug, Clone)]
pub enum Prop {
    Value(Value),
    Template(Box<(String, Template)>),
    List(Vec<Prop>),
    Map(Vec<(String, Prop)>),
}

impl Prop {
    /// A string: a template when it contains `{{`, `{%` or `{#`, else a literal.
    ///
    /// # Panics
    /// When the template does not parse: `kflowc` checked it, so generated code never does.
    pub fn text(source: &str) -> Prop {
        if source.contains("{{") || source.contains("{%") || source.contains("{#") {
            let template = expr::parse(source)
                .unwrap_or_else(|e| panic!("template checked by kflowc does not parse: {e}"));
            Prop::Template(Box::new((source.to_string(), template)))
        } else {
            Prop::Value(Value::String(source.to_string()))
        }
    }

    pub fn value(value: Value) -> Prop {
        Prop::Value(value)
    }

    /// A literal from its JSON text (generated code writes literals this way).
    pub fn json(text: &str) -> Prop {
        Prop::Value(json(text))
    }

    /// Whether rendering can change the value (it holds a template somewhere).
    pub fn is_dynamic(&self) -> bool {
        match self {
            Prop::Value(_) => false,
            Prop::Template(_) => true,
            Prop::List(items) => items.iter().any(Prop::is_dynamic),
            Prop::Map(entries) => entries.iter().any(|(_, p)| p.is_dynamic()),
        }
    }

    /// Render every template inside, as Kestra renders a property recursively.
    pub fn render(
        &self,
        vars: &Map<String, Value>,
        host: &dyn expr::Host,
    ) -> Result<Value, expr::EvalError> {
        Ok(match self {
            Prop::Value(value) => value.clone(),
            Prop::Template(template) => Value::String(expr::render(&template.1, vars, host)?),
            Prop::List(items) => Value::Array(
                items
                    .iter()
                    .map(|p| p.render(vars, host))
                    .collect::<Result<_, _>>()?,
            ),
            Prop::Map(entries) => {
                let mut map = Map::new();
                for (key, prop) in entries {
                    // Kestra renders keys too (`labels: {"{{ inputs.k }}": v}`).
                    let key = if key.contains("{{") || key.contains("{%") {
                        expr::render_str(key, vars, host)?
                    } else {
                        key.clone()
                    };
                    map.insert(key, prop.render(vars, host)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// A JSON value from its text.
///
/// # Panics
/// On invalid JSON: generated code only passes what `kflowc` serialized.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("kflowc wrote invalid JSON ({e}): {text}"))
}

/// A JSON object from its text (`variables`, `{}` when empty).
pub fn json_object(text: &str) -> Map<String, Value> {
    match json(text) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One flow, ready to run.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    /// SHA-256 of the flow's source text, for `info`.
    pub source_hash: String,
    pub description: Option<String>,
    pub inputs: Vec<Input>,
    /// `variables`, readable as `vars.*` (strings in it render only through `render()`).
    pub variables: Map<String, Value>,
    pub labels: Vec<(String, String)>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub after_execution: Vec<Task>,
    pub outputs: Vec<FlowOutput>,
    /// `concurrency.limit`: executions at once (0: no limit) and what a run over it does.
    pub concurrency: Option<Concurrency>,
    pub triggers: Vec<TriggerInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyBehavior {
    Queue,
    Cancel,
    Fail,
}

#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

/// A trigger, for `info` (triggers run with `serve`, [4/8]).
#[derive(Debug, Clone)]
pub struct TriggerInfo {
    pub id: String,
    pub type_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    String,
    Int,
    Float,
    Bool,
    Select,
    Multiselect,
    Datetime,
    Date,
    Time,
    Duration,
    File,
    Json,
    Yaml,
    Uri,
    Secret,
    Array,
    Email,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub id: String,
    pub ty: InputType,
    pub required: bool,
    pub description: Option<String>,
    pub defaults: Option<Value>,
    pub validator: Option<String>,
    /// SELECT/MULTISELECT choices.
    pub values: Vec<String>,
    /// ARRAY item type.
    pub item_type: Option<InputType>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct FlowOutput {
    pub id: String,
    pub ty: InputType,
    pub value: Prop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    Constant,
    Exponential,
    Random,
}

/// `retry`: how many attempts and how long between them.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub kind: RetryKind,
    pub interval: Duration,
    /// Exponential: the ceiling; Random: the upper bound (interval is the lower).
    pub max_interval: Option<Duration>,
    pub max_attempt: Option<u32>,
    pub max_duration: Option<Duration>,
    pub delay_factor: Option<f64>,
    /// Retry even when the task ended in WARNING.
    pub warning_on_retry: bool,
    /// `behavior: CREATE_NEW_EXECUTION`: retry the whole execution as a new one, not the task.
    pub new_execution: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub type_name: String,
    pub kind: TaskKind,
    pub run_if: Option<Prop>,
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub allow_failure: bool,
    pub allow_warning: bool,
    /// A flowable task's own `errors` and `finally`.
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
}

impl Task {
    pub fn new(id: &str, type_name: &str, kind: TaskKind) -> Task {
        Task {
            id: id.to_string(),
            type_name: type_name.to_string(),
            kind,
            run_if: None,
            timeout: None,
            retry: None,
            allow_failure: false,
            allow_warning: false,
            errors: Vec::new(),
            finally: Vec::new(),
        }
    }

    /// The child tasks (all branches), for walking the tree.
    pub fn children(&self) -> Vec<&Task> {
        let mut out: Vec<&Task> = Vec::new();
        match &self.kind {
            TaskKind::Sequential { tasks }
            | TaskKind::WorkingDirectory { tasks }
            | TaskKind::Parallel { tasks, .. }
            | TaskKind::ForEach { tasks, .. }
            | TaskKind::Pause { tasks, .. } => out.extend(tasks),
            TaskKind::If {
                then, otherwise, ..
            } => out.extend(then.iter().chain(otherwise)),
            TaskKind::Switch {
                cases, defaults, ..
            } => out.extend(cases.iter().flat_map(|(_, t)| t).chain(defaults)),
            _ => {}
        }
        out.extend(self.errors.iter().chain(&self.finally));
        out
    }
}

/// What a task does. Each core type Kestra ships in `io.kestra.plugin.core`, with its
/// properties typed; templates stay [`Prop`]s until run time.
#[derive(Debug, Clone)]
pub enum TaskKind {
    /// `log.Log`: one message or a list of them.
    Log {
        message: Prop,
        level: Level,
    },
    /// `debug.Return`: `outputs.<id>.value`.
    Return {
        format: Option<Prop>,
    },
    /// `output.OutputValues`: `outputs.<id>.values.*`.
    OutputValues {
        values: Prop,
    },
    Sequential {
        tasks: Vec<Task>,
    },
    WorkingDirectory {
        tasks: Vec<Task>,
    },
    /// `concurrent`: children at once (0: all).
    Parallel {
        tasks: Vec<Task>,
        concurrent: usize,
    },
    If {
        condition: Prop,
        then: Vec<Task>,
        otherwise: Vec<Task>,
    },
    Switch {
        value: Prop,
        cases: Vec<(String, Vec<Task>)>,
        defaults: Vec<Task>,
    },
    /// `ForEach` (and the deprecated EachSequential/EachParallel): the tasks run once per
    /// value, `concurrency_limit` values at once (0: all). `EachParallel` also runs the tasks of
    /// one value in parallel.
    ForEach {
        values: Prop,
        concurrency_limit: usize,
        parallel_tasks: bool,
        tasks: Vec<Task>,
    },
    /// `flow.Pause` with a `delay`: waits, then runs its (deprecated) `tasks`, if any.
    Pause {
        delay: Option<Prop>,
        tasks: Vec<Task>,
    },
    /// `flow.Sleep`.
    Sleep {
        duration: Prop,
    },
    /// `execution.Fail` / deprecated `flow.Fail`: fails, when its condition (if any) holds.
    Fail {
        condition: Option<Prop>,
        message: Option<Prop>,
    },
    /// `execution.Exit`: ends the execution in this state (SUCCESS, WARNING, KILLED, FAILED).
    Exit {
        state: Prop,
    },
    /// `execution.Labels`: adds labels to the execution.
    Labels {
        labels: Prop,
    },
    /// A type this runtime cannot run yet: fails with a clear message when reached.
    Unsupported,
}
