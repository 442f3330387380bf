//! The template context the runtime gives every template: the fixed variables (`flow`,
//! `execution`, `task`, `taskrun`, `parent(s)`, `labels`, `envs`, `globals`, `kestra`,
//! `workerTaskrun`) and what each holds, published as data. The compiler's checker types
//! templates from this description and the executor builds the values from the same field
//! lists, so a name the checker accepts is present at run time, and the reverse.
//!
//! Inputs, `vars`, `outputs`, `tasks` and `trigger` depend on the flow; the checker derives
//! them from the flow's declarations and the registry's output definitions.

use crate::definition::{out, OutputDef, ValueType};

/// Where a context variable exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every template of the flow (tasks, flow outputs, triggers).
    Always,
    /// In a task's templates.
    Task,
    /// In a task inside a loop (or a Switch): `parent`, `parents`, `taskrun.value`.
    Loop,
    /// In a task inside a `WorkingDirectory`.
    WorkingDirectory,
}

/// One fixed context variable.
#[derive(Debug)]
pub struct ContextVar {
    pub name: &'static str,
    pub ty: ValueType,
    pub scope: Scope,
}

/// `flow.*`.
pub const FLOW: &[OutputDef] = &[
    out("id", ValueType::String),
    out("namespace", ValueType::String),
    out("tenantId", ValueType::String),
    out("revision", ValueType::Int),
];

/// `execution.*`; `state` is RUNNING while tasks run and the end state in `afterExecution`.
pub const EXECUTION: &[OutputDef] = &[
    out("id", ValueType::String),
    out("startDate", ValueType::String),
    out("originalId", ValueType::String),
    out("state", ValueType::String),
];

/// `kestra.*`: from the `KESTRA_URL` and `KESTRA_ENVIRONMENT` environment variables (null when
/// unset), as a Kestra server's configuration gives them.
pub const KESTRA: &[OutputDef] = &[
    out("environment", ValueType::String),
    out("url", ValueType::String),
];

/// `task.*`.
pub const TASK: &[OutputDef] = &[out("id", ValueType::String), out("type", ValueType::String)];

/// `taskrun.*` in every task; `value` and `iteration` exist only inside loops ([`TASKRUN_LOOP`]).
pub const TASKRUN: &[OutputDef] = &[
    out("id", ValueType::String),
    out("startDate", ValueType::String),
    out("attemptsCount", ValueType::Int),
    out("parentId", ValueType::String),
];

/// `taskrun.*` fields added inside loops.
pub const TASKRUN_LOOP: &[OutputDef] = &[
    out("value", ValueType::Any),
    out("iteration", ValueType::Int),
];

/// `workerTaskrun.*` inside a `WorkingDirectory`: its task run.
pub const WORKER_TASKRUN: &[OutputDef] = &[
    out("id", ValueType::String),
    out("taskId", ValueType::String),
    out("value", ValueType::Any),
];

/// The fixed variables, with where each exists.
pub static VARIABLES: &[ContextVar] = &[
    ContextVar {
        name: "flow",
        ty: ValueType::Object(FLOW),
        scope: Scope::Always,
    },
    ContextVar {
        name: "execution",
        ty: ValueType::Object(EXECUTION),
        scope: Scope::Always,
    },
    ContextVar {
        name: "labels",
        ty: ValueType::Map(&ValueType::Any),
        scope: Scope::Always,
    },
    ContextVar {
        name: "envs",
        ty: ValueType::Map(&ValueType::String),
        scope: Scope::Always,
    },
    ContextVar {
        name: "globals",
        ty: ValueType::Map(&ValueType::Any),
        scope: Scope::Always,
    },
    ContextVar {
        name: "kestra",
        ty: ValueType::Object(KESTRA),
        scope: Scope::Always,
    },
    ContextVar {
        name: "task",
        ty: ValueType::Object(TASK),
        scope: Scope::Task,
    },
    ContextVar {
        name: "taskrun",
        ty: ValueType::Object(TASKRUN),
        scope: Scope::Task,
    },
    ContextVar {
        name: "parent",
        ty: ValueType::Any,
        scope: Scope::Loop,
    },
    ContextVar {
        name: "parents",
        ty: ValueType::List(&ValueType::Any),
        scope: Scope::Loop,
    },
    ContextVar {
        name: "workerTaskrun",
        ty: ValueType::Object(WORKER_TASKRUN),
        scope: Scope::WorkingDirectory,
    },
    // The folder the `WorkingDirectory`'s tasks share (created for it, removed after it).
    ContextVar {
        name: "workingDir",
        ty: ValueType::String,
        scope: Scope::WorkingDirectory,
    },
];

/// The fixed variable called `name`.
pub fn variable(name: &str) -> Option<&'static ContextVar> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// A context object with exactly the published `fields`, each valued by `value`.
pub fn object(
    fields: &[OutputDef],
    mut value: impl FnMut(&str) -> serde_json::Value,
) -> serde_json::Value {
    serde_json::Value::Object(
        fields
            .iter()
            .map(|f| (f.name.to_string(), value(f.name)))
            .collect(),
    )
}
