//! `templating.TemplatedTask`: `spec` is rendered, read as the YAML of one runnable task, and that
//! task runs as this task run (its outputs are this task's). Flowable types, and
//! `TemplatedTask` itself, cannot be templated, as in Kestra.

use serde::Deserialize;
use serde_json::Value;

use crate::definition::{prop, PluginDef, PropType::*};

/// `templating.TemplatedTask`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplatedTask {
    pub spec: Value,
}

impl TemplatedTask {
    // The outputs are those of the task `spec` renders to: not declared, so not checked.
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.templating.TemplatedTask",
        &["io.kestra.core.tasks.templating.TemplatedTask"],
        &[prop("spec", String).required()],
        &[],
    );
}

#[cfg(feature = "executor")]
mod run {
    use serde_json::{Map, Value};

    use super::TemplatedTask;
    use crate::expr::value::to_display_string;
    use crate::tasks::{self, Task, TaskContext, TaskError};

    /// Keys every task has, which a templated task may carry but not use: the templated task
    /// runs as this task run, with this task's retry, timeout and conditions.
    const TASK_KEYS: &[&str] = &[
        "retry",
        "timeout",
        "runIf",
        "disabled",
        "allowFailure",
        "allowWarning",
        "logLevel",
        "logToFile",
        "workerGroup",
        "taskCache",
    ];

    /// Renders every template in a property value, as the task's own properties are.
    fn rendered(ctx: &TaskContext<'_>, value: Value) -> Result<Value, TaskError> {
        Ok(match value {
            Value::String(text) if text.contains("{{") || text.contains("{%") => {
                ctx.render(&text)?
            }
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| rendered(ctx, v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, rendered(ctx, v)?)))
                    .collect::<Result<_, TaskError>>()?,
            ),
            other => other,
        })
    }

    impl Task for TemplatedTask {
        type Output = Value;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<Value, TaskError> {
            let text = to_display_string(&self.spec);
            let spec = crate::expr::parse_yaml(&text)
                .map_err(|e| TaskError::from(format!("spec: not YAML: {e}")))?;
            let Value::Object(mut spec) = spec else {
                return Err("spec: must be one task (a mapping with `id` and `type`)".into());
            };
            let Some(Value::String(type_name)) = spec.remove("type") else {
                return Err("spec: the task has no `type`".into());
            };
            if TemplatedTask::DEFINITION.answers_to(&type_name) {
                return Err("spec: a TemplatedTask cannot template another one".into());
            }
            let Some(implementation) = tasks::implementation(&type_name) else {
                return Err(match tasks::definition(&type_name) {
                    Some(d) if d.flowable => format!(
                        "spec: `{type_name}` is flowable; a TemplatedTask runs one runnable task"
                    ),
                    _ => {
                        format!("spec: `{type_name}` is not a task type this kflow runtime can run")
                    }
                }
                .into());
            };
            spec.remove("id");
            spec.remove("description");
            if let Some(key) = TASK_KEYS.iter().find(|k| spec.contains_key(**k)) {
                return Err(format!(
                    "spec: `{key}` is set on the TemplatedTask itself, not in its spec"
                )
                .into());
            }
            let mut properties = Map::new();
            for (name, value) in spec {
                properties.insert(name, rendered(ctx, value)?);
            }
            Ok(implementation
                .run(Value::Object(properties), ctx)
                .await?
                .unwrap_or(Value::Null))
        }
    }
}
