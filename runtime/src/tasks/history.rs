//! Tasks on the recorded history (see [`crate::history`]): `log.Fetch` copies an execution's
//! log lines into internal storage; `execution.PurgeExecutions` and `log.PurgeLogs` remove old
//! executions, logs and files, so an edge host's state stays small. A binary's state holds one
//! flow: `namespace`/`flowId` may only name it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{out, prop, PluginDef, PropType::*, ValueType, LOG_LEVELS, STATES};

/// `log.Fetch`: the log lines of this execution (or `executionId`) at `level` or above, of
/// `tasksId` when given, as an Ion file; `outputs.<id>.uri` and `.size` (the line count).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fetch {
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub flow_id: Option<Value>,
    #[serde(default)]
    pub execution_id: Option<Value>,
    #[serde(default)]
    pub tasks_id: Option<Value>,
    #[serde(default)]
    pub level: Option<Value>,
}

impl Fetch {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.log.Fetch",
        &["io.kestra.core.tasks.log.Fetch"],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("executionId", String),
            prop("tasksId", List(&String)),
            prop("level", Enum(LOG_LEVELS)),
        ],
        &[out("size", ValueType::Int), out("uri", ValueType::Uri)],
    );
}

#[derive(Debug, Serialize)]
pub struct FetchOutput {
    pub size: u64,
    pub uri: std::string::String,
}

/// `execution.PurgeExecutions`: ended executions started between `startDate` and `endDate`
/// (in `states`), with their logs and files.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeExecutions {
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub flow_id: Option<Value>,
    #[serde(default)]
    pub start_date: Option<Value>,
    pub end_date: Value,
    #[serde(default)]
    pub states: Option<Value>,
    #[serde(default)]
    pub purge_execution: Option<Value>,
    #[serde(default)]
    pub purge_log: Option<Value>,
    #[serde(default)]
    pub purge_metric: Option<Value>,
    #[serde(default)]
    pub purge_storage: Option<Value>,
    #[serde(default)]
    pub batch_size: Option<Value>,
}

impl PurgeExecutions {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.execution.PurgeExecutions",
        &[
            "io.kestra.core.tasks.storages.Purge",
            "io.kestra.plugin.core.storage.Purge",
        ],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("startDate", String),
            prop("endDate", String).required(),
            prop("states", List(&Enum(STATES))),
            prop("purgeExecution", Bool),
            prop("purgeLog", Bool),
            // kflow records no metrics yet: nothing to purge.
            prop("purgeMetric", Bool),
            prop("purgeStorage", Bool),
            // One transaction per execution already: the batch size changes nothing.
            prop("batchSize", Int),
        ],
        &[
            out("executionsCount", ValueType::Int),
            out("logsCount", ValueType::Int),
            out("storagesCount", ValueType::Int),
            out("metricsCount", ValueType::Int),
        ],
    );
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeExecutionsOutput {
    pub executions_count: u64,
    pub logs_count: u64,
    pub storages_count: u64,
    pub metrics_count: u64,
}

/// `log.PurgeLogs`: log lines written between `startDate` and `endDate` (of `executionId`, at
/// `logLevels`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurgeLogs {
    #[serde(default)]
    pub namespace: Option<Value>,
    #[serde(default)]
    pub flow_id: Option<Value>,
    #[serde(default)]
    pub execution_id: Option<Value>,
    #[serde(default)]
    pub log_levels: Option<Value>,
    #[serde(default)]
    pub start_date: Option<Value>,
    pub end_date: Value,
}

impl PurgeLogs {
    pub const DEFINITION: PluginDef = PluginDef::runnable_task(
        "io.kestra.plugin.core.log.PurgeLogs",
        &[],
        &[
            prop("namespace", String),
            prop("flowId", String),
            prop("executionId", String),
            prop("logLevels", List(&Enum(LOG_LEVELS))),
            prop("startDate", String),
            prop("endDate", String).required(),
        ],
        &[out("count", ValueType::Int)],
    );
}

#[derive(Debug, Serialize)]
pub struct CountOutput {
    pub count: u64,
}

#[cfg(feature = "executor")]
mod run {
    use std::fmt::Write as _;

    use serde_json::Value;

    use super::{
        CountOutput, Fetch, FetchOutput, PurgeExecutions, PurgeExecutionsOutput, PurgeLogs,
    };
    use crate::execution::State;
    use crate::formats::iso_instant;
    use crate::history::{ExecutionPurge, History, LogPurge};
    use crate::plan::Level;
    use crate::tasks::props::{flag, list, optional_text as text};
    use crate::tasks::{Task, TaskContext, TaskError};

    fn level(text: &str) -> Result<Level, TaskError> {
        Level::parse(text).ok_or_else(|| format!("unknown log level `{text}`").into())
    }

