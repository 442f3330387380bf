//! What an execution-summary notification says of the execution running the task (Slack's,
//! Teams', Discord's, the summary mail): namespace, flow, id, state, duration, first failed task.

use std::str::FromStr as _;

use serde_json::Value;

use crate::expr::value::to_display_string;
use crate::tasks::props::optional_text;
use crate::tasks::{TaskContext, TaskError};

/// What the summary says of the execution running the task.
pub(crate) struct Summary {
    pub(crate) namespace: String,
    pub(crate) flow_id: String,
    pub(crate) execution_id: String,
    pub(crate) state: String,
    pub(crate) duration: String,
    pub(crate) failed_task: Option<String>,
}

impl Summary {
    pub(crate) fn of(
        ctx: &TaskContext<'_>,
        execution_id: Option<&Value>,
    ) -> Result<Summary, TaskError> {
        let own = ctx.execution_id().to_string();
        if let Some(asked) = optional_text(execution_id) {
            if asked != own {
                return Err(format!(
                    "`executionId` {asked} is another execution: kflow summarizes the execution that runs the task (leave `executionId` unset, or use `{{{{ execution.id }}}}`)"
                )
                .into());
            }
        }
        let text = |template: &str| ctx.render(template).map(|v| to_display_string(&v));
        let state = text("{{ execution.state }}")?;
        let started = text("{{ execution.startDate }}")?;
        // A whole-template render may give the map as its JSON text.
        let tasks = match ctx.render("{{ tasks }}")? {
            Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            other => other,
        };
        let failed_task = tasks.as_object().and_then(|tasks| {
            tasks
                .iter()
                .find(|(_, t)| t.get("state").and_then(Value::as_str) == Some("FAILED"))
                .map(|(id, _)| id.clone())
        });
        // In an `errors` branch the execution is failing: say so, as Kestra's summary does.
        let state = if state == "RUNNING" && failed_task.is_some() {
            "FAILED".to_string()
        } else {
            state
        };
        let duration = jiff::Timestamp::from_str(&started)
            .ok()
            .map(|start| {
                let ms = (jiff::Timestamp::now().as_millisecond() - start.as_millisecond()).max(0);
                format!("{}.{:03}s", ms / 1000, ms % 1000)
            })
            .unwrap_or_default();
        Ok(Summary {
            namespace: ctx.namespace().to_string(),
            flow_id: ctx.flow_id().to_string(),
            execution_id: own,
            state,
            duration,
            failed_task,
        })
    }

    /// The summary's fields, then `customFields`'.
    pub(crate) fn fields(
        &self,
        custom: Option<&Value>,
    ) -> Result<Vec<(String, String)>, TaskError> {
        let mut fields: Vec<(String, String)> = vec![
            ("Namespace".into(), self.namespace.clone()),
            ("Flow ID".into(), self.flow_id.clone()),
            ("Execution ID".into(), self.execution_id.clone()),
            ("Execution Status".into(), self.state.clone()),
            ("Duration".into(), self.duration.clone()),
        ];
        if let Some(task) = &self.failed_task {
            fields.push(("Failed task".into(), task.clone()));
        }
        match custom {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    fields.push((name.clone(), to_display_string(value)));
                }
            }
            Some(other) => return Err(format!("`customFields` must be a map, got {other}").into()),
        }
        Ok(fields)
    }

    /// `[namespace] flow ➛ STATE`.
    pub(crate) fn title(&self) -> String {
        format!("[{}] {} ➛ {}", self.namespace, self.flow_id, self.state)
    }

    /// Green for success, orange for a warning, red otherwise.
    pub(crate) fn color(&self) -> &'static str {
        match self.state.as_str() {
            "SUCCESS" => "#2eb886",
            "WARNING" | "RUNNING" => "#daa038",
            _ => "#a30200",
        }
    }
}
