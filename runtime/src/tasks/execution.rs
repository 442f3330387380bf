//! `io.kestra.plugin.core.execution`: Fail, Assert, Exit, Labels — tasks that act on the
//! execution.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::definition::{prop, PluginDef, PropType::*};
use crate::expr::value::{describe, to_display_string};

/// `execution.Fail`: fails, when its `condition` (if any) holds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fail {
    #[serde(default)]
    pub condition: Option<Value>,
    #[serde(default)]
    pub error_message: Option<Value>,
}

impl Fail {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.Fail",
        &["io.kestra.core.tasks.executions.Fail"],
        &[prop("condition", String), prop("errorMessage", String)],
        &[],
    );
}

/// `execution.Assert`: fails when a rendered condition is false (as `runIf` reads truth),
/// logging each failed one and then `errorMessage`, as Kestra does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assert {
    pub conditions: Value,
    #[serde(default)]
    pub error_message: Option<Value>,
}

impl Assert {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.Assert",
        &[],
        &[
            prop("conditions", List(&String)).required(),
            prop("errorMessage", String),
        ],
        &[],
    );
}

/// `execution.Exit`: ends the execution in `state` (SUCCESS by default).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exit {
    #[serde(default)]
    pub state: Option<Value>,
}

/// `Exit.ExitState` (note `CANCELED` with one L, as Kestra spells it).
pub const EXIT_STATES: &[&str] = &["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED"];

impl Exit {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.Exit",
        &[],
        &[prop("state", Enum(EXIT_STATES))],
        &[],
    );
}

/// `execution.Labels`: adds labels to the execution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Labels {
    pub labels: Value,
}

impl Labels {
    /// `labels`: a map, a list of `{key, value}`, or a JSON string of either.
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.Labels",
        &["io.kestra.core.tasks.executions.Labels"],
        &[prop(
            "labels",
            OneOf(&[
                Map(&String),
                List(&Object(&[
                    prop("key", String).required(),
                    prop("value", String).required(),
                ])),
                String,
            ]),
        )
        .required()],
        &[],
    );
}

/// `execution.SetVariables`: adds (or, with `overwrite`, the default, replaces) execution
/// variables: later tasks read them as `vars.<name>`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetVariables {
    pub variables: Value,
    #[serde(default)]
    pub overwrite: Option<Value>,
}

impl SetVariables {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.SetVariables",
        &[],
        &[
            prop("variables", Map(&Any)).required(),
            prop("overwrite", Bool),
        ],
        &[],
    );
}

/// `execution.UnsetVariables`: removes execution variables (a missing one is an error unless
/// `ignoreMissing`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnsetVariables {
    pub variables: Value,
    #[serde(default)]
    pub ignore_missing: Option<Value>,
}

impl UnsetVariables {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.UnsetVariables",
        &[],
        &[
            prop("variables", List(&String)).required(),
            prop("ignoreMissing", Bool),
        ],
        &[],
    );
}

/// `execution.Labels.labels`: a map, a list of `{key, value}`, or JSON text of either.
pub fn labels(value: Value) -> Result<Map<std::string::String, Value>, std::string::String> {
    let value = match value {
        Value::String(text) => serde_json::from_str(&text).map_err(|_| {
            format!("labels must be a map or a list of {{key, value}}, not `{text}`")
        })?,
        other => other,
    };
    let mut out = Map::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k, Value::String(to_display_string(&v)));
            }
        }
        Value::Array(items) => {
            for item in items {
                let key = item.get("key").map(to_display_string);
                let value = item.get("value").map(to_display_string);
                match (key, value) {
                    (Some(k), Some(v)) => {
                        out.insert(k, Value::String(v));
                    }
                    _ => return Err("each label in a list needs `key` and `value`".into()),
                }
            }
        }
        other => {
            return Err(format!(
                "labels must be a map or a list, not {}",
                describe(&other)
            ))
        }
    }
    Ok(out)
}

#[cfg(feature = "executor")]
mod run {
    use super::{labels, Assert, Exit, Fail, Labels, SetVariables, UnsetVariables};
    use crate::execution::State;
    use crate::executor::is_truthy;
    use crate::expr::value::to_display_string;
    use crate::plan::Level;
    use crate::tasks::props::{flag, list};
    use crate::tasks::{Task, TaskContext, TaskError};
    use serde_json::Value;

    impl Task for Fail {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, _ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            if self.condition.as_ref().is_some_and(|c| !is_truthy(c)) {
                return Ok(());
            }
            Err(match &self.error_message {
                Some(message) => to_display_string(message).into(),
                None => "Task failure".into(),
            })
        }
    }

    impl Task for Assert {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let conditions = match &self.conditions {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                one => vec![one.clone()],
            };
            let mut failed = 0usize;
            for (i, condition) in conditions.iter().enumerate() {
                if !is_truthy(condition) {
                    failed += 1;
                    ctx.log(
                        Level::Error,
                        &format!(
                            "Assertion {} of {} failed (it rendered `{}`)",
                            i + 1,
                            conditions.len(),
                            to_display_string(condition)
                        ),
                    );
                }
            }
            if failed == 0 {
                return Ok(());
            }
            if let Some(message) = self.error_message.as_ref().filter(|m| !m.is_null()) {
                ctx.log(Level::Error, &to_display_string(message));
            }
            let plural = if failed > 1 { "s" } else { "" };
            Err(format!("{failed} assertion{plural} failed!").into())
        }
    }

    impl Task for Exit {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let text = self
                .state
                .as_ref()
                .map(to_display_string)
                .unwrap_or_default();
            let state = match text.as_str() {
                "" | "SUCCESS" => State::Success,
                "WARNING" => State::Warning,
                "KILLED" => State::Killed,
                "FAILED" => State::Failed,
                "CANCELED" | "CANCELLED" => State::Cancelled,
                other => {
                    return Err(format!(
                        "Exit `state` must be SUCCESS, WARNING, KILLED, FAILED or CANCELED, not {other}"
                    )
                    .into())
                }
            };
            ctx.exit(state);
            Ok(())
        }
    }

    impl Task for Labels {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            ctx.add_labels(labels(self.labels.clone())?);
            Ok(())
        }
    }

    impl Task for SetVariables {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let Value::Object(variables) = &self.variables else {
                return Err("`variables` must be a map of names to values".into());
            };
            ctx.set_variables(
                variables.clone(),
                flag(self.overwrite.as_ref(), "overwrite", true)?,
            )
        }
    }

    impl Task for UnsetVariables {
        type Output = ();
        const INSTANT: bool = true;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<(), TaskError> {
            let names = list(Some(&self.variables), "variables")?;
            ctx.unset_variables(
                &names,
                flag(self.ignore_missing.as_ref(), "ignoreMissing", false)?,
            )
        }
    }
}