    /// A date as Kestra's tasks take them (ISO-8601 with an offset), in epoch milliseconds.
    fn millis(value: Option<&Value>, name: &str) -> Result<Option<u64>, TaskError> {
        let Some(text) = text(value) else {
            return Ok(None);
        };
        let instant = crate::formats::parse_instant(&text)
            .ok()
            .and_then(|normal| normal.parse::<jiff::Timestamp>().ok())
            .ok_or_else(|| {
                TaskError::from(format!(
                    "`{name}`: `{text}` is not a date-time such as 2024-01-31T13:45:00Z"
                ))
            })?;
        Ok(Some(u64::try_from(instant.as_millisecond()).unwrap_or(0)))
    }

    /// `namespace`/`flowId`, when given, must be this flow: its binary's state holds no other.
    fn this_flow(
        ctx: &TaskContext<'_>,
        namespace: Option<&Value>,
        flow_id: Option<&Value>,
    ) -> Result<(), TaskError> {
        let ns = text(namespace);
        let flow = text(flow_id);
        if ns.as_deref().is_some_and(|n| n != ctx.namespace())
            || flow.as_deref().is_some_and(|f| f != ctx.flow_id())
        {
            return Err(format!(
                "this binary's state holds the flow {}.{} only; `namespace`/`flowId` name another",
                ctx.namespace(),
                ctx.flow_id()
            )
            .into());
        }
        Ok(())
    }

    fn history<'a>(ctx: &'a TaskContext<'_>) -> Result<&'a dyn History, TaskError> {
        ctx.history()
            .ok_or_else(|| TaskError::from("this execution has no recorded history (no state)"))
    }

    impl Task for Fetch {
        type Output = FetchOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<FetchOutput, TaskError> {
            this_flow(ctx, self.namespace.as_ref(), self.flow_id.as_ref())?;
            let execution =
                text(self.execution_id.as_ref()).unwrap_or_else(|| ctx.execution_id().to_string());
            let min = match text(self.level.as_ref()) {
                Some(l) => level(&l)?,
                None => Level::Info,
            };
            let lines = history(ctx)?.fetch_logs(
                &execution,
                min,
                &list(self.tasks_id.as_ref(), "tasksId")?,
            )?;
            // One Ion struct per line, as Kestra writes fetched logs.
            let mut ion = String::new();
            for line in &lines {
                let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
                let _ = writeln!(
                    ion,
                    "{{namespace:{},flowId:{},executionId:{},taskId:{},taskRunId:{},level:{},message:{},timestamp:{}}}",
                    quoted(ctx.namespace()),
                    quoted(ctx.flow_id()),
                    quoted(&execution),
                    line.task_id.as_deref().map_or_else(|| "null".into(), quoted),
                    line.task_run_id.as_deref().map_or_else(|| "null".into(), quoted),
                    quoted(&line.level),
                    quoted(&line.message),
                    iso_instant(line.at_ms),
                );
            }
            let uri = ctx.put_file(&format!("{}.ion", ctx.task_id()), &mut ion.as_bytes())?;
            Ok(FetchOutput {
                size: lines.len() as u64,
                uri,
            })
        }
    }

    impl Task for PurgeExecutions {
        type Output = PurgeExecutionsOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<PurgeExecutionsOutput, TaskError> {
            this_flow(ctx, self.namespace.as_ref(), self.flow_id.as_ref())?;
            let end_ms = millis(Some(&self.end_date), "endDate")?
                .ok_or_else(|| TaskError::from("`endDate` is required"))?;
            let states = list(self.states.as_ref(), "states")?
                .iter()
                .map(|s| {
                    State::parse(s).ok_or_else(|| TaskError::from(format!("unknown state `{s}`")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let purged = history(ctx)?.purge_executions(&ExecutionPurge {
                start_ms: millis(self.start_date.as_ref(), "startDate")?,
                end_ms,
                states,
                keep: ctx.execution_id(),
                executions: flag(self.purge_execution.as_ref(), "purgeExecution", true)?,
                logs: flag(self.purge_log.as_ref(), "purgeLog", true)?,
                storage: flag(self.purge_storage.as_ref(), "purgeStorage", true)?,
            })?;
            Ok(PurgeExecutionsOutput {
                executions_count: purged.executions,
                logs_count: purged.logs,
                storages_count: purged.files,
                metrics_count: 0,
            })
        }
    }

    impl Task for PurgeLogs {
        type Output = CountOutput;
        async fn run(&self, ctx: &mut TaskContext<'_>) -> Result<CountOutput, TaskError> {
            this_flow(ctx, self.namespace.as_ref(), self.flow_id.as_ref())?;
            let end_ms = millis(Some(&self.end_date), "endDate")?
                .ok_or_else(|| TaskError::from("`endDate` is required"))?;
            let levels = list(self.log_levels.as_ref(), "logLevels")?
                .iter()
                .map(|l| level(l))
                .collect::<Result<Vec<_>, _>>()?;
            let execution = text(self.execution_id.as_ref());
            let count = history(ctx)?.purge_logs(&LogPurge {
                start_ms: millis(self.start_date.as_ref(), "startDate")?,
                end_ms,
                execution_id: execution.as_deref(),
                levels,
            })?;
            Ok(CountOutput { count })
        }
    }
}
