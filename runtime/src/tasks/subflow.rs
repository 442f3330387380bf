//! `flow.Subflow`: an execution of another flow of the same binary, started by a task. With
//! `wait` (the default) the task ends when the child does and reads its flow outputs
//! (`outputs.<task>.outputs.<id>`); `transmitFailed` makes a failed or killed child fail the
//! task (a WARNING one warns it). Killing the parent kills the children it waits for.
//!
//! The child's `trigger` variable names the parent (`executionId`, `namespace`, `flowId`), as
//! Kestra's; it shares the parent's `system.correlationId` label. Its inputs are validated as
//! the child flow declares them before it starts: a wrong one fails the task, naming the input.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::definition::shapes::LABELS;
use crate::definition::{out, prop, PluginDef, PropType as P, ValueType};

/// `flow.Subflow` (Kestra's `ExecutableTask`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subflow {
    pub namespace: String,
    pub flow_id: String,
    #[serde(default)]
    pub revision: Option<Value>,
    #[serde(default)]
    pub inputs: Option<Map<String, Value>>,
    #[serde(default)]
    pub labels: Option<Value>,
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(default)]
    pub transmit_failed: bool,
    #[serde(default)]
    pub inherit_labels: bool,
    #[serde(default)]
    pub outputs: Option<Value>,
    #[serde(default)]
    pub schedule_date: Option<Value>,
    #[serde(default)]
    pub restart_behavior: Option<Value>,
}

fn yes() -> bool {
    true
}

impl Subflow {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.flow.Subflow",
        &[
            "io.kestra.core.tasks.flows.Subflow",
            "io.kestra.core.tasks.flows.Flow",
        ],
        &[
            prop("namespace", P::String).required(),
            prop("flowId", P::String).required(),
            // One revision of each flow is in a binary: the one it was built with.
            prop("revision", P::Int).not_run_yet(),
            prop("inputs", P::Map(&P::Any)),
            prop("labels", LABELS),
            prop("wait", P::Bool).not_dynamic(),
            prop("transmitFailed", P::Bool).not_dynamic(),
            prop("inheritLabels", P::Bool).not_dynamic(),
            // Rendered with the subflow's task outputs once it has ended.
            prop("outputs", P::Map(&P::Any))
                .deprecated("declare `outputs` in the subflow itself")
                .not_dynamic(),
            prop("scheduleDate", P::String).not_run_yet(),
            prop(
                "restartBehavior",
                P::Enum(&["NEW_EXECUTION", "RETRY_FAILED"]),
            )
            .not_dynamic()
            .not_run_yet(),
        ],
        &[
            out("executionId", ValueType::String),
            out("state", ValueType::String),
            out("outputs", ValueType::Map(&ValueType::Any)),
        ],
    );
}

/// What `outputs.<task>.*` holds.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubflowOutput {
    pub execution_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Value>,
}

#[cfg(feature = "executor")]
pub(crate) use run::{hosted_flow, start_child, Child};

#[cfg(feature = "executor")]
mod run {
    use std::sync::Arc;

    use serde_json::{Map, Value};

    use super::{Subflow, SubflowOutput};
    use crate::execution::{new_id, State, Summary};
    use crate::launch::LaunchRequest;
    use crate::plan::{Flow, Level};
    use crate::tasks::{Task, TaskContext, TaskError};

    /// Kills the child when dropped armed: the parent's task was cancelled (killed, timed out).
    struct KillOnDrop(Option<tokio::sync::watch::Sender<bool>>);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(kill) = self.0.take() {
                let _ = kill.send(true);
            }
        }
    }

    /// A subflow execution a task starts (`Subflow`, each batch of a `ForEachItem`).
    pub(crate) struct Child<'a> {
        pub flow: Arc<Flow>,
        /// As given: validated here against the flow's inputs.
        pub inputs: Option<Map<String, Value>>,
        /// The task's `labels` (a map or a list of `{key, value}`).
        pub labels: Option<&'a Value>,
        pub inherit_labels: bool,
        pub wait: bool,
    }

    /// Starts `child` for the running task: its id, and with `wait` its last summary once it
    /// has ended (`None` without). A wrong input fails the task naming it; a child waited for
    /// is killed when the task is.
    pub(crate) async fn start_child(
        ctx: &TaskContext<'_>,
        child: Child<'_>,
    ) -> Result<(String, Option<Summary>), TaskError> {
        let subflows = ctx.subflows()?;
        let name = format!("{}.{}", child.flow.namespace, child.flow.id);
        let inputs =
            crate::inputs::resolve(&child.flow, Vec::new(), child.inputs).map_err(|errors| {
                TaskError::from(format!(
                    "the inputs of subflow `{name}` are not valid: {}",
                    crate::inputs::describe(&errors)
                ))
            })?;
        let parent_labels = ctx.labels();
        let mut labels: Map<String, Value> = if child.inherit_labels {
            parent_labels
                .iter()
                .filter(|(k, _)| !k.starts_with("system."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            Map::new()
        };
        if let Some(own) = child.labels {
            labels.extend(crate::tasks::execution::labels(own.clone())?);
        }
        let correlation = parent_labels
            .get("system.correlationId")
            .cloned()
            .unwrap_or_else(|| Value::String(ctx.execution_id().to_string()));
        labels.insert("system.correlationId".into(), correlation);
        let id = new_id();
        let trigger = serde_json::json!({
            "executionId": ctx.execution_id(),
            "namespace": ctx.namespace(),
            "flowId": ctx.flow_id(),
        });
        let (kill, killed) = tokio::sync::watch::channel(false);
        let request = LaunchRequest {
            created: Some((id.clone(), inputs)),
            labels,
            trigger: Some(trigger),
            echo_logs: ctx.echo_logs(),
            // A child not waited for lives on its own.
            kill: child.wait.then_some(killed),
            ..LaunchRequest::default()
        };
        let ended = subflows.start(Arc::clone(&child.flow), request);
        ctx.log(
            Level::Info,
            &format!("started execution {id} of subflow `{name}`"),
        );
        if !child.wait {
            drop(ended);
            return Ok((id, None));
        }
        let mut guard = KillOnDrop(Some(kill));
        let summary = ended.await;
        guard.0 = None;
        let Some(summary) = summary else {
            return Err(format!("subflow execution {id} of `{name}` could not run").into());
        };
        ctx.log(
            Level::Info,
            &format!(
                "subflow execution {id} of `{name}` ended {}",
                summary.state.as_str()
            ),
        );
        Ok((id, Some(summary)))
    }

    /// The flow `namespace.flow_id` of this binary, or why a task cannot start it.
    pub(crate) fn hosted_flow(
        ctx: &TaskContext<'_>,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Arc<Flow>, TaskError> {
        ctx.subflows()?.flow(namespace, flow_id).ok_or_else(|| {
            TaskError::from(format!(
                "flow `{namespace}.{flow_id}` is not in this binary: build the flows together (`kflowc build parent.yml child.yml -o bundle`)"
            ))
        })
    }

    impl Task for Subflow {
        type Output = SubflowOutput;

        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<SubflowOutput, TaskError> {
            let flow = hosted_flow(ctx, &self.namespace, &self.flow_id)?;
            let name = format!("{}.{}", self.namespace, self.flow_id);
            let (id, summary) = start_child(
                ctx,
                Child {
                    flow,
                    inputs: self.inputs.clone(),
                    labels: self.labels.as_ref(),
                    inherit_labels: self.inherit_labels,
                    wait: self.wait,
                },
            )
            .await?;
            let Some(summary) = summary else {
                return Ok(SubflowOutput {
                    execution_id: id,
                    state: None,
                    outputs: None,
                });
            };
            let state = summary.state;
            let mut outputs = match summary.outputs.clone() {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            if let Some(Value::Object(extracted)) = &self.outputs {
                outputs.extend(extract(ctx, &summary, extracted)?);
            }
            if self.transmit_failed {
                match state {
                    State::Failed | State::Killed | State::Cancelled => {
                        return Err(format!(
                            "subflow execution {id} of `{name}` ended {} (transmitFailed)",
                            state.as_str()
                        )
                        .into());
                    }
                    State::Warning => ctx.warn(),
                    _ => {}
                }
            }
            Ok(SubflowOutput {
                execution_id: id,
                state: Some(state.as_str().to_string()),
                outputs: Some(Value::Object(outputs)),
            })
        }
    }

    /// The deprecated `outputs` property: each template rendered with the subflow's task
    /// outputs as `outputs` (as Kestra renders it in the subflow's execution).
    fn extract(
        ctx: &TaskContext<'_>,
        child: &Summary,
        templates: &Map<String, Value>,
    ) -> Result<Map<String, Value>, TaskError> {
        let task_outputs: Map<String, Value> = child
            .task_runs
            .iter()
            .filter(|run| run.value.is_none())
            .filter_map(|run| Some((run.task_id.clone(), run.outputs.clone()?)))
            .collect();
        let mut extra = Map::new();
        extra.insert("outputs".into(), Value::Object(task_outputs));
        let mut out = Map::new();
        for (name, template) in templates {
            let value = match template {
                Value::String(text) if crate::expr::is_template(text) => ctx
                    .render_with(text, &extra)
                    .map_err(|e| format!("outputs `{name}`: {e}"))?,
                other => other.clone(),
            };
            out.insert(name.clone(), value);
        }
        Ok(out)
    }
}
